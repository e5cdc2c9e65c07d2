/*
 * The client's state and its one update path.
 *
 * Everything the page shows is drawn from `store.state`. A change is made only through
 * `store.update(fn)`: `fn` changes the state it is given, then every subscriber (the views) runs with
 * the new state. Handlers never call a render function; views redraw only what their inputs changed.
 * Updates made while subscribers run (a view's own event) are applied after them, in order.
 */

/** The state of a signed-out page; `signedOut` starts again from a fresh one. */
export function initialState() {
  return {
    booted: false, // the first check of the session cookie is done (until then the page shows nothing)
    authMode: 'login', // which auth form shows: login | signup
    me: null, // the signed-in user (public user object)
    toast: null, // {text, id}: the short notice at the bottom
    limits: {}, // this server's limits (GET /api/limits at boot), never copies of them
    connection: 'connecting', // connecting | online | offline
    chats: new Map(), // chat key (chatKey in model.js) -> chat list item
    chatsCursor: null, // X-Next-Cursor of the chat list
    users: new Map(), // id -> public user, from chats and contact searches
    online: new Set(), // ids of people I share a chat with who are online
    blocked: new Set(), // ids I blocked
    pinned: new Set(), // ids whose direct chat I pinned
    typing: new Map(), // user id -> timer that hides their indicator
    groupTyping: new Map(), // group chat id -> Map(user id -> timer that hides their indicator)
    searchResults: null, // sidebar search: {query, chats, people} or null for the chat list
    peerId: null, // the open conversation's key (the other user's id, or a group's chat id)
    messages: [], // the open conversation, oldest first (pending sends included)
    nextCursor: null, // cursor of older history, null when the oldest page is loaded
    loadingOlder: false,
    earlyStatuses: new Map(), // message id -> status heard before the message itself (a race)
    stickToBottom: true, // the open conversation follows new messages
    attachments: [], // files chosen in the composer
    replyTo: null, // the message the composer answers
    editing: null, // the message of mine the composer edits
    menuFor: null, // id of the message whose menu is open
    members: new Map(), // the open group's members: user id -> {user, role}
    panel: null, // the details dialog: {kind: 'members' | 'new-group' | 'info', ...} or null
    chatMenuOpen: false, // the open conversation's "more actions" menu
    peopleQuery: '', // the sidebar's search box
    conversationSearch: null, // the search in the open chat: {query, hits, nextCursor, done} or null (closed)
    forwarding: null, // id of the message the forward dialog is for
    profileOpen: false,
    blockedList: null, // the profile dialog's blocked people (fetched when it opens)
  };
}

export function createStore(state = initialState()) {
  const subscribers = new Set();
  const pending = [];
  let notifying = false;

  function notify() {
    notifying = true;
    try {
      for (const subscriber of [...subscribers]) subscriber(state);
    } finally {
      notifying = false;
    }
  }

  return {
    get state() {
      return state;
    },
    /** The one way to change the state: `fn(state)` changes it, then every subscriber runs. */
    update(fn) {
      pending.push(fn);
      if (notifying) return; // applied when the subscribers now running are done
      while (pending.length) {
        pending.shift()(state);
        notify();
      }
    },
    /** `fn(state)` runs after every update (and once now); returns the unsubscribe function. */
    subscribe(fn) {
      subscribers.add(fn);
      fn(state);
      return () => subscribers.delete(fn);
    },
    /** Start over (sign-out): a fresh state, kept limits. */
    reset(fields = {}) {
      this.update((s) => {
        const { limits, booted } = s;
        for (const key of Object.keys(s)) delete s[key];
        Object.assign(s, initialState(), { limits, booted }, fields);
      });
    },
  };
}
