/*
 * The chat list and what a chat's menu does: paging the list, people search, block, pin, mute,
 * clear; groups: members, new group, message info. Each action does its request, then one
 * `store.update`; the views redraw from the state.
 */

import { describeError } from '../format.js';
import * as model from '../model.js';

const TOAST_MS = 4000;
const CHATS_PAGE = 50;
const SEARCH_PAGE = 20;

export function chatActions(app) {
  const { store, api, ui } = app;
  const act = () => app.actions;
  const update = (fn) => store.update(fn);
  const fail = (error) => {
    if (error.status !== 401) toast(describeError(error));
  };

  let toastTimer = null;
  let toastId = 0;
  function toast(text) {
    const id = ++toastId;
    update((s) => {
      s.toast = { text, id };
    });
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => update((s) => {
      if (s.toast && s.toast.id === id) s.toast = null;
    }), TOAST_MS);
  }

  let loadingChats = false;
  /** A page of the chat list (the first with `reset`); resolves to the list's X-Sync-Position. */
  async function loadChats({ reset = false } = {}) {
    const s = store.state;
    if (loadingChats || (!reset && !s.chatsCursor)) return null;
    loadingChats = true;
    try {
      const { body, nextCursor, syncPosition } = await api.page('/api/messages/chats', {
        limit: model.pageSize(s.limits, CHATS_PAGE),
        cursor: reset ? null : s.chatsCursor,
      });
      update((st) => {
        if (reset) st.chats = new Map();
        for (const chat of body) model.upsertChat(st, chat);
        st.chatsCursor = nextCursor;
      });
      return syncPosition;
    } finally {
      loadingChats = false;
    }
  }

  let searchSeq = 0;
  /** The sidebar's search box: chats and people matching `query` (empty: the chat list again). */
  async function searchPeople(query) {
    const seq = ++searchSeq;
    if (!query) {
      update((s) => {
        s.searchResults = null;
      });
      return;
    }
    try {
      const [chats, people] = await Promise.all([
        api.get('/api/messages/chats', { q: query, limit: model.pageSize(store.state.limits, SEARCH_PAGE) }),
        api.get('/api/messages/contacts', { q: query, limit: model.pageSize(store.state.limits, SEARCH_PAGE) }),
      ]);
      if (seq !== searchSeq) return; // a newer query is on its way
      update((s) => {
        chats.forEach((chat) => model.upsertChat(s, chat));
        people.forEach((user) => model.rememberUser(s, user));
        s.searchResults = { query, chats, people };
      });
    } catch (error) {
      fail(error);
    }
  }

  /** Opening a chat from people-search results brings the chat list back. */
  function leavePeopleSearch() {
    const s = store.state;
    if (!s.searchResults && !s.peopleQuery) return;
    searchSeq += 1; // a search still on its way is dropped
    update((st) => {
      st.searchResults = null;
      st.peopleQuery = '';
    });
  }

  function typePeopleQuery(text) {
    update((s) => {
      s.peopleQuery = text;
    });
  }

  /** Presence events follow blocks: when one may have started or ended on the other side, ask the server. */
  function blockMayHaveChanged(userId, started) {
    const s = store.state;
    const chat = s.chats.get(userId);
    if (!chat || s.blocked.has(userId) || Boolean(chat.blockedByOtherUser) === started) return;
    loadChats({ reset: true }).catch(() => {});
  }

  /** I blocked or unblocked someone (here, or on another device). */
  function blockChanged(userId, blocked) {
    if (blocked && userId === store.state.peerId) act().stopTyping();
    update((s) => model.setBlocked(s, userId, blocked));
  }

  async function toggleBlock() {
    const s = store.state;
    const peerId = s.peerId;
    const blocking = !s.blocked.has(peerId);
    const name = s.users.get(peerId).fullName;
    const question = `Block ${name}? You will not get their messages, and neither of you sees the other online.`;
    if (blocking && !(await ui.confirm(question, 'Block'))) return;
    try {
      const { blockedUsers } = await api.post(`/api/users/${blocking ? 'block' : 'unblock'}/${peerId}`);
      if (blocking) act().stopTyping();
      update((st) => {
        st.blocked = new Set(blockedUsers);
        const chat = st.chats.get(peerId);
        if (chat) chat.blockedByMe = blocking;
      });
      toast(`${name} ${blocking ? 'is blocked' : 'is unblocked'}.`);
    } catch (error) {
      toast(describeError(error));
    }
  }

  async function togglePin() {
    const s = store.state;
    const peerId = s.peerId;
    if (model.isGroup(s, peerId)) {
      await changeChat(s.chats.get(peerId).isPinned ? 'DELETE' : 'PUT', `/api/chats/${peerId}/pin`);
      return;
    }
    const pinning = !s.pinned.has(peerId);
    try {
      const { pinnedChats } = await api.post(`/api/users/${pinning ? 'pin' : 'unpin'}/${peerId}`);
      update((st) => {
        st.pinned = new Set(pinnedChats);
        const chat = st.chats.get(peerId);
        if (chat) chat.isPinned = pinning;
      });
    } catch (error) {
      toast(describeError(error));
    }
  }

  async function toggleMute() {
    const chat = store.state.chats.get(store.state.peerId);
    if (!chat) return;
    const body = await changeChat(chat.isMuted ? 'DELETE' : 'PUT', `/api/chats/${chat._id}/mute`, chat.isMuted ? undefined : { until: null });
    if (body) toast(body.isMuted ? 'Muted: no notifications from this chat.' : 'Notifications are on again.');
  }

  async function clearChat() {
    const s = store.state;
    const peerId = s.peerId;
    const group = model.isGroup(s, peerId) ? s.chats.get(peerId) : null;
    const name = group ? group.name : s.users.get(peerId).fullName;
    const question = group
      ? `Clear your history of ${name}? Its messages disappear for you (not for the other members).`
      : `Clear your chat with ${name}? Its messages disappear for you (not for ${name}).`;
    if (!(await ui.confirm(question, 'Clear chat'))) return;
    try {
      // A group by its id (a former member's clear also takes it off the list: chat-cleared reloads it).
      await api.request('DELETE', group ? `/api/chats/${peerId}/messages` : `/api/messages/chats/${peerId}`);
      update((st) => {
        const chat = st.chats.get(peerId);
        if (chat) Object.assign(chat, { lastMessage: null, unreadCount: 0 });
        if (st.peerId === peerId) model.clearLoadedMessages(st, { keepFailed: false }); // in flight stays
      });
      toast('Chat cleared.');
    } catch (error) {
      toast(describeError(error));
    }
  }

  function setChatMenu(open) {
    if (store.state.chatMenuOpen !== open) update((s) => {
      s.chatMenuOpen = open;
    });
  }

  /** A change of a chat whose answer is its new list item (pin, mute, rename, roles...). */
  async function changeChat(method, path, json) {
    try {
      const { body } = await api.request(method, path, json === undefined ? {} : { json });
      update((s) => {
        model.upsertChat(s, body);
        if (body.members) model.setMembers(s, body);
        if (body.kind === 'direct') model.setPinned(s, body.user._id, Boolean(body.isPinned));
      });
      return body;
    } catch (error) {
      toast(describeError(error));
      return null;
    }
  }

  // --- groups -------------------------------------------------------------------------------

  /** The open group's members (GET /api/chats/:chatId), for names, roles and the members panel. */
  async function loadMembers() {
    const chatId = store.state.peerId;
    if (!model.isGroup(store.state, chatId)) return;
    try {
      const item = await api.get(`/api/chats/${chatId}`);
      if (store.state.peerId !== chatId) return;
      update((s) => {
        model.upsertChat(s, item);
        model.setMembers(s, item);
      });
    } catch (error) {
      fail(error);
    }
  }

  /** Contacts for a picker (the first page of GET /api/messages/contacts, as long as the server allows). */
  async function contacts() {
    const { body } = await api.page('/api/messages/contacts', { limit: model.pageSize(store.state.limits) });
    return body;
  }

  function setPanel(panel) {
    update((s) => {
      s.panel = panel;
    });
  }

  const closePanel = () => {
    if (store.state.panel) setPanel(null);
  };

  async function showNewGroupPanel() {
    try {
      setPanel({ kind: 'new-group', contacts: await contacts(), error: '' });
    } catch (error) {
      fail(error);
    }
  }

  async function createGroup(name, memberIds) {
    try {
      const { body } = await api.request('POST', '/api/chats', { json: { name, memberIds } });
      update((s) => {
        model.upsertChat(s, body);
        s.panel = null;
      });
      await act().openChat(body._id);
    } catch (error) {
      update((s) => {
        if (s.panel && s.panel.kind === 'new-group') s.panel = { ...s.panel, error: describeError(error) };
      });
    }
  }

  async function showMembersPanel() {
    const chatId = store.state.peerId;
    if (!model.isGroup(store.state, chatId)) return;
    try {
      const people = await contacts();
      if (store.state.peerId === chatId) setPanel({ kind: 'members', chatId, contacts: people });
    } catch (error) {
      fail(error);
    }
  }

  /** Make admin / make member (the answer is the item), remove someone or leave ({removed: true}). */
  async function memberChange(method, path, json) {
    if (method !== 'DELETE') {
      if (await changeChat(method, path, json)) await loadMembers();
      return;
    }
    try {
      await api.request('DELETE', path);
      if (path.endsWith(`/members/${store.state.me._id}`)) closePanel(); // I left
      else await loadMembers();
    } catch (error) {
      toast(describeError(error));
    }
  }

  async function renameGroup(chatId, name) {
    await changeChat('PATCH', `/api/chats/${chatId}`, { name });
  }

  async function addMembers(chatId, userIds) {
    if (userIds.length) await changeChat('POST', `/api/chats/${chatId}/members`, { userIds });
  }

  /** "Read by n of m" for one of my group messages (GET .../receipts, the sender's own view). */
  async function showMessageInfo(messageId) {
    const message = store.state.messages.find((m) => m._id === messageId);
    if (!message) return;
    try {
      const { body } = await api.request('GET', `/api/chats/${message.chatId}/messages/${message._id}/receipts`);
      setPanel({ kind: 'info', receipts: body });
    } catch (error) {
      toast(describeError(error));
    }
  }

  return {
    toast,
    loadChats,
    searchPeople,
    typePeopleQuery,
    leavePeopleSearch,
    blockMayHaveChanged,
    blockChanged,
    toggleBlock,
    togglePin,
    toggleMute,
    clearChat,
    setChatMenu,
    changeChat,
    loadMembers,
    showNewGroupPanel,
    createGroup,
    showMembersPanel,
    memberChange,
    renameGroup,
    addMembers,
    showMessageInfo,
    closePanel,
  };
}
