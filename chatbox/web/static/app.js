/*
 * ChatBox web client: a reference client for the public contract in docs/reference/.
 *
 * It uses nothing but the documented REST endpoints and Socket.IO events:
 *   - The page is served by the API's own origin, so the httpOnly `jwt` cookie that signup and
 *     login set authenticates both fetch() and the socket; the token never touches JS storage.
 *     (A client on another origin would send `Authorization: Bearer <token>` and `auth: {token}`.)
 *   - Text goes through the socket's `new-message` (REST when the socket is down); images and
 *     files through the multipart REST send. Every send carries a `clientMessageId`, so a retry
 *     never makes a second copy.
 *   - Nothing missed: durable events carry `{seq}`; the client keeps the last one it applied
 *     (localStorage), resumes the socket with it (`auth: {since}`) after any disconnect or reload,
 *     and refetches its lists only on `sync-reset` (see createEventStream below).
 *   - Receipts: the client acks every incoming message with `message-delivered`, and while a
 *     conversation is open (and the tab visible) it has joined it with `join-chat`, which makes
 *     the server mark incoming messages `read`. The sender hears `message-status` / `messages-read`.
 *   - Message lifecycle: each bubble's menu replies, reacts, forwards, edits (also: arrow-up in an
 *     empty composer edits my last message) and deletes for me or for everyone; the events
 *     `message-updated`, `message-deleted` and `message-reactions` keep every open client in step.
 *
 * The code is plain DOM: small render functions that rebuild their part of the page from `state`.
 */
'use strict';

(() => {
  const PAGE_SIZE = 30; // messages per history page
  const TYPING_IDLE_MS = 2500; // send `stop-typing` after this long without a keystroke
  const TYPING_SHOW_MS = 6000; // hide a peer's indicator if their `stop-typing` never comes
  const NEAR_EDGE_PX = 80; // how close to the top (older history) or bottom (stick) counts
  const limits = {}; // this server's limits (GET /api/limits at boot), never copies of them
  const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);
  const STATUS_RANK = { sending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };
  const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
  const REPLY_PREVIEW_CHARS = 100; // what a reply's preview keeps of the quoted text

  const $ = (selector) => document.querySelector(selector);

  const state = {
    me: null, // current user (public user object)
    socket: null,
    stream: null, // the event stream position (createEventStream)
    everConnected: false,
    chats: new Map(), // other user's id -> chat list item
    chatsCursor: null, // X-Next-Cursor of the chat list
    loadingChats: false,
    users: new Map(), // id -> public user, from chats and contact searches
    online: new Set(), // ids of people I share a chat with who are online
    blocked: new Set(), // ids I blocked
    pinned: new Set(), // ids whose chat I pinned
    typing: new Map(), // user id -> timer that hides their indicator
    searchResults: null, // sidebar search: {query, chats, people} or null for the chat list
    peerId: null, // the open conversation's other user
    messages: [], // the open conversation, oldest first (pending sends included)
    nextCursor: null, // cursor of older history, null when the oldest page is loaded
    loadingOlder: false,
    earlyStatuses: new Map(), // message id -> status heard before the message itself (a race)
    stickToBottom: true,
    attachments: [], // files chosen in the composer
    typingSent: false,
    typingTimer: null,
    replyTo: null, // the message the composer answers
    editing: null, // the message of mine the composer edits
    menuFor: null, // id of the message whose menu is open
    members: new Map(), // the open group's members: user id -> {user, role}
    groupTyping: new Map(), // group chat id -> Map(user id -> timer that hides their indicator)
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  /** Children as DOM nodes: arrays are flattened; null, undefined, false and '' are left out. */
  function nodes(children) {
    return children
      .flat(Infinity)
      .filter((child) => child !== null && child !== undefined && child !== false && child !== '')
      .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
  }

  /** h('div', {class: 'x', onclick: fn, dataset: {id: 1}}, 'text', child) builds an element. */
  function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : value);
    }
    el.append(...nodes(children));
    return el;
  }

  /** Replace an element's content (same rules for children as h()). */
  function setChildren(el, ...children) {
    el.replaceChildren(...nodes(children));
  }

  // Line icons drawn as SVG (no icon font, no emoji font needed): name -> path data on a 24x24 grid.
  const ICONS = {
    photo: 'M4 5h16v14H4z M4 16l5-5 4 4 2-2 5 5 M15.5 9.5a1.5 1.5 0 1 0 0.01 0',
    file: 'M6 3h8l5 5v13H6z M14 3v5h5',
    pin: 'M9 3h6 M10 3v6l-3 4h10l-3-4V3 M12 13v8',
    clock: 'M12 3a9 9 0 1 0 0.01 0 M12 7v5l3 2',
  };

  function icon(name, label = '') {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', `icon-svg icon-${name}`);
    svg.setAttribute('aria-hidden', label ? 'false' : 'true');
    if (label) svg.setAttribute('aria-label', label);
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', ICONS[name]);
    svg.append(path);
    return svg;
  }

  function show(el, visible) {
    el.hidden = !visible;
  }

  let toastTimer = null;
  function toast(text) {
    const el = $('#toast');
    el.textContent = text;
    show(el, true);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => show(el, false), 4000);
  }

  function newClientMessageId() {
    return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function formatClock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function formatWhen(iso) {
    if (!iso) return '';
    const date = new Date(iso);
    return sameDay(date, new Date()) ? formatClock(iso) : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
  }

  function formatDay(date) {
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (sameDay(date, today)) return 'Today';
    if (sameDay(date, yesterday)) return 'Yesterday';
    return date.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric' });
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function initials(name) {
    return (name || '?').trim().split(/\s+/).slice(0, 2).map((part) => part[0].toUpperCase()).join('');
  }

  /** A round avatar: the profile picture, or initials on a colour picked from the id. */
  function fillAvatar(el, user) {
    el.replaceChildren();
    el.style.setProperty('--hue', [...(user._id || '')].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360);
    if (user.profilePic) {
      // Avatars are small: the picture's thumbnail (`<profilePic>/thumb`), or the picture itself for
      // pictures stored before thumbnails existed.
      const full = user.profilePic;
      el.append(h('img', { src: `${full}/thumb`, alt: '', onerror: (e) => { if (e.target.src.endsWith('/thumb')) e.target.src = full; } }));
    }
    else el.textContent = initials(user.fullName);
    return el;
  }

  function avatar(user, online) {
    const el = fillAvatar(h('span', { class: 'avatar' }), user);
    if (online) el.append(h('span', { class: 'dot', title: 'Online', 'aria-label': 'online' }));
    return el;
  }

  // ---------------------------------------------------------------------------------------------
  // REST

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `Request failed (${status})`);
      this.status = status;
      this.code = body && body.code;
      this.details = body && body.details;
    }
  }

  /** fetch() a JSON endpoint; resolves to {body, nextCursor} or throws ApiError. */
  async function request(method, path, { json, form, query } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
    }
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (form) {
      init.body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, { message: 'The server cannot be reached.', code: 'network_error' });
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new ApiError(response.status, body);
      if (response.status === 401 && state.me) signedOut('Your session has ended. Please log in again.');
      throw error;
    }
    const position = response.headers.get('X-Sync-Position');
    return { body, nextCursor: response.headers.get('X-Next-Cursor'), syncPosition: position === null ? null : Number(position) };
  }

  const api = {
    get: async (path, query) => (await request('GET', path, { query })).body,
    post: async (path, json = {}) => (await request('POST', path, { json })).body,
    page: (path, query) => request('GET', path, { query }), // {body: [...], nextCursor}
  };

  function describeError(error) {
    if (error.code === 'validation_error' && error.details && typeof error.details === 'object') {
      const fields = Object.entries(error.details).map(([field, messages]) => `${field}: ${[].concat(messages).join(' ')}`);
      if (fields.length) return fields.join(' · ');
    }
    return error.message;
  }

  // ---------------------------------------------------------------------------------------------
  // Sign up, log in, log out

  function showAuth(mode = 'login') {
    show($('#app-view'), false);
    show($('#auth-view'), true);
    const signup = mode === 'signup';
    $('#tab-login').setAttribute('aria-selected', String(!signup));
    $('#tab-signup').setAttribute('aria-selected', String(signup));
    show($('#login-form'), !signup);
    show($('#signup-form'), signup);
    (signup ? $('#signup-form') : $('#login-form')).querySelector('input').focus();
  }

  async function submitAuth(event, path) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button[type=submit]');
    const errorLine = form.querySelector('.form-error');
    errorLine.textContent = '';
    button.disabled = true;
    try {
      const user = await api.post(path, Object.fromEntries(new FormData(form)));
      form.reset();
      startSession(user);
    } catch (error) {
      errorLine.textContent = describeError(error);
    } finally {
      button.disabled = false;
    }
  }

  async function logOut() {
    if (state.stream) state.stream.forget();
    try {
      await api.post('/api/auth/logout');
    } catch (error) {
      // Already signed out on the server: carry on locally.
    }
    signedOut();
  }

  function signedOut(message) {
    if (state.socket) {
      state.socket.removeAllListeners();
      state.socket.disconnect();
    }
    for (const timer of state.typing.values()) clearTimeout(timer);
    clearTimeout(state.typingTimer);
    Object.assign(state, {
      me: null, socket: null, stream: null, everConnected: false, chats: new Map(), chatsCursor: null, users: new Map(),
      online: new Set(), blocked: new Set(), pinned: new Set(), typing: new Map(), searchResults: null,
      peerId: null, messages: [], nextCursor: null, attachments: [], typingSent: false, typingTimer: null,
      earlyStatuses: new Map(), replyTo: null, editing: null, menuFor: null,
    });
    $('#people-search').value = '';
    $('#sidebar-list').replaceChildren();
    closeConversationView();
    showAuth('login');
    if (message) toast(message);
  }

  async function startSession(user) {
    state.me = user;
    show($('#auth-view'), false);
    show($('#app-view'), true);
    fillAvatar($('#me-avatar'), user);
    $('#me-name').textContent = user.fullName;
    setConnection('connecting');
    state.stream = createEventStream(`chatbox.sync.${user._id}`);
    // With a position kept from before (a reload), the socket replays what happened since at once.
    // Without one, the lists come first and the socket resumes from their X-Sync-Position.
    const resuming = state.stream.position !== null;
    if (resuming) connectSocket();
    try {
      await loadLists();
    } catch (error) {
      if (state.me) toast(describeError(error));
    }
    if (!resuming && state.me === user) connectSocket();
  }

  async function loadLists() {
    const [blocked, pinned] = await Promise.all([api.get('/api/users/blocked'), api.get('/api/users/pinned')]);
    state.blocked = new Set(blocked.map((u) => u._id));
    state.pinned = new Set(pinned.map((u) => u._id));
    for (const u of [...blocked, ...pinned]) rememberUser(u);
    const position = await loadChats({ reset: true });
    if (Number.isInteger(position) && state.stream) state.stream.start(position);
  }

  // ---------------------------------------------------------------------------------------------
  // The event stream: a reference implementation to copy into your own client.
  //
  // The server numbers every durable event of a user (new-message, new-chat, message-status,
  // messages-read, user-blocked, chat-pinned, chat-cleared, ...) with `seq` = 1, 2, 3, ..., emits it
  // live as `(payload, {seq})` and sends each socket its events in seq order, exactly once; a send's
  // ack carries that message's seq instead of a live new-message. So a client needs to keep only the
  // last seq it applied:
  //   1. after loading lists, start from their X-Sync-Position header (read before the list);
  //   2. connect with auth {since: last}; the server replays every event after it, then goes live;
  //   3. for every durable event and every ack with a seq: apply it (idempotently, by _id), then
  //      remember the seq;
  //   4. on `sync-reset {position}` (too far behind): refetch the lists and continue from position.
  // socket.io-client calls the `auth` function again on every reconnection, so step 2 is automatic.

  function createEventStream(storageKey) {
    const stored = Number.parseInt(window.localStorage.getItem(storageKey) || '', 10);
    let last = Number.isInteger(stored) && stored >= 0 ? stored : null;
    const save = (seq) => {
      last = seq;
      window.localStorage.setItem(storageKey, String(seq));
    };
    return {
      get position() {
        return last;
      },
      /** The socket's handshake: resume after the last applied seq (live only when there is none yet). */
      handshake: () => (last === null ? {} : { since: last }),
      /** A durable event or an ack with `{seq}` was applied. */
      applied(meta) {
        if (meta && Number.isInteger(meta.seq) && (last === null || meta.seq > last)) save(meta.seq);
      },
      /** The position that came with freshly loaded lists, if no position is kept yet. */
      start(position) {
        if (last === null) save(position);
      },
      /** sync-reset: the lists must be refetched; continue from `position`. */
      reset(position) {
        save(position);
      },
      forget() {
        window.localStorage.removeItem(storageKey);
        last = null;
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Socket.IO

  function connectSocket() {
    // Same origin: the `jwt` cookie goes with the handshake. Elsewhere: io(url, {auth: {token}}).
    const stream = state.stream;
    const socket = window.io({ withCredentials: true, auth: (send) => send(stream.handshake()) });
    state.socket = socket;

    socket.on('connect', () => {
      setConnection('online');
      state.everConnected = true; // what happened while away is replayed (auth.since)
      joinOpenChat();
    });
    // Runs before each event's own handler: a durable event's seq is remembered as it is applied.
    socket.onAny((event, payload, meta) => stream.applied(meta));
    socket.on('sync-reset', ({ position }) => {
      stream.reset(position);
      resync();
    });
    socket.on('disconnect', () => setConnection('offline'));
    socket.on('connect_error', (error) => {
      if (error && error.message === 'Unauthorized') signedOut('Your session has ended. Please log in again.');
      else setConnection('offline');
    });

    socket.on('online-users', (ids) => {
      state.online = new Set(ids);
      renderSidebar();
      renderPeerHeader();
    });
    socket.on('user-online', ({ userId }) => {
      blockMayHaveChanged(userId, false);
      state.online.add(userId);
      renderSidebar();
      renderPeerHeader();
    });
    socket.on('user-offline', ({ userId, lastSeen }) => {
      if (lastSeen === null) blockMayHaveChanged(userId, true); // presence hidden: a block started
      state.online.delete(userId);
      const user = state.users.get(userId);
      if (user && lastSeen) user.lastSeen = lastSeen;
      renderSidebar();
      renderPeerHeader();
    });
    socket.on('new-chat', (chat) => {
      upsertChat(chat);
      renderSidebar();
      renderPeerHeader();
    });
    socket.on('new-message', onNewMessage);
    socket.on('message-status', ({ messageId, status, deliveredAt, readAt }) => {
      updateStatuses([messageId], status, { deliveredAt, readAt });
    });
    socket.on('messages-read', ({ messageIds, readAt }) => {
      updateStatuses(messageIds, 'read', { readAt });
    });
    socket.on('message-updated', applyMessageUpdate);
    socket.on('message-deleted', applyMessageDeleted);
    socket.on('message-reactions', ({ messageId, reactions }) => applyReactions(messageId, reactions));
    socket.on('typing', (data) => onTyping(data, true));
    socket.on('stop-typing', (data) => onTyping(data, false));
    socket.on('chat-updated', (chat) => {
      upsertChat(chat);
      if (chat._id === state.peerId) loadMembers();
      renderSidebar();
      renderPeerHeader();
    });
    // I left or was removed (the group stays, read-only), or the group was deleted: the list says which.
    socket.on('chat-removed', ({ chatId }) => {
      const chat = state.chats.get(chatId);
      if (chat) chat.myRole = null;
      loadChats({ reset: true }).then(() => {
        if (state.peerId === chatId && !state.chats.has(chatId)) closeConversationView();
        renderPeerHeader();
      });
      renderPeerHeader();
    });
    // Changes made on my other devices (or while this one was away).
    socket.on('user-blocked', ({ userId }) => setBlocked(userId, true));
    socket.on('user-unblocked', ({ userId }) => setBlocked(userId, false));
    socket.on('chat-pinned', ({ chatId, userId }) => (userId ? setPinned(userId, true) : setGroupPinned(chatId, true)));
    socket.on('chat-unpinned', ({ chatId, userId }) => (userId ? setPinned(userId, false) : setGroupPinned(chatId, false)));
    socket.on('chat-cleared', ({ chatId }) => {
      const open = state.peerId && state.chats.get(state.peerId);
      if (open && open._id === chatId) {
        state.messages = state.messages.filter((m) => !m._id); // keep sends still in flight
        state.nextCursor = null;
        renderMessages();
      }
      loadChats({ reset: true });
    });
  }

  function setBlocked(userId, blocked) {
    if (blocked) state.blocked.add(userId);
    else state.blocked.delete(userId);
    const chat = state.chats.get(userId);
    if (chat) chat.blockedByMe = blocked;
    if (blocked && userId === state.peerId) stopTyping();
    renderPeerHeader();
    renderSidebar();
  }

  function setGroupPinned(chatId, pinned) {
    const chat = state.chats.get(chatId);
    if (chat) chat.isPinned = pinned;
    renderPeerHeader();
    renderSidebar();
  }

  function setPinned(userId, pinned) {
    if (pinned) state.pinned.add(userId);
    else state.pinned.delete(userId);
    const chat = state.chats.get(userId);
    if (chat) chat.isPinned = pinned;
    renderPeerHeader();
    renderSidebar();
  }

  /** Emit a client event; resolves to the server's ack ({ok: true, ...} or {ok: false, message, code}). */
  function emit(event, payload) {
    const socket = state.socket;
    if (!socket || !socket.connected) {
      return Promise.resolve({ ok: false, message: 'Not connected.', code: 'not_connected' });
    }
    return socket
      .timeout(10000)
      .emitWithAck(event, payload)
      .catch(() => ({ ok: false, message: 'The server did not answer.', code: 'timeout' }));
  }

  function setConnection(status) {
    const el = $('#connection');
    el.dataset.status = status;
    el.textContent = { connecting: 'Connecting…', online: 'Connected', offline: 'Offline, reconnecting…' }[status];
  }

  /** After a sync-reset (too far behind to replay): reload the lists. */
  async function resync() {
    await loadChats({ reset: true });
    if (state.peerId) await loadNewestMessages();
  }

  // ---------------------------------------------------------------------------------------------
  // Chat list and people search (sidebar)

  /** Keep one object per user, refreshed by every list that mentions them (chats, contacts). */
  function rememberUser(user) {
    if (user.isOnline === true) state.online.add(user._id);
    else if (user.isOnline === false) state.online.delete(user._id);
    const known = state.users.get(user._id);
    state.users.set(user._id, known ? Object.assign(known, user) : user);
    return state.users.get(user._id);
  }

  // A chat's key in `state.chats`, and `state.peerId` of an open conversation: the other user's id for
  // a direct chat, the chat's own id for a group (ids never collide).
  function chatKey(chat) {
    return chat.kind === 'group' ? chat._id : chat.user._id;
  }

  function isGroup(key) {
    const chat = state.chats.get(key);
    return Boolean(chat && chat.kind === 'group');
  }

  /** How socket events name a conversation: `to` / `userId` for a direct chat, `chatId` for a group. */
  const target = (key) => (isGroup(key) ? { chatId: key } : { to: key });
  const chatRef = (key) => (isGroup(key) ? { chatId: key } : { userId: key });
  const historyPath = (key) => (isGroup(key) ? `/api/chats/${key}/messages` : `/api/messages/${key}`);
  const sendPath = (key) => (isGroup(key) ? `/api/chats/${key}/messages` : `/api/messages/send/${key}`);
  const searchPath = (key) => (isGroup(key) ? `/api/chats/${key}/search` : `/api/messages/search/${key}`);

  const chatTitle = (chat) => (chat.kind === 'group' ? chat.name : chat.user.fullName);

  function isPinnedChat(chat) {
    return chat.kind === 'group' ? Boolean(chat.isPinned) : state.pinned.has(chat.user._id);
  }

  function upsertChat(chat) {
    if (chat.kind === 'group') {
      const known = state.chats.get(chat._id);
      if (known && chat._id === state.peerId) chat.unreadCount = 0; // open: read on arrival
      state.chats.set(chat._id, known ? Object.assign(known, chat) : chat);
      return;
    }
    chat.user = rememberUser(chat.user);
    if (chat.isPinned) state.pinned.add(chat.user._id);
    if (chat.blockedByMe) state.blocked.add(chat.user._id);
    const known = state.chats.get(chat.user._id);
    if (known && chat.user._id === state.peerId) chat.unreadCount = 0; // open: read on arrival
    state.chats.set(chat.user._id, known ? Object.assign(known, chat) : chat);
  }

  async function loadChats({ reset = false } = {}) {
    if (state.loadingChats || (!reset && !state.chatsCursor)) return null;
    state.loadingChats = true;
    try {
      const { body, nextCursor, syncPosition } = await api.page('/api/messages/chats', {
        limit: 50,
        cursor: reset ? null : state.chatsCursor,
      });
      if (reset) state.chats = new Map();
      body.forEach(upsertChat);
      state.chatsCursor = nextCursor;
      renderSidebar();
      renderPeerHeader();
      return syncPosition;
    } finally {
      state.loadingChats = false;
    }
  }

  function sortedChats() {
    return [...state.chats.values()].sort((a, b) => {
      const pinned = Number(isPinnedChat(b)) - Number(isPinnedChat(a));
      return pinned || String(b.lastMessageAt || '').localeCompare(String(a.lastMessageAt || ''));
    });
  }

  /** What a chat row says about its last message: the text, or what was attached. */
  function preview(message) {
    if (!message) return '';
    if (message.deletedAt) return 'This message was deleted';
    if (message.system) return systemText(message);
    if (message.text) return message.text;
    const first = (message.attachments || [])[0];
    if (!first) return '';
    return first.kind === 'image' ? [icon('photo'), 'Photo'] : [icon('file'), first.name];
  }

  function chatRow(chat) {
    if (chat.kind === 'group') return groupRow(chat);
    const user = chat.user;
    const last = chat.lastMessage;
    const mine = last && last.senderId === state.me._id;
    const typing = state.typing.has(user._id);
    const unread = user._id === state.peerId ? 0 : chat.unreadCount;
    return h(
      'button',
      {
        type: 'button',
        class: `chat-item${user._id === state.peerId ? ' active' : ''}`,
        dataset: { userId: user._id },
        onclick: () => openConversation(user),
      },
      avatar(user, isOnline(user._id)),
      h(
        'span',
        { class: 'chat-main' },
        h(
          'span',
          { class: 'chat-line' },
          h('span', { class: 'chat-name' }, user.fullName),
          state.pinned.has(user._id) && h('span', { class: 'pin', title: 'Pinned' }, icon('pin', 'pinned')),
          h('span', { class: 'chat-time' }, formatWhen(chat.lastMessageAt)),
        ),
        h(
          'span',
          { class: 'chat-line' },
          typing
            ? h('span', { class: 'chat-preview typing-text' }, 'typing…')
            : h(
                'span',
                { class: 'chat-preview' },
                mine && ticks(last.status),
                mine && 'You: ',
                state.blocked.has(user._id) ? 'Blocked' : preview(last),
              ),
          unread > 0 && h('span', { class: 'badge', 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : unread),
        ),
      ),
    );
  }

  function groupRow(chat) {
    const last = chat.lastMessage;
    const mine = last && last.senderId === state.me._id && !last.system;
    const typers = [...(state.groupTyping.get(chat._id) || new Map()).keys()];
    const unread = chat._id === state.peerId ? 0 : chat.unreadCount;
    const who = last && !last.system && !mine ? `${memberName(last.senderId)}: ` : '';
    return h(
      'button',
      {
        type: 'button',
        class: `chat-item group${chat._id === state.peerId ? ' active' : ''}`,
        dataset: { chatId: chat._id },
        onclick: () => openChat(chat._id),
      },
      groupAvatar(chat),
      h(
        'span',
        { class: 'chat-main' },
        h(
          'span',
          { class: 'chat-line' },
          h('span', { class: 'chat-name' }, chat.name),
          chat.isPinned && h('span', { class: 'pin', title: 'Pinned' }, icon('pin', 'pinned')),
          chat.isMuted && h('span', { class: 'muted-mark', title: 'Muted' }, '🔕'),
          h('span', { class: 'chat-time' }, formatWhen(chat.lastMessageAt)),
        ),
        h(
          'span',
          { class: 'chat-line' },
          typers.length
            ? h('span', { class: 'chat-preview typing-text' }, typingText(typers))
            : h('span', { class: 'chat-preview' }, mine && ticks(last.status), mine && 'You: ', who, preview(last)),
          unread > 0 && h('span', { class: 'badge', 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : unread),
        ),
      ),
    );
  }

  function groupAvatar(chat) {
    const el = h('span', { class: 'avatar group-avatar' });
    fillAvatar(el, { fullName: chat.name || '#', profilePic: chat.avatar || '' });
    return el;
  }

  function personRow(user) {
    return h(
      'button',
      { type: 'button', class: 'chat-item person', dataset: { userId: user._id }, onclick: () => openConversation(user) },
      avatar(user, isOnline(user._id)),
      h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, user.fullName), h('span', { class: 'chat-preview' }, user.email)),
    );
  }

  function renderSidebar() {
    const list = $('#sidebar-list');
    updateTitle();
    if (!state.me) return;
    const results = state.searchResults;
    if (results) {
      const withChat = new Set(results.chats.filter((c) => c.kind !== 'group').map((c) => c.user._id));
      const people = results.people.filter((u) => !withChat.has(u._id));
      setChildren(list,
        results.chats.length > 0 && h('h2', { class: 'list-title' }, 'Chats'),
        results.chats.map((c) => chatRow(state.chats.get(chatKey(c)) || c)),
        people.length > 0 && h('h2', { class: 'list-title' }, 'People'),
        people.map(personRow),
        results.chats.length + people.length === 0 && h('p', { class: 'list-empty' }, `Nobody matches “${results.query}”.`),
      );
      return;
    }
    const chats = sortedChats();
    setChildren(list,
      ...chats.map(chatRow),
      chats.length === 0 && h('p', { class: 'list-empty' }, 'No chats yet. Search for someone above to start one.'),
    );
  }

  let searchSeq = 0;
  async function searchPeople(query) {
    const seq = ++searchSeq;
    if (!query) {
      state.searchResults = null;
      renderSidebar();
      return;
    }
    try {
      const [chats, people] = await Promise.all([
        api.get('/api/messages/chats', { q: query, limit: 20 }),
        api.get('/api/messages/contacts', { q: query, limit: 20 }),
      ]);
      if (seq !== searchSeq) return; // a newer query is on its way
      chats.forEach(upsertChat);
      people.forEach(rememberUser);
      state.searchResults = { query, chats, people };
      renderSidebar();
    } catch (error) {
      if (error.status !== 401) toast(describeError(error));
    }
  }

  function isOnline(userId) {
    return state.online.has(userId) && !state.blocked.has(userId);
  }

  // ---------------------------------------------------------------------------------------------
  // Conversation: open, history, presence header

  async function openConversation(user) {
    user = rememberUser(user);
    await openChat(user._id);
  }

  /** Open a conversation by its key (the other user's id, or a group's chat id). */
  async function openChat(key) {
    leavePeopleSearch(); // the sidebar goes back to the chat list (pins, unread counts)
    if (state.peerId === key) {
      showConversationView();
      return;
    }
    if (state.peerId) {
      emit('leave-chat', chatRef(state.peerId));
      stopTyping();
    }
    state.peerId = key;
    state.members = new Map();
    if (isGroup(key)) loadMembers();
    state.messages = [];
    state.earlyStatuses.clear();
    state.nextCursor = null;
    state.stickToBottom = true;
    state.attachments = [];
    state.replyTo = null;
    state.editing = null;
    state.menuFor = null;
    renderComposerContext();
    $('#message-input').value = '';
    closeSearch();
    renderAttachments();
    renderPeerHeader();
    renderMessages();
    renderSidebar();
    showConversationView();
    joinOpenChat();
    await loadNewestMessages();
    $('#message-input').focus();
  }

  function showConversationView() {
    show($('#conversation-empty'), false);
    show($('#conversation-main'), true);
    $('#app-view').classList.add('show-conversation');
  }

  function closeConversationView() {
    if (state.peerId) emit('leave-chat', chatRef(state.peerId));
    stopTyping();
    state.peerId = null;
    state.messages = [];
    show($('#conversation-main'), false);
    show($('#conversation-empty'), true);
    $('#app-view').classList.remove('show-conversation');
    renderSidebar();
  }

  /** Tell the server I am looking at the open chat: its unread messages (and new ones) become read. */
  async function joinOpenChat() {
    const peerId = state.peerId;
    if (!peerId || document.visibilityState === 'hidden') return;
    if (isGroup(peerId) && !state.chats.get(peerId).myRole) return; // a former member only reads
    const ack = await emit('join-chat', chatRef(peerId));
    const chat = state.chats.get(peerId);
    if (ack.ok && chat && state.peerId === peerId) {
      chat.unreadCount = 0;
      renderSidebar();
    }
  }

  async function loadNewestMessages() {
    const peerId = state.peerId;
    try {
      const { body, nextCursor } = await api.page(historyPath(peerId), { limit: PAGE_SIZE });
      if (state.peerId !== peerId) return;
      state.messages = state.messages.filter((m) => !m._id); // keep sends still in flight
      mergeMessages(body);
      state.nextCursor = nextCursor;
      state.stickToBottom = true;
      renderMessages();
      fillViewport();
    } catch (error) {
      if (error.status !== 401) toast(describeError(error));
    }
  }

  /** Older history when the user scrolls near the top; the view stays where it was. */
  async function loadOlderMessages() {
    const peerId = state.peerId;
    if (!peerId || !state.nextCursor || state.loadingOlder) return false;
    state.loadingOlder = true;
    const box = $('#messages');
    const marker = box.querySelector('.history-start');
    if (marker) marker.textContent = 'Loading…';
    try {
      const { body, nextCursor } = await api.page(historyPath(peerId), { limit: PAGE_SIZE, cursor: state.nextCursor });
      if (state.peerId !== peerId) return false;
      const fromBottom = box.scrollHeight - box.scrollTop;
      mergeMessages(body);
      state.nextCursor = nextCursor;
      renderMessages({ keepScroll: false });
      box.scrollTop = box.scrollHeight - fromBottom;
      return true;
    } catch (error) {
      if (error.status !== 401) toast(describeError(error));
      return false;
    } finally {
      state.loadingOlder = false;
    }
  }

  /** A short first page leaves nothing to scroll: fetch older pages until the box can scroll. */
  async function fillViewport() {
    const box = $('#messages');
    while (state.nextCursor && box.scrollHeight <= box.clientHeight) {
      if (!(await loadOlderMessages())) break;
    }
  }

  function renderPeerHeader() {
    if (isGroup(state.peerId)) {
      renderGroupHeader();
      return;
    }
    const user = state.users.get(state.peerId);
    if (!user) return;
    const chat = state.chats.get(user._id);
    show($('#toggle-block'), true);
    show($('#show-members'), false);
    show($('#toggle-mute'), Boolean(chat));
    $('#toggle-mute').textContent = chat && chat.isMuted ? 'Unmute' : 'Mute';
    const blockedByMe = state.blocked.has(user._id);
    const blockedByOther = Boolean(chat && chat.blockedByOtherUser);
    fillAvatar($('#peer-avatar'), user);
    $('#peer-avatar').classList.toggle('online', isOnline(user._id));
    $('#peer-name').textContent = user.fullName;
    const status = $('#peer-status');
    if (blockedByMe) status.textContent = 'Blocked';
    else if (state.typing.has(user._id)) status.textContent = 'typing…';
    else if (isOnline(user._id)) status.textContent = 'online';
    else status.textContent = user.lastSeen ? `last seen ${formatWhen(user.lastSeen)}` : '';
    status.dataset.online = String(isOnline(user._id));

    $('#toggle-pin').textContent = state.pinned.has(user._id) ? 'Unpin' : 'Pin';
    $('#toggle-block').textContent = blockedByMe ? 'Unblock' : 'Block';
    const typingLine = $('#typing');
    typingLine.textContent = `${user.fullName} is typing…`;
    show(typingLine, state.typing.has(user._id) && !blockedByMe);

    const notice = $('#composer-blocked');
    notice.textContent = blockedByMe
      ? `You blocked ${user.fullName}. Unblock to send messages.`
      : blockedByOther
        ? "You can't send messages to this chat." // neutral: who blocked whom is not shown
        : '';
    show(notice, blockedByMe || blockedByOther);
    // No event says when the other side unblocks me, so the composer stays usable: a send answers.
    show($('#composer'), !blockedByMe);
  }

  // ---------------------------------------------------------------------------------------------
  // Messages: merge, render, receipts

  function messagePeer(message) {
    if (message.receiverId === null) return message.chatId; // a group message
    return message.senderId === state.me._id ? message.receiverId : message.senderId;
  }

  /** Add or update messages of the open conversation, matching pending sends by clientMessageId. */
  function mergeMessages(list) {
    for (let message of list) {
      const early = state.earlyStatuses.get(message._id);
      if (early) {
        state.earlyStatuses.delete(message._id);
        if (STATUS_RANK[early] > STATUS_RANK[message.status]) message = { ...message, status: early };
      }
      const index = state.messages.findIndex(
        (m) => (m._id && m._id === message._id) || (!m._id && m.clientMessageId && m.clientMessageId === message.clientMessageId),
      );
      if (index === -1) {
        state.messages.push(message);
      } else {
        const known = state.messages[index];
        // Statuses only move forward, whatever order the events and responses come in.
        const status = STATUS_RANK[known.status] > STATUS_RANK[message.status] ? known.status : message.status;
        state.messages[index] = { ...message, status };
      }
    }
    // Sent messages in id order (ids grow with time); sends still in flight last.
    state.messages.sort((a, b) => {
      if (!a._id || !b._id) return Number(!a._id) - Number(!b._id);
      return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
    });
  }

  function ticks(status) {
    const marks = { sending: icon('clock'), failed: '!', sent: '✓', delivered: '✓✓', read: '✓✓' };
    const labels = { sending: 'Sending', failed: 'Not sent', sent: 'Sent', delivered: 'Delivered', read: 'Read' };
    return h('span', { class: 'ticks', dataset: { status }, title: labels[status], 'aria-label': labels[status] }, marks[status]);
  }

  function attachmentView(attachment, onload) {
    if (attachment.kind === 'image') {
      // The bubble shows the thumbnail (at most 320 px; older images have none: the image itself);
      // <img> sends the `jwt` cookie, which /api/files/:id accepts. A click opens the full image.
      const size = attachment.width && attachment.height ? { width: attachment.width, height: attachment.height } : {};
      return h(
        'a',
        {
          class: 'image',
          href: attachment.url,
          target: '_blank',
          rel: 'noopener',
          title: `${attachment.name} (${formatSize(attachment.size)})`,
          onclick: (e) => {
            if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab, as asked
            e.preventDefault();
            openViewer(attachment);
          },
        },
        h('img', { src: attachment.thumbUrl || attachment.url, alt: attachment.name, onload, ...size }),
      );
    }
    return h(
      'a',
      { class: 'file', href: attachment.url, download: attachment.name },
      icon('file'),
      h('span', { class: 'file-name' }, attachment.name),
      h('span', { class: 'file-size' }, formatSize(attachment.size)),
    );
  }

  /** The full image over the page, with its name, pixel size and stored size. */
  function openViewer(attachment) {
    const viewer = $('#viewer');
    $('#viewer-image').src = attachment.url;
    $('#viewer-image').alt = attachment.name;
    const pixels = attachment.width && attachment.height ? ` · ${attachment.width}×${attachment.height}` : '';
    $('#viewer-caption').textContent = `${attachment.name}${pixels} · ${formatSize(attachment.size)}`;
    $('#viewer-original').href = attachment.url;
    if (typeof viewer.showModal === 'function') viewer.showModal();
    else viewer.setAttribute('open', '');
  }

  function closeViewer() {
    const viewer = $('#viewer');
    if (typeof viewer.close === 'function') viewer.close();
    else viewer.removeAttribute('open');
    $('#viewer-image').removeAttribute('src');
  }

  function messageView(message) {
    if (message.system) {
      return h('p', { class: 'system-message', dataset: { id: message._id || '' } }, systemText(message));
    }
    const mine = message.senderId === state.me._id;
    const keepBottom = () => {
      if (state.stickToBottom) scrollToBottom();
    };
    const deleted = Boolean(message.deletedAt);
    const inGroup = isGroup(state.peerId);
    const info =
      mine &&
      message._id &&
      inGroup &&
      !deleted &&
      h('button', { type: 'button', class: 'info', title: 'Message info', onclick: () => showMessageInfo(message) }, 'Info');
    const footer = h(
      'span',
      { class: 'meta' },
      message.editedAt && !deleted && h('span', { class: 'edited', title: `Edited ${formatClock(message.editedAt)}` }, 'edited'),
      message.createdAt && formatClock(message.createdAt),
      mine && ticks(message.status),
      info,
    );
    const classes = ['message', mine ? 'mine' : 'theirs'];
    if (message.status === 'failed') classes.push('failed');
    if (deleted) classes.push('deleted');
    if (message._id) classes.push('has-menu');
    const bubble = h(
      'div',
      {
        class: classes.join(' '),
        dataset: { id: message._id || '', clientId: message.clientMessageId || '', status: message.status },
      },
      message._id && menuButton(message),
      inGroup && !mine && senderName(message.senderId),
      message.forwarded && !deleted && h('span', { class: 'forwarded-label' }, 'Forwarded'),
      message.replyTo && !deleted && quoteView(message.replyTo),
      deleted
        ? h('p', { class: 'tombstone' }, 'This message was deleted')
        : [
            (message.attachments || []).map((a) => attachmentView(a, keepBottom)),
            message.pendingFiles && h('span', { class: 'pending-files' }, `Uploading ${message.pendingFiles.join(', ')}…`),
            message.text && h('p', { class: 'text' }, message.text),
          ],
      !deleted && reactionsView(message),
      footer,
      state.menuFor && state.menuFor === message._id && messageMenu(message),
    );
    if (message.status === 'failed') {
      bubble.append(
        h(
          'button',
          { type: 'button', class: 'retry', onclick: () => retrySend(message) },
          `${message.error || 'Not sent.'} Retry`,
        ),
      );
    }
    return bubble;
  }

  function renderMessages({ keepScroll = true } = {}) {
    const box = $('#messages');
    if (!state.me) return;
    let lastDay = null;
    const items = [];
    if (state.peerId && !state.nextCursor && state.messages.some((m) => m._id)) {
      items.push(h('p', { class: 'history-start' }, 'This is the beginning of your conversation.'));
    } else if (state.nextCursor) {
      items.push(h('p', { class: 'history-start' }, state.loadingOlder ? 'Loading…' : 'Scroll up for older messages'));
    }
    for (const message of state.messages) {
      const day = new Date(message.createdAt || Date.now());
      if (!lastDay || !sameDay(day, lastDay)) items.push(h('p', { class: 'day' }, formatDay(day)));
      lastDay = day;
      items.push(messageView(message));
    }
    if (state.peerId && state.messages.length === 0) items.push(h('p', { class: 'list-empty' }, 'No messages yet. Say hello!'));
    setChildren(box, items);
    if (keepScroll && state.stickToBottom) scrollToBottom();
  }

  function scrollToBottom() {
    const box = $('#messages');
    box.scrollTop = box.scrollHeight;
  }

  function onMessagesScroll() {
    const box = $('#messages');
    state.stickToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_EDGE_PX;
    if (box.scrollTop < NEAR_EDGE_PX) loadOlderMessages();
  }

  function onNewMessage(message) {
    const incoming = message.senderId !== state.me._id && !message.system;
    const peerId = messagePeer(message);
    if (incoming && message.status === 'sent') emit('message-delivered', { messageId: message._id });
    if (message.system && peerId === state.peerId) loadMembers(); // who is in the group may have changed

    const chat = state.chats.get(peerId);
    if (chat) {
      // A chat's first message comes with `new-chat`, which already counted it: count only newer ones.
      const newer = !chat.lastMessage || chat.lastMessage._id < message._id;
      const viewing = peerId === state.peerId && document.visibilityState !== 'hidden';
      if (newer) {
        chat.lastMessage = message;
        chat.lastMessageAt = message.createdAt;
        if (incoming && !viewing && message.status !== 'read') chat.unreadCount += 1;
      }
    } else {
      loadChats({ reset: true }); // a chat we have not listed yet (its `new-chat` came before we loaded)
    }
    if (incoming && message.receiverId === null) setGroupTyping(peerId, message.senderId, false);
    else if (incoming) setPeerTyping(peerId, false);

    if (peerId === state.peerId) {
      if (!incoming) state.stickToBottom = true;
      mergeMessages([message]);
      renderMessages();
    }
    renderSidebar();
  }

  /** message-status and messages-read: move ticks forward in the open chat and in the chat list. */
  function updateStatuses(ids, status, times) {
    const wanted = new Set(ids);
    const raise = (message) => {
      if (message && wanted.has(message._id) && STATUS_RANK[status] > STATUS_RANK[message.status]) {
        message.status = status;
        if (times.deliveredAt) message.deliveredAt = times.deliveredAt;
        if (times.readAt) message.readAt = times.readAt;
        return true;
      }
      return false;
    };
    let changed = false;
    // A receipt can overtake the ack of our own send: keep it until the message shows up.
    const known = new Set(state.messages.map((m) => m._id));
    for (const id of ids) if (!known.has(id)) state.earlyStatuses.set(id, status);
    for (const message of state.messages) {
      if (raise(message)) {
        changed = true;
        const bubble = document.querySelector(`.message[data-id="${message._id}"]`);
        if (bubble) {
          bubble.dataset.status = status;
          bubble.querySelector('.ticks').replaceWith(ticks(status));
        }
      }
    }
    for (const chat of state.chats.values()) changed = raise(chat.lastMessage) || changed;
    if (changed) renderSidebar();
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  async function sendFromComposer(event) {
    event.preventDefault();
    const input = $('#message-input');
    const text = input.value.trim();
    const files = state.attachments;
    if (state.editing) {
      await saveEdit(state.editing, text);
      return;
    }
    if (!state.peerId || (!text && files.length === 0)) return;
    const replyTo = state.replyTo;
    state.replyTo = null;
    renderComposerContext();
    input.value = '';
    autoGrow();
    state.attachments = [];
    renderAttachments();
    stopTyping();
    state.stickToBottom = true;

    if (files.length === 0) {
      await sendText(state.peerId, text, addPending(state.peerId, { text, replyTo: replyTo && quotePreview(replyTo) }));
      return;
    }
    // The contract: one request carries up to 10 `images` and/or one `file`; the text rides on the first.
    const images = files.filter((f) => IMAGE_TYPES.has(f.type));
    const others = files.filter((f) => !IMAGE_TYPES.has(f.type));
    const batches = [];
    for (let i = 0; i < images.length; i += limits.maxImagesPerSend) batches.push({ images: images.slice(i, i + limits.maxImagesPerSend) });
    for (const file of others) {
      const open = batches.find((b) => !b.file);
      if (open) open.file = file;
      else batches.push({ images: [], file });
    }
    batches[0].text = text;
    batches[0].replyTo = replyTo;
    for (const batch of batches) await sendFiles(state.peerId, batch);
  }

  function addPending(peerId, fields) {
    const pending = {
      _id: null,
      clientMessageId: newClientMessageId(),
      senderId: state.me._id,
      receiverId: peerId,
      text: '',
      attachments: [],
      status: 'sending',
      createdAt: new Date().toISOString(),
      ...fields,
    };
    if (peerId === state.peerId) {
      state.messages.push(pending);
      renderMessages();
    }
    return pending;
  }

  /** A send finished: swap the pending bubble for the stored messages, or mark it failed. */
  function settlePending(pending, result) {
    const open = pending.receiverId === state.peerId;
    if (result.ok) {
      const chat = state.chats.get(pending.receiverId);
      const last = result.messages[result.messages.length - 1];
      if (chat && (!chat.lastMessage || chat.lastMessage._id <= last._id)) {
        chat.lastMessage = last;
        chat.lastMessageAt = last.createdAt;
      }
      if (chat && chat.blockedByOtherUser) {
        chat.blockedByOtherUser = false; // the send went through: no block any more
        renderPeerHeader();
      }
      if (open) {
        state.messages = state.messages.filter((m) => m !== pending);
        mergeMessages(result.messages);
      }
    } else {
      pending.status = 'failed';
      pending.error = result.message;
      if (result.code === 'blocked' && !state.blocked.has(pending.receiverId)) {
        const chat = state.chats.get(pending.receiverId);
        if (chat) chat.blockedByOtherUser = true;
        renderPeerHeader();
      }
    }
    if (open) renderMessages();
    renderSidebar();
  }

  async function sendText(peerId, text, pending = addPending(peerId, { text })) {
    let result;
    if (state.socket && state.socket.connected) {
      const payload = { ...target(peerId), text, clientMessageId: pending.clientMessageId };
      if (pending.replyTo) payload.replyTo = pending.replyTo._id;
      const ack = await emit('new-message', payload);
      if (ack.ok && state.stream) state.stream.applied(ack); // the ack stands for this send's new-message
      result = ack.ok ? { ok: true, messages: [ack.message] } : ack;
    } else {
      const json = { text, clientMessageId: pending.clientMessageId };
      if (pending.replyTo) json.replyTo = pending.replyTo._id;
      result = await restSend(peerId, { json });
    }
    settlePending(pending, result);
  }

  async function sendFiles(peerId, batch, pending = null) {
    const form = new FormData();
    pending =
      pending ||
      addPending(peerId, {
        text: batch.text || '',
        pendingFiles: [...batch.images, batch.file].filter(Boolean).map((f) => f.name),
        batch,
        replyTo: batch.replyTo ? quotePreview(batch.replyTo) : null,
      });
    if (batch.text) form.append('text', batch.text);
    if (batch.replyTo) form.append('replyTo', batch.replyTo._id);
    form.append('clientMessageId', pending.clientMessageId);
    for (const image of batch.images) form.append('images', image, image.name);
    if (batch.file) form.append('file', batch.file, batch.file.name);
    settlePending(pending, await restSend(peerId, { form }));
  }

  async function restSend(peerId, body) {
    try {
      const { body: sent } = await request('POST', sendPath(peerId), body);
      return { ok: true, messages: [].concat(sent) }; // several images give an array
    } catch (error) {
      return { ok: false, message: describeError(error), code: error.code };
    }
  }

  /** Resend with the same clientMessageId: the server returns the stored message if it got the first. */
  function retrySend(pending) {
    pending.status = 'sending';
    pending.error = null;
    renderMessages();
    if (pending.batch) sendFiles(pending.receiverId, pending.batch, pending);
    else sendText(pending.receiverId, pending.text, pending);
  }

  function renderAttachments() {
    setChildren($('#attachments'),
      ...state.attachments.map((file, index) =>
        h(
          'li',
          { class: 'chip' },
          icon(IMAGE_TYPES.has(file.type) ? 'photo' : 'file'),
          `${file.name} (${formatSize(file.size)})`,
          h(
            'button',
            {
              type: 'button',
              class: 'chip-remove',
              'aria-label': `Remove ${file.name}`,
              onclick: () => {
                state.attachments.splice(index, 1);
                renderAttachments();
              },
            },
            '×',
          ),
        ),
      ),
    );
  }

  function autoGrow() {
    const input = $('#message-input');
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  // ---------------------------------------------------------------------------------------------
  // Typing

  function onComposerInput() {
    autoGrow();
    if (!state.peerId || state.blocked.has(state.peerId) || state.editing) return; // editing is not typing
    if (!state.typingSent) {
      state.typingSent = true;
      emit('typing', target(state.peerId));
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent && state.peerId) emit('stop-typing', target(state.peerId));
    state.typingSent = false;
  }

  function setGroupTyping(chatId, userId, typing) {
    const typers = state.groupTyping.get(chatId) || new Map();
    clearTimeout(typers.get(userId));
    if (typing) typers.set(userId, setTimeout(() => setGroupTyping(chatId, userId, false), TYPING_SHOW_MS));
    else typers.delete(userId);
    if (typers.size) state.groupTyping.set(chatId, typers);
    else state.groupTyping.delete(chatId);
    renderSidebar();
    if (chatId === state.peerId) renderPeerHeader();
  }

  /** "Alice is typing…", "Alice and Bob are typing…", "3 people are typing…" */
  function typingText(userIds) {
    const names = userIds.map(memberName);
    if (names.length === 1) return `${names[0]} is typing…`;
    if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
    return `${names.length} people are typing…`;
  }

  function onTyping({ from, chatId }, typing) {
    if (chatId && isGroup(chatId)) setGroupTyping(chatId, from, typing);
    else setPeerTyping(from, typing);
  }

  function setPeerTyping(userId, typing) {
    clearTimeout(state.typing.get(userId));
    if (typing) state.typing.set(userId, setTimeout(() => setPeerTyping(userId, false), TYPING_SHOW_MS));
    else state.typing.delete(userId);
    renderSidebar();
    if (userId === state.peerId) renderPeerHeader();
  }

  // ---------------------------------------------------------------------------------------------
  // Block, pin, search in a conversation

  async function toggleBlock() {
    const peerId = state.peerId;
    const blocking = !state.blocked.has(peerId);
    const name = state.users.get(peerId).fullName;
    const question = `Block ${name}? You will not get their messages, and neither of you sees the other online.`;
    if (blocking && !(await confirmDialog(question, 'Block'))) return;
    try {
      const { blockedUsers } = await api.post(`/api/users/${blocking ? 'block' : 'unblock'}/${peerId}`);
      state.blocked = new Set(blockedUsers);
      const chat = state.chats.get(peerId);
      if (chat) chat.blockedByMe = blocking;
      if (blocking) stopTyping();
      toast(`${state.users.get(peerId).fullName} ${blocking ? 'is blocked' : 'is unblocked'}.`);
    } catch (error) {
      toast(describeError(error));
    }
    renderPeerHeader();
    renderSidebar();
  }

  async function togglePin() {
    const peerId = state.peerId;
    if (isGroup(peerId)) {
      const chat = state.chats.get(peerId);
      await changeChat(chat.isPinned ? 'DELETE' : 'PUT', `/api/chats/${peerId}/pin`);
      return;
    }
    const pinning = !state.pinned.has(peerId);
    try {
      const { pinnedChats } = await api.post(`/api/users/${pinning ? 'pin' : 'unpin'}/${peerId}`);
      state.pinned = new Set(pinnedChats);
      const chat = state.chats.get(peerId);
      if (chat) chat.isPinned = pinning;
    } catch (error) {
      toast(describeError(error));
    }
    renderPeerHeader();
    renderSidebar();
  }

  function toggleSearch() {
    const open = $('#search-panel').hidden;
    if (!open) {
      closeSearch();
      return;
    }
    show($('#search-panel'), true);
    $('#toggle-search').setAttribute('aria-pressed', 'true');
    $('#search-input').focus();
  }

  function closeSearch() {
    show($('#search-panel'), false);
    $('#toggle-search').setAttribute('aria-pressed', 'false');
    $('#search-input').value = '';
    $('#search-results').replaceChildren();
  }

  /** Text with every case-insensitive occurrence of `query` wrapped in <mark>. */
  function highlighted(text, query) {
    const parts = [];
    const lower = text.toLowerCase();
    const needle = query.toLowerCase();
    let from = 0;
    for (let at = lower.indexOf(needle); at !== -1 && needle; at = lower.indexOf(needle, from)) {
      parts.push(text.slice(from, at), h('mark', {}, text.slice(at, at + needle.length)));
      from = at + needle.length;
    }
    parts.push(text.slice(from));
    return parts;
  }

  function searchHit(message, query) {
    const who = message.senderId === state.me._id ? 'You' : memberName(message.senderId);
    return h(
      'li',
      {},
      h(
        'button',
        { type: 'button', class: 'search-hit', dataset: { id: message._id }, onclick: () => jumpTo(message._id) },
        h('span', { class: 'hit-who' }, who),
        h('span', { class: 'hit-text' }, highlighted(message.text, query)),
        h('span', { class: 'hit-when' }, `${formatDay(new Date(message.createdAt))} ${formatClock(message.createdAt)}`),
      ),
    );
  }

  /** GET /api/messages/search/:userId, newest first; "More results" follows X-Next-Cursor. */
  async function searchConversation(event, cursor = null) {
    if (event) event.preventDefault();
    const query = $('#search-input').value.trim();
    const results = $('#search-results');
    if (!query) return;
    try {
      const { body, nextCursor } = await api.page(searchPath(state.peerId), { q: query, limit: 20, cursor });
      if (!cursor) results.replaceChildren();
      results.querySelector('.more')?.remove();
      const more = h('button', { type: 'button', class: 'ghost', onclick: () => searchConversation(null, nextCursor) }, 'More results');
      results.append(
        ...nodes([
          body.map((message) => searchHit(message, query)),
          !cursor && body.length === 0 && h('li', { class: 'list-empty' }, `No messages contain “${query}”.`),
          nextCursor && h('li', { class: 'more' }, more),
        ]),
      );
    } catch (error) {
      toast(describeError(error));
    }
  }

  /** Scroll to a message, loading older pages until it is there. */
  async function jumpTo(messageId) {
    const find = () => document.querySelector(`.message[data-id="${messageId}"]`);
    while (!find() && state.nextCursor) {
      if (!(await loadOlderMessages())) break;
    }
    const bubble = find();
    if (!bubble) return;
    state.stickToBottom = false;
    bubble.scrollIntoView({ block: 'center' });
    bubble.classList.add('flash');
    setTimeout(() => bubble.classList.remove('flash'), 1500);
  }

  // ---------------------------------------------------------------------------------------------
  // Message lifecycle: reply, react, forward, edit, delete (and the events that report them)

  function kindOf(message) {
    const kinds = new Set((message.attachments || []).map((a) => a.kind));
    return kinds.has('image') ? 'image' : kinds.has('file') ? 'file' : 'text';
  }

  /** A reply's preview of `message`, as the server stores it (shown while the send is in flight). */
  function quotePreview(message) {
    return { _id: message._id, senderId: message.senderId, text: (message.text || '').slice(0, REPLY_PREVIEW_CHARS), kind: kindOf(message), deleted: Boolean(message.deletedAt) };
  }

  function nameOf(userId) {
    return memberName(userId);
  }

  function quoteView(replyTo) {
    const words = { image: 'Photo', file: 'File', system: '', text: '' };
    const text = replyTo.deleted ? 'This message was deleted' : replyTo.text || words[replyTo.kind] || '';
    return h(
      'button',
      { type: 'button', class: 'quote', dataset: { quoted: replyTo._id }, onclick: () => jumpTo(replyTo._id) },
      h('span', { class: 'quote-who' }, nameOf(replyTo.senderId)),
      h('span', { class: 'quote-text' }, text),
    );
  }

  function reactionsView(message) {
    const reactions = message.reactions || [];
    if (!reactions.length) return null;
    return h(
      'div',
      { class: 'reactions' },
      reactions.map((r) => {
        const mine = r.userIds.includes(state.me._id);
        const who = r.userIds.map(nameOf).join(', ');
        return h(
          'button',
          {
            type: 'button',
            class: `reaction${mine ? ' mine' : ''}`,
            dataset: { emoji: r.emoji },
            title: who,
            'aria-label': `${r.emoji} ${r.count}: ${who}`,
            onclick: () => toggleReaction(message, r.emoji),
          },
          `${r.emoji} ${r.count}`,
        );
      }),
    );
  }

  function menuButton(message) {
    const open = state.menuFor === message._id;
    return h(
      'button',
      {
        type: 'button',
        class: 'msg-menu-button',
        'aria-label': 'Message actions',
        'aria-expanded': String(open),
        onclick: () => {
          state.menuFor = open ? null : message._id;
          renderMessages({ keepScroll: false });
        },
      },
      '⋯',
    );
  }

  function closeMenu() {
    if (!state.menuFor) return;
    state.menuFor = null;
    renderMessages({ keepScroll: false });
  }

  function messageMenu(message) {
    const mine = message.senderId === state.me._id;
    const deleted = Boolean(message.deletedAt);
    const item = (label, action, extra = '') =>
      h('button', { type: 'button', class: extra, dataset: { action: label }, onclick: () => { closeMenu(); action(); } }, label);
    return h(
      'div',
      { class: 'msg-menu', role: 'menu' },
      !deleted &&
        h(
          'div',
          { class: 'emoji-row' },
          QUICK_REACTIONS.map((emoji) =>
            h('button', { type: 'button', 'aria-label': `React ${emoji}`, dataset: { emoji }, onclick: () => { closeMenu(); toggleReaction(message, emoji); } }, emoji),
          ),
        ),
      !deleted && item('Reply', () => startReply(message)),
      !deleted && item('Forward', () => openForward(message)),
      !deleted && mine && item('Edit', () => startEdit(message)),
      item('Delete for me', () => deleteMessage(message, 'me'), 'danger'),
      !deleted && mine && item('Delete for everyone', () => deleteMessage(message, 'everyone'), 'danger'),
    );
  }

  function renderComposerContext() {
    const box = $('#composer-context');
    const target = state.editing || state.replyTo;
    show(box, Boolean(target));
    if (!target) return;
    const text = target.text || preview(target);
    setChildren($('#composer-context-text'),
      state.editing ? h('strong', {}, 'Editing: ') : h('strong', {}, `Replying to ${nameOf(target.senderId)}: `),
      typeof text === 'string' ? text.slice(0, REPLY_PREVIEW_CHARS) : text,
    );
  }

  function cancelComposerContext() {
    if (state.editing) $('#message-input').value = '';
    state.editing = null;
    state.replyTo = null;
    renderComposerContext();
    autoGrow();
  }

  function startReply(message) {
    state.editing = null;
    state.replyTo = message;
    renderComposerContext();
    $('#message-input').focus();
  }

  function startEdit(message) {
    stopTyping();
    state.replyTo = null;
    state.editing = message;
    const input = $('#message-input');
    input.value = message.text || '';
    renderComposerContext();
    autoGrow();
    input.focus();
  }

  async function saveEdit(message, text) {
    state.editing = null;
    $('#message-input').value = '';
    renderComposerContext();
    autoGrow();
    if (text === (message.text || '')) return;
    try {
      const { body } = await request('PATCH', `/api/messages/${message._id}`, { json: { text } });
      applyMessageUpdate(body);
    } catch (error) {
      toast(describeError(error));
    }
  }

  /** Ask in a modal dialog; resolves to true when confirmed. */
  function confirmDialog(text, okLabel) {
    const dialog = $('#confirm-dialog');
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
  }

  async function deleteMessage(message, scope) {
    const question = scope === 'everyone'
      ? 'Delete this message for everyone? Nobody will see it any more.'
      : 'Delete this message for you? The others still see it.';
    if (!(await confirmDialog(question, scope === 'everyone' ? 'Delete for everyone' : 'Delete for me'))) return;
    try {
      await request('DELETE', `/api/messages/${message._id}`, { query: { for: scope } });
      if (scope === 'me') applyMessageDeleted({ messageId: message._id, chatId: message.chatId, forMe: true });
    } catch (error) {
      toast(describeError(error));
    }
  }

  async function toggleReaction(message, emoji) {
    const mine = (message.reactions || []).find((r) => r.userIds.includes(state.me._id));
    const removing = mine && mine.emoji === emoji;
    try {
      const { body } = await request(removing ? 'DELETE' : 'PUT', `/api/messages/${message._id}/reactions`, removing ? {} : { json: { emoji } });
      applyReactions(body.messageId, body.reactions);
    } catch (error) {
      toast(describeError(error));
    }
  }

  function openForward(message) {
    const dialog = $('#forward-dialog');
    const chats = sortedChats().filter((c) =>
      c.kind === 'group' ? Boolean(c.myRole) : !state.blocked.has(c.user._id) && !c.blockedByOtherUser,
    );
    setChildren($('#forward-list'),
      chats.map((chat) =>
        h(
          'button',
          { type: 'button', class: 'chat-item', dataset: { chatId: chat._id }, onclick: () => forwardTo(message, chat) },
          chat.kind === 'group' ? groupAvatar(chat) : avatar(chat.user, isOnline(chat.user._id)),
          h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, chatTitle(chat))),
        ),
      ),
      chats.length === 0 && h('p', { class: 'list-empty' }, 'No chat to forward to yet.'),
    );
    dialog.showModal();
  }

  async function forwardTo(message, chat) {
    $('#forward-dialog').close();
    try {
      const { body } = await request('POST', `/api/messages/${message._id}/forward`, { json: { chatIds: [chat._id] } });
      for (const copy of body) onNewMessage(copy);
      toast(`Forwarded to ${chatTitle(chat)}.`);
    } catch (error) {
      toast(describeError(error));
    }
  }

  function eachLoadedMessage(fn) {
    state.messages.forEach(fn);
    for (const chat of state.chats.values()) if (chat.lastMessage) fn(chat.lastMessage);
  }

  /** message-updated (or my own edit's answer): the new text, and every preview quoting it. */
  function applyMessageUpdate(message) {
    const index = state.messages.findIndex((m) => m._id === message._id);
    if (index !== -1) {
      const known = state.messages[index];
      const status = STATUS_RANK[known.status] > STATUS_RANK[message.status] ? known.status : message.status;
      state.messages[index] = { ...message, status };
    }
    for (const chat of state.chats.values()) {
      if (chat.lastMessage && chat.lastMessage._id === message._id) chat.lastMessage = { ...chat.lastMessage, ...message, status: chat.lastMessage.status };
    }
    eachLoadedMessage((m) => {
      if (m.replyTo && m.replyTo._id === message._id && !m.replyTo.deleted) m.replyTo.text = (message.text || '').slice(0, REPLY_PREVIEW_CHARS);
    });
    renderMessages({ keepScroll: false });
    renderSidebar();
  }

  /** message-deleted: a tombstone in place (for everyone), or gone from my view (for me). */
  function applyMessageDeleted({ messageId, chatId, deletedAt, forMe }) {
    // A chat other than the open one may have lost an unread message, and my preview may fall back
    // to an older message: the server knows both, so reload the list then.
    const chat = [...state.chats.values()].find((c) => c._id === chatId);
    const wasPreview = chat && chat.lastMessage && chat.lastMessage._id === messageId;
    if (chat && ((forMe && wasPreview) || (chatKey(chat) !== state.peerId && chat.unreadCount > 0))) loadChats({ reset: true });
    if (forMe) {
      state.messages = state.messages.filter((m) => m._id !== messageId);
    } else {
      const tombstone = { deletedAt, text: '', attachments: [], image: null, file: null, reactions: [] };
      eachLoadedMessage((m) => {
        if (m._id === messageId) Object.assign(m, tombstone);
        if (m.replyTo && m.replyTo._id === messageId) Object.assign(m.replyTo, { deleted: true, text: '', kind: 'text' });
      });
      if (state.editing && state.editing._id === messageId) cancelComposerContext();
      if (state.replyTo && state.replyTo._id === messageId) cancelComposerContext();
    }
    renderMessages({ keepScroll: false });
    renderSidebar();
  }

  function applyReactions(messageId, reactions) {
    eachLoadedMessage((m) => {
      if (m._id === messageId) m.reactions = reactions;
    });
    renderMessages({ keepScroll: false });
  }

  // ---------------------------------------------------------------------------------------------
  // Groups: names and colours, system messages, header, members panel, new group, message info

  function memberName(userId) {
    if (state.me && userId === state.me._id) return 'You';
    const member = state.members.get(userId);
    if (member) return member.user.fullName;
    const user = state.users.get(userId);
    return user ? user.fullName : 'Someone';
  }

  /** A stable colour per sender, so bubbles in a group tell people apart at a glance. */
  function nameColour(userId) {
    let hash = 0;
    for (const ch of userId) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
    return `hsl(${hash}, 55%, 38%)`;
  }

  /** The sender's name on a group bubble, in their colour (set through CSSOM: the CSP allows no inline style). */
  function senderName(userId) {
    const el = h('span', { class: 'sender' }, memberName(userId));
    el.style.color = nameColour(userId);
    return el;
  }

  function systemText(message) {
    const { type, actorId, userIds, name, role } = message.system;
    const actor = memberName(actorId);
    const them = (userIds || []).map(memberName).join(', ');
    switch (type) {
      case 'created':
        return `${actor} created the group “${name}”`;
      case 'member_added':
        return `${actor} added ${them}`;
      case 'member_removed':
        return `${actor} removed ${them}`;
      case 'member_left':
        return `${actor} left`;
      case 'renamed':
        return `${actor} renamed the group to “${name}”`;
      case 'avatar_changed':
        return `${actor} changed the group picture`;
      case 'role_changed':
        return `${actor} made ${them} ${role === 'admin' ? 'an admin' : 'a member'}`;
      case 'owner_changed':
        return `${them} is now the owner`;
      default:
        return 'The group changed';
    }
  }

  /** The open group's members (GET /api/chats/:chatId), for names, roles and the members panel. */
  async function loadMembers() {
    const chatId = state.peerId;
    if (!isGroup(chatId)) return;
    try {
      const item = await api.get(`/api/chats/${chatId}`);
      if (state.peerId !== chatId) return;
      upsertChat(item);
      state.members = new Map(item.members.map((m) => [m.user._id, { user: rememberUser(m.user), role: m.role }]));
      renderPeerHeader();
      renderMessages();
      if ($('#panel').open && $('#panel').dataset.kind === 'members') showMembersPanel({ refresh: true });
    } catch (error) {
      if (error.status !== 401) toast(describeError(error));
    }
  }

  function renderGroupHeader() {
    const chat = state.chats.get(state.peerId);
    if (!chat) return;
    const el = $('#peer-avatar');
    fillAvatar(el, { fullName: chat.name || '#', profilePic: chat.avatar || '' });
    el.classList.remove('online');
    $('#peer-name').textContent = chat.name;
    const typers = [...(state.groupTyping.get(chat._id) || new Map()).keys()];
    const status = $('#peer-status');
    status.dataset.online = 'false';
    status.textContent = chat.myRole ? `${chat.memberCount} members` : 'You are no longer a member';
    $('#toggle-pin').textContent = chat.isPinned ? 'Unpin' : 'Pin';
    $('#toggle-mute').textContent = chat.isMuted ? 'Unmute' : 'Mute';
    show($('#toggle-mute'), true);
    show($('#toggle-block'), false);
    show($('#show-members'), true);
    const typingLine = $('#typing');
    typingLine.textContent = typers.length ? typingText(typers) : '';
    show(typingLine, typers.length > 0);
    const notice = $('#composer-blocked');
    notice.textContent = chat.myRole ? '' : 'You are no longer a member of this group. You can read its history.';
    show(notice, !chat.myRole);
    show($('#composer'), Boolean(chat.myRole));
  }

  /** A change of the open chat whose answer is its new list item (pin, mute, rename...). */
  async function changeChat(method, path, json) {
    try {
      const { body } = await request(method, path, json === undefined ? {} : { json });
      upsertChat(body);
      if (body.members) {
        state.members = new Map(body.members.map((m) => [m.user._id, { user: rememberUser(m.user), role: m.role }]));
      }
      if (body.kind === 'direct') {
        if (body.isPinned) state.pinned.add(body.user._id);
        else state.pinned.delete(body.user._id);
      }
      renderSidebar();
      renderPeerHeader();
      return body;
    } catch (error) {
      toast(describeError(error));
      return null;
    }
  }

  async function toggleMute() {
    const chat = state.chats.get(state.peerId);
    if (!chat) return;
    const body = await changeChat(chat.isMuted ? 'DELETE' : 'PUT', `/api/chats/${chat._id}/mute`, chat.isMuted ? undefined : { until: null });
    if (body) toast(body.isMuted ? 'Muted: no notifications from this chat.' : 'Notifications are on again.');
  }

  function openPanel(kind, title, ...children) {
    const panel = $('#panel');
    panel.dataset.kind = kind;
    setChildren($('#panel-body'),
      h('header', { class: 'panel-header' }, h('h2', {}, title), h('button', { type: 'button', class: 'ghost', id: 'panel-close', onclick: closePanel }, 'Close')),
      ...children,
    );
    if (!panel.open) {
      if (typeof panel.showModal === 'function') panel.showModal();
      else panel.setAttribute('open', '');
    }
    show(panel, true);
  }

  function closePanel() {
    const panel = $('#panel');
    if (typeof panel.close === 'function' && panel.open) panel.close();
    else panel.removeAttribute('open');
  }

  /** Contacts as checkboxes (the first page of GET /api/messages/contacts), without `exclude`. */
  async function contactPicker(exclude) {
    const { body } = await api.page('/api/messages/contacts', { limit: 100 });
    const people = body.filter((u) => !exclude.has(u._id));
    return h(
      'fieldset',
      { class: 'picker' },
      h('legend', {}, 'People'),
      people.length === 0 && h('p', { class: 'list-empty' }, 'Nobody else to add.'),
      people.map((u) =>
        h('label', { class: 'pick' }, h('input', { type: 'checkbox', name: 'member', value: u._id }), ` ${u.fullName}`),
      ),
    );
  }

  const pickedIds = (form) => [...form.querySelectorAll('input[name=member]:checked')].map((i) => i.value);

  async function showNewGroupPanel() {
    const picker = await contactPicker(new Set([state.me._id]));
    const form = h(
      'form',
      { id: 'new-group-form', class: 'panel-form' },
      h('label', {}, 'Group name ', h('input', { name: 'name', maxlength: String(limits.groupNameMax), required: true })),
      picker,
      h('p', { class: 'form-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, 'Create group'),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const { body } = await request('POST', '/api/chats', { json: { name: form.elements.name.value, memberIds: pickedIds(form) } });
        upsertChat(body);
        closePanel();
        renderSidebar();
        await openChat(body._id);
      } catch (error) {
        form.querySelector('.form-error').textContent = describeError(error);
      }
    });
    openPanel('new-group', 'New group', form);
  }

  /** The members panel; `refresh` redraws it only if it is still open (a change arrived meanwhile). */
  async function showMembersPanel({ refresh = false } = {}) {
    const chatId = state.peerId;
    const chat = state.chats.get(chatId);
    if (!chat || chat.kind !== 'group') return;
    const mine = chat.myRole;
    const manage = mine === 'owner' || mine === 'admin';
    const roleLabel = { owner: 'Owner', admin: 'Admin', member: '' };
    const act = (label, method, path, json) =>
      h('button', { type: 'button', class: 'ghost small', onclick: async () => {
        if (method === 'DELETE' && path.endsWith(`/members/${state.me._id}`)) {
          try {
            await request('DELETE', path);
            closePanel();
          } catch (error) {
            toast(describeError(error));
          }
          return;
        }
        if (await changeChatOrRemove(method, path, json)) loadMembers();
      } }, label);
    const rows = [...state.members.values()].map(({ user, role }) => {
      const self = user._id === state.me._id;
      const removable = !self && manage && (mine === 'owner' || role === 'member');
      return h(
        'li',
        { class: 'member', dataset: { userId: user._id, role } },
        h('span', { class: 'member-name' }, self ? `${user.fullName} (you)` : user.fullName),
        roleLabel[role] && h('span', { class: 'role' }, roleLabel[role]),
        mine === 'owner' && !self && role === 'member' && act('Make admin', 'PUT', `/api/chats/${chatId}/members/${user._id}/role`, { role: 'admin' }),
        mine === 'owner' && !self && role === 'admin' && act('Make member', 'PUT', `/api/chats/${chatId}/members/${user._id}/role`, { role: 'member' }),
        removable && act('Remove', 'DELETE', `/api/chats/${chatId}/members/${user._id}`),
      );
    });
    const parts = [h('ul', { class: 'members' }, rows)];
    if (manage) {
      const rename = h(
        'form',
        { id: 'rename-form', class: 'panel-form inline' },
        h('input', { name: 'name', maxlength: String(limits.groupNameMax), value: chat.name, 'aria-label': 'Group name' }),
        h('button', { type: 'submit', class: 'ghost' }, 'Rename'),
      );
      rename.addEventListener('submit', async (event) => {
        event.preventDefault();
        await changeChat('PATCH', `/api/chats/${chatId}`, { name: rename.elements.name.value });
      });
      const add = h('form', { id: 'add-members-form', class: 'panel-form' }, await contactPicker(new Set([state.me._id, ...state.members.keys()])), h('button', { type: 'submit', class: 'ghost' }, 'Add to group'));
      add.addEventListener('submit', async (event) => {
        event.preventDefault();
        const ids = pickedIds(add);
        if (ids.length && (await changeChat('POST', `/api/chats/${chatId}/members`, { userIds: ids }))) showMembersPanel({ refresh: true });
      });
      parts.push(rename, add);
    }
    if (mine) parts.push(act('Leave group', 'DELETE', `/api/chats/${chatId}/members/${state.me._id}`));
    if (refresh && !$('#panel').open) return;
    if (state.peerId !== chatId) return;
    openPanel('members', `${chat.name}: ${chat.memberCount} members`, ...parts);
  }

  /** Role changes answer with the item; removals with {removed: true}. */
  async function changeChatOrRemove(method, path, json) {
    if (method === 'DELETE') {
      try {
        await request('DELETE', path);
        return true;
      } catch (error) {
        toast(describeError(error));
        return false;
      }
    }
    return Boolean(await changeChat(method, path, json));
  }

  /** "Read by n of m" for one of my group messages (GET .../receipts, the sender's own view). */
  async function showMessageInfo(message) {
    try {
      const { body } = await request('GET', `/api/chats/${message.chatId}/messages/${message._id}/receipts`);
      const read = body.filter((r) => r.readAt);
      const delivered = body.filter((r) => r.deliveredAt);
      openPanel(
        'info',
        'Message info',
        h('p', { class: 'read-by' }, `Read by ${read.length} of ${body.length}`),
        h('p', { class: 'delivered-to' }, `Delivered to ${delivered.length} of ${body.length}`),
        h(
          'ul',
          { class: 'receipts' },
          body.map((r) =>
            h('li', {}, `${memberName(r.userId)}: ${r.readAt ? `read ${formatWhen(r.readAt)}` : r.deliveredAt ? 'delivered' : 'sent'}`),
          ),
        ),
      );
    } catch (error) {
      toast(describeError(error));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Tab title, chat menu, clear chat, profile and password, blocked people

  /** Opening a chat from people-search results brings the chat list back. */
  function leavePeopleSearch() {
    if (!state.searchResults && !$('#people-search').value) return;
    searchSeq += 1; // a search still on its way is dropped
    state.searchResults = null;
    $('#people-search').value = '';
    renderSidebar();
  }

  /** "(3) ChatBox" while messages wait unread in chats other than the open one. */
  function updateTitle() {
    let unread = 0;
    if (state.me) {
      for (const chat of state.chats.values()) if (chatKey(chat) !== state.peerId) unread += chat.unreadCount || 0;
    }
    document.title = unread > 0 ? `(${unread > 99 ? '99+' : unread}) ChatBox` : 'ChatBox';
  }

  /** Presence events follow blocks: when one may have started or ended on the other side, ask the server. */
  function blockMayHaveChanged(userId, started) {
    const chat = state.chats.get(userId);
    if (!chat || state.blocked.has(userId) || Boolean(chat.blockedByOtherUser) === started) return;
    loadChats({ reset: true }).catch(() => {});
  }

  function showChatMenu(open) {
    show($('#chat-menu'), open);
    $('#chat-menu-button').setAttribute('aria-expanded', String(open));
  }

  async function clearChat() {
    const peerId = state.peerId;
    const group = isGroup(peerId) ? state.chats.get(peerId) : null;
    const name = group ? group.name : state.users.get(peerId).fullName;
    const question = group
      ? `Clear your history of ${name}? Its messages disappear for you (not for the other members).`
      : `Clear your chat with ${name}? Its messages disappear for you (not for ${name}).`;
    if (!(await confirmDialog(question, 'Clear chat'))) return;
    try {
      // A group by its id (a former member's clear also takes it off the list: chat-cleared reloads it).
      await request('DELETE', group ? `/api/chats/${peerId}/messages` : `/api/messages/chats/${peerId}`);
      const chat = state.chats.get(peerId);
      if (chat) Object.assign(chat, { lastMessage: null, unreadCount: 0 });
      if (state.peerId === peerId) {
        state.messages = state.messages.filter((m) => !m._id && m.status === 'sending'); // in flight stays
        state.nextCursor = null;
        renderMessages();
      }
      renderSidebar();
      toast('Chat cleared.');
    } catch (error) {
      toast(describeError(error));
    }
  }

  function openProfile() {
    const form = $('#profile-form');
    form.reset();
    form.elements.fullName.value = state.me.fullName;
    $('#password-form').reset();
    for (const line of $('#profile-dialog').querySelectorAll('.form-error')) line.textContent = '';
    $('#profile-dialog').showModal();
    renderBlockedList();
  }

  async function saveProfile(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const body = new FormData();
    body.append('fullName', form.elements.fullName.value);
    const picture = form.elements.profilePic.files[0];
    if (picture) body.append('profilePic', picture, picture.name);
    form.querySelector('.form-error').textContent = '';
    try {
      const { body: me } = await request('PUT', '/api/auth/update-profile', { form: body });
      state.me = me;
      $('#me-name').textContent = me.fullName;
      fillAvatar($('#me-avatar'), me);
      form.elements.profilePic.value = '';
      toast('Profile saved.');
    } catch (error) {
      form.querySelector('.form-error').textContent = describeError(error);
    }
  }

  async function changePassword(event) {
    event.preventDefault();
    const form = event.currentTarget;
    form.querySelector('.form-error').textContent = '';
    try {
      // The answer sets the new token as the cookie; every older token (this socket's too) stops working.
      await request('PUT', '/api/auth/change-password', { json: Object.fromEntries(new FormData(form)) });
      form.reset();
      if (state.socket) {
        state.socket.disconnect();
        state.socket.connect(); // signs in again with the new cookie
      }
      toast('Password changed.');
    } catch (error) {
      form.querySelector('.form-error').textContent = describeError(error);
    }
  }

  async function renderBlockedList() {
    const list = $('#blocked-list');
    try {
      const blocked = await api.get('/api/users/blocked');
      state.blocked = new Set(blocked.map((u) => u._id));
      setChildren(list,
        blocked.map((user) =>
          h('li', { dataset: { userId: user._id } },
            h('span', { class: 'chat-name' }, user.fullName),
            h('button', { type: 'button', class: 'ghost', onclick: () => unblockFromList(user) }, 'Unblock'),
          ),
        ),
        blocked.length === 0 && h('li', { class: 'list-empty' }, 'Nobody.'),
      );
    } catch (error) {
      toast(describeError(error));
    }
  }

  async function unblockFromList(user) {
    try {
      const { blockedUsers } = await api.post(`/api/users/unblock/${user._id}`);
      state.blocked = new Set(blockedUsers);
      const chat = state.chats.get(user._id);
      if (chat) chat.blockedByMe = false;
      toast(`${user.fullName} is unblocked.`);
    } catch (error) {
      toast(describeError(error));
    }
    renderBlockedList();
    renderPeerHeader();
    renderSidebar();
  }

  function wireAccountAndMenus() {
    $('#chat-menu-button').addEventListener('click', () => showChatMenu($('#chat-menu').hidden));
    $('#chat-menu').addEventListener('click', () => showChatMenu(false)); // an item was chosen
    document.addEventListener('click', (e) => {
      if (!e.target.closest('.menu-wrap')) showChatMenu(false);
    });
    $('#clear-chat').addEventListener('click', clearChat);
    $('#open-profile').addEventListener('click', openProfile);
    $('#close-profile').addEventListener('click', () => $('#profile-dialog').close());
    $('#profile-form').addEventListener('submit', saveProfile);
    $('#password-form').addEventListener('submit', changePassword);
  }

  function wire() {
    $('#tab-login').addEventListener('click', () => showAuth('login'));
    $('#tab-signup').addEventListener('click', () => showAuth('signup'));
    $('#login-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/login'));
    $('#signup-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/signup'));
    $('#logout').addEventListener('click', logOut);

    const search = debounce((q) => searchPeople(q), 250);
    $('#people-search').addEventListener('input', (e) => search(e.target.value.trim()));
    $('#sidebar-list').addEventListener('scroll', (e) => {
      const list = e.target;
      if (!state.searchResults && list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_EDGE_PX) loadChats();
    });

    $('#back').addEventListener('click', closeConversationView);
    $('#viewer-close').addEventListener('click', closeViewer);
    // A click outside the picture (on the backdrop) closes it; Escape closes the dialog by itself.
    $('#viewer').addEventListener('click', (e) => { if (e.target === e.currentTarget) closeViewer(); });
    $('#viewer').addEventListener('close', () => $('#viewer-image').removeAttribute('src'));
    $('#toggle-search').addEventListener('click', toggleSearch);
    $('#toggle-pin').addEventListener('click', togglePin);
    $('#toggle-block').addEventListener('click', toggleBlock);
    wireAccountAndMenus();
    $('#toggle-mute').addEventListener('click', toggleMute);
    $('#show-members').addEventListener('click', showMembersPanel);
    $('#new-group').addEventListener('click', showNewGroupPanel);
    $('#panel').addEventListener('click', (e) => { if (e.target === e.currentTarget) closePanel(); });
    $('#search-form').addEventListener('submit', (e) => searchConversation(e));
    $('#messages').addEventListener('scroll', onMessagesScroll);

    $('#composer').addEventListener('submit', sendFromComposer);
    $('#message-input').addEventListener('input', onComposerInput);
    $('#message-input').addEventListener('keydown', (e) => {
      // Enter sends, Shift+Enter makes a new line.
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $('#composer').requestSubmit();
      } else if (e.key === 'ArrowUp' && !e.target.value && !state.editing) {
        // Arrow-up in an empty composer edits my last message.
        const last = [...state.messages].reverse().find((m) => m._id && m.senderId === state.me._id && !m.deletedAt);
        if (last) {
          e.preventDefault();
          startEdit(last);
        }
      } else if (e.key === 'Escape' && (state.editing || state.replyTo)) {
        cancelComposerContext();
      }
    });
    $('#composer-context-cancel').addEventListener('click', cancelComposerContext);
    $('#confirm-cancel').addEventListener('click', () => $('#confirm-dialog').close('cancel'));
    $('#confirm-ok').addEventListener('click', () => $('#confirm-dialog').close('ok'));
    $('#forward-cancel').addEventListener('click', () => $('#forward-dialog').close());
    document.addEventListener('click', (e) => {
      if (state.menuFor && !e.target.closest('.msg-menu, .msg-menu-button')) closeMenu();
    });
    $('#file-input').addEventListener('change', (e) => {
      state.attachments.push(...e.target.files);
      e.target.value = '';
      renderAttachments();
      $('#message-input').focus();
    });

    // A hidden tab is not "viewing": leave the chat so new messages stay unread until I look.
    document.addEventListener('visibilitychange', () => {
      if (!state.peerId) return;
      if (document.visibilityState === 'hidden') emit('leave-chat', chatRef(state.peerId));
      else joinOpenChat();
    });
  }

  async function boot() {
    if (typeof window.io !== 'function') {
      show($('#setup-notice'), true); // node_modules/socket.io-client is missing
      return;
    }
    Object.assign(limits, await api.get('/api/limits'));
    $('#message-input').maxLength = limits.messageTextMax;
    $('#search-input').maxLength = limits.searchQueryMax;
    wire();
    try {
      startSession(await api.get('/api/auth/check')); // the `jwt` cookie from an earlier visit
    } catch (error) {
      showAuth('login');
    }
  }

  boot();
})();
