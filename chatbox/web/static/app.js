/*
 * ChatBox web client: a reference client for the public contract in docs/reference/, as native ES
 * modules (no build step). docs/web-client.md maps the modules; in short:
 *
 *   store.js       the state and its one update path: store.update(fn) -> every view redraws
 *   model.js       the rules over the state (merge, statuses, unread counts, batches): pure
 *   format.js      text for people (times, sizes, typing lines, system messages): pure
 *   api.js         REST calls; socket.js the socket.io-client wrapper; stream.js the event position
 *   actions/*.js   what a click or an event does: a request, then store.update
 *   views/*.js     one per area of the page: wire its controls to actions, draw it from the state
 *
 * It uses nothing but the documented REST endpoints and Socket.IO events; text goes through the
 * socket's `new-message` (REST when the socket is down), images and files through the multipart
 * REST send, and nothing is missed across disconnects and reloads (stream.js).
 */

import { createApi } from './js/api.js';
import { createStore } from './js/store.js';
import { $, show } from './js/dom.js';
import { accountActions } from './js/actions/account.js';
import { chatActions } from './js/actions/chats.js';
import { messageActions } from './js/actions/messages.js';
import { sessionActions } from './js/actions/session.js';
import { authView } from './js/views/auth.js';
import { composerView } from './js/views/composer.js';
import { conversationView } from './js/views/conversation.js';
import { confirm, dialogsView } from './js/views/dialogs.js';
import { groupsView } from './js/views/groups.js';
import { messagesView } from './js/views/messages.js';
import { settingsView } from './js/views/settings.js';
import { sidebarView } from './js/views/sidebar.js';

async function boot() {
  if (typeof window.io !== 'function') {
    show($('#setup-notice'), true); // the vendored socket.io-client did not load
    return;
  }
  const store = createStore();
  const app = { store, socket: null, stream: null, ui: { confirm } };
  app.api = createApi({ origin: window.location.origin, onUnauthorized: () => app.actions.unauthorized() });
  app.actions = { ...sessionActions(app), ...chatActions(app), ...messageActions(app), ...accountActions(app) };

  const limits = await app.api.get('/api/limits');
  store.update((s) => {
    s.limits = limits;
  });
  for (const view of [authView, sidebarView, conversationView, messagesView, composerView, groupsView, settingsView, dialogsView]) {
    store.subscribe(view(app));
  }
  let user = null;
  try {
    user = await app.api.get('/api/auth/check'); // the `jwt` cookie from an earlier visit
  } catch (error) {
    // Signed out: the login form.
  }
  store.update((s) => {
    s.booted = true;
  });
  if (user) app.actions.startSession(user);
}

boot();
