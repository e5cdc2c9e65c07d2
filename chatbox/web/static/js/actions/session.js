/*
 * Signing in and out, the socket's events, and catching up after a disconnect.
 *
 * Nothing missed: durable events carry `{seq}`; the client keeps the last one it applied
 * (localStorage, stream.js), resumes the socket with it (`auth: {since}`) after any disconnect or
 * reload, and refetches its lists only on `sync-reset`.
 */

import { createEventStream } from '../stream.js';
import { connectSocket } from '../socket.js';
import { describeError } from '../format.js';
import * as model from '../model.js';

const SESSION_ENDED = 'Your session has ended. Please log in again.';

export function sessionActions(app) {
  const { store, api } = app;
  const act = () => app.actions;

  /** Sign up or log in from the auth forms; resolves to an error sentence, or null when signed in. */
  async function signIn(path, fields) {
    try {
      const user = await api.post(path, fields);
      startSession(user);
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  async function startSession(user) {
    store.update((s) => {
      s.me = user;
      s.connection = 'connecting';
    });
    app.stream = createEventStream(window.localStorage, `chatbox.sync.${user._id}`);
    // With a position kept from before (a reload), the socket replays what happened since at once.
    // Without one, the lists come first and the socket resumes from their X-Sync-Position.
    const resuming = app.stream.position !== null;
    if (resuming) connect();
    try {
      await loadLists();
    } catch (error) {
      if (store.state.me) act().toast(describeError(error));
    }
    if (!resuming && store.state.me === user) connect();
  }

  async function loadLists() {
    const [blocked, pinned] = await Promise.all([api.get('/api/users/blocked'), api.get('/api/users/pinned')]);
    store.update((s) => {
      s.blocked = new Set(blocked.map((u) => u._id));
      s.pinned = new Set(pinned.map((u) => u._id));
      for (const u of [...blocked, ...pinned]) model.rememberUser(s, u);
    });
    const position = await act().loadChats({ reset: true });
    if (Number.isInteger(position) && app.stream) app.stream.start(position);
  }

  async function logOut() {
    if (app.stream) app.stream.forget();
    try {
      await api.post('/api/auth/logout');
    } catch (error) {
      // Already signed out on the server: carry on locally.
    }
    signedOut();
  }

  function signedOut(message) {
    if (app.socket) app.socket.close();
    app.socket = null;
    app.stream = null;
    const s = store.state;
    for (const timer of s.typing.values()) clearTimeout(timer);
    for (const typers of s.groupTyping.values()) for (const timer of typers.values()) clearTimeout(timer);
    act().forgetTypingTimer();
    store.reset({ connection: 'connecting' });
    if (message) act().toast(message);
  }

  /** A 401 from the API while signed in: the session ended elsewhere (logout, password change...). */
  function unauthorized() {
    if (store.state.me) signedOut(SESSION_ENDED);
  }

  /** After a sync-reset (too far behind to replay): reload the lists. */
  async function resync() {
    await act().loadChats({ reset: true });
    if (store.state.peerId) await act().loadNewestMessages();
  }

  function connect() {
    const stream = app.stream;
    const socket = connectSocket({
      io: window.io,
      handshake: () => stream.handshake(),
      onStatus: (status) => {
        store.update((s) => {
          s.connection = status;
        });
        if (status === 'online') act().joinOpenChat(); // what happened while away is replayed (auth.since)
      },
      onUnauthorized: () => signedOut(SESSION_ENDED),
      // Runs before each event's own handler: a durable event's seq is remembered as it is applied.
      onAny: (event, payload, meta) => stream.applied(meta),
    });
    app.socket = socket;
    const on = (event, handler) => socket.on(event, handler);
    const update = (fn) => store.update(fn);

    on('sync-reset', ({ position }) => {
      stream.reset(position);
      resync();
    });
    on('online-users', (ids) => update((s) => {
      s.online = new Set(ids);
    }));
    on('user-online', ({ userId }) => {
      act().blockMayHaveChanged(userId, false);
      update((s) => s.online.add(userId));
    });
    on('user-offline', ({ userId, lastSeen }) => {
      if (lastSeen === null) act().blockMayHaveChanged(userId, true); // presence hidden: a block started
      update((s) => {
        s.online.delete(userId);
        const user = s.users.get(userId);
        if (user && lastSeen) user.lastSeen = lastSeen;
      });
    });
    on('new-chat', (chat) => update((s) => model.upsertChat(s, chat)));
    on('new-message', (message) => act().messageArrived(message));
    on('message-status', ({ messageId, status, deliveredAt, readAt }) => {
      update((s) => model.raiseStatuses(s, [messageId], status, { deliveredAt, readAt }));
    });
    on('messages-read', ({ messageIds, readAt }) => update((s) => model.raiseStatuses(s, messageIds, 'read', { readAt })));
    on('message-updated', (message) => update((s) => model.applyMessageUpdate(s, message)));
    on('message-deleted', (event) => act().messageDeleted(event));
    on('message-reactions', ({ messageId, reactions }) => update((s) => model.applyReactions(s, messageId, reactions)));
    on('typing', (data) => act().peerTyping(data, true));
    on('stop-typing', (data) => act().peerTyping(data, false));
    on('chat-updated', (chat) => {
      update((s) => model.upsertChat(s, chat));
      if (chat._id === store.state.peerId) act().loadMembers();
    });
    // I left or was removed (the group stays, read-only), or the group was deleted: the list says which.
    on('chat-removed', ({ chatId }) => {
      update((s) => {
        const chat = s.chats.get(chatId);
        if (chat) chat.myRole = null;
      });
      act().loadChats({ reset: true }).then(() => {
        const s = store.state;
        if (s.peerId === chatId && !s.chats.has(chatId)) act().closeConversation();
      });
    });
    // Changes made on my other devices (or while this one was away).
    on('user-blocked', ({ userId }) => act().blockChanged(userId, true));
    on('user-unblocked', ({ userId }) => act().blockChanged(userId, false));
    on('chat-pinned', ({ chatId, userId }) => update((s) => (userId ? model.setPinned(s, userId, true) : model.setGroupPinned(s, chatId, true))));
    on('chat-unpinned', ({ chatId, userId }) => update((s) => (userId ? model.setPinned(s, userId, false) : model.setGroupPinned(s, chatId, false))));
    on('chat-cleared', ({ chatId }) => {
      update((s) => {
        const open = s.peerId && s.chats.get(s.peerId);
        if (open && open._id === chatId) model.clearLoadedMessages(s); // sends still in flight stay
      });
      act().loadChats({ reset: true });
    });
  }

  function setAuthMode(mode) {
    store.update((s) => {
      s.authMode = mode;
    });
  }

  return { signIn, setAuthMode, startSession, logOut, signedOut, unauthorized };
}
