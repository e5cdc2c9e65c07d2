/*
 * The open conversation: opening and leaving it, history pages, sending (text over the socket,
 * files over REST, every send with a `clientMessageId` so a retry never makes a second copy),
 * receipts, typing, and the message lifecycle (reply, react, forward, edit, delete).
 *
 * Receipts: the client acks every incoming message with `message-delivered`, and while a conversation
 * is open (and the tab visible) it has joined it with `join-chat`, which makes the server mark
 * incoming messages `read`.
 */

import { paths } from '../api.js';
import { describeError } from '../format.js';
import * as model from '../model.js';

const PAGE_SIZE = 30; // messages per history page
const SEARCH_PAGE = 20;
const TYPING_IDLE_MS = 2500; // send `stop-typing` after this long without a keystroke
const TYPING_SHOW_MS = 6000; // hide a peer's indicator if their `stop-typing` never comes

function newClientMessageId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export function messageActions(app) {
  const { store, api, ui } = app;
  const act = () => app.actions;
  const update = (fn) => store.update(fn);
  const visible = () => document.visibilityState !== 'hidden';
  const emit = (event, payload) =>
    app.socket ? app.socket.emit(event, payload) : Promise.resolve({ ok: false, message: 'Not connected.', code: 'not_connected' });
  const group = (key) => model.isGroup(store.state, key);
  /** How socket events name a conversation: `to` / `userId` for a direct chat, `chatId` for a group. */
  const target = (key) => (group(key) ? { chatId: key } : { to: key });
  const chatRef = (key) => (group(key) ? { chatId: key } : { userId: key });
  const fail = (error) => {
    if (error.status !== 401) act().toast(describeError(error));
  };

  // --- open, leave, history ------------------------------------------------------------------

  async function openConversation(user) {
    update((s) => model.rememberUser(s, user));
    await openChat(user._id);
  }

  /** Open a conversation by its key (the other user's id, or a group's chat id). */
  async function openChat(key) {
    act().leavePeopleSearch(); // the sidebar goes back to the chat list (pins, unread counts)
    const s = store.state;
    if (s.peerId === key) return;
    if (s.peerId) {
      emit('leave-chat', chatRef(s.peerId));
      stopTyping();
    }
    update((st) => {
      Object.assign(st, {
        peerId: key,
        members: new Map(),
        messages: [],
        nextCursor: null,
        stickToBottom: true,
        attachments: [],
        replyTo: null,
        editing: null,
        menuFor: null,
        conversationSearch: null,
        chatMenuOpen: false,
      });
      st.earlyStatuses.clear();
    });
    if (group(key)) act().loadMembers();
    joinOpenChat();
    await loadNewestMessages();
  }

  /** Back to the chat list (the phone layout's back button, or the open chat went away). */
  function closeConversation() {
    const s = store.state;
    if (s.peerId) emit('leave-chat', chatRef(s.peerId));
    stopTyping();
    update((st) => {
      Object.assign(st, { peerId: null, messages: [], conversationSearch: null, chatMenuOpen: false });
    });
  }

  /** Tell the server I am looking at the open chat: its unread messages (and new ones) become read. */
  async function joinOpenChat() {
    const peerId = store.state.peerId;
    if (!peerId || !visible()) return;
    if (group(peerId) && !store.state.chats.get(peerId).myRole) return; // a former member only reads
    const ack = await emit('join-chat', chatRef(peerId));
    if (ack.ok && store.state.peerId === peerId) {
      update((s) => {
        const chat = s.chats.get(peerId);
        if (chat) chat.unreadCount = 0;
      });
    }
  }

  /** A hidden tab is not "viewing": leave the chat so new messages stay unread until I look. */
  function visibilityChanged() {
    const peerId = store.state.peerId;
    if (!peerId) return;
    if (!visible()) emit('leave-chat', chatRef(peerId));
    else joinOpenChat();
  }

  async function loadNewestMessages() {
    const peerId = store.state.peerId;
    try {
      const { body, nextCursor } = await api.page(paths.history(peerId, group(peerId)), { limit: model.pageSize(store.state.limits, PAGE_SIZE) });
      if (store.state.peerId !== peerId) return;
      update((s) => {
        s.messages = s.messages.filter((m) => !m._id); // keep sends still in flight
        model.mergeMessages(s, body);
        s.nextCursor = nextCursor;
        s.stickToBottom = true;
      });
    } catch (error) {
      fail(error);
    }
  }

  /** Older history (the view asks when scrolled near the top); resolves to whether a page came. */
  async function loadOlderMessages() {
    const s = store.state;
    const peerId = s.peerId;
    if (!peerId || !s.nextCursor || s.loadingOlder) return false;
    update((st) => {
      st.loadingOlder = true;
    });
    try {
      const { body, nextCursor } = await api.page(paths.history(peerId, group(peerId)), { limit: model.pageSize(s.limits, PAGE_SIZE), cursor: s.nextCursor });
      if (store.state.peerId !== peerId) return false;
      update((st) => {
        model.mergeMessages(st, body);
        st.nextCursor = nextCursor;
        st.loadingOlder = false;
      });
      return true;
    } catch (error) {
      fail(error);
      return false;
    } finally {
      if (store.state.loadingOlder) update((st) => {
        st.loadingOlder = false;
      });
    }
  }

  function setStickToBottom(stick) {
    if (store.state.stickToBottom !== stick) update((s) => {
      s.stickToBottom = stick;
    });
  }

  // --- incoming ------------------------------------------------------------------------------

  function messageArrived(message) {
    const s = store.state;
    const incoming = message.senderId !== s.me._id && !message.system;
    if (incoming && message.status === 'sent') emit('message-delivered', { messageId: message._id });
    let result;
    update((st) => {
      result = model.messageArrived(st, message, { viewing: visible() });
    });
    if (result.reloadChats) act().loadChats({ reset: true }); // its `new-chat` came before we loaded
    if (message.system && result.peerId === store.state.peerId) act().loadMembers(); // who is in may have changed
    if (incoming && message.receiverId === null) setGroupTyping(result.peerId, message.senderId, false);
    else if (incoming) setPeerTyping(result.peerId, false);
  }

  function messageDeleted(event) {
    let result;
    update((s) => {
      result = model.applyMessageDeleted(s, event);
    });
    if (result.reloadChats) act().loadChats({ reset: true });
  }

  // --- sending -------------------------------------------------------------------------------

  /** The composer's submit: an edit, a text, or files (in as many requests as the contract needs). */
  async function send(text) {
    const s = store.state;
    if (s.editing) {
      await saveEdit(s.editing, text);
      return;
    }
    const files = s.attachments;
    const peerId = s.peerId;
    if (!peerId || (!text && files.length === 0)) return;
    const replyTo = s.replyTo;
    stopTyping();
    update((st) => {
      st.replyTo = null;
      st.attachments = [];
      st.stickToBottom = true;
    });
    if (files.length === 0) {
      await sendText(peerId, text, addPending(peerId, { text, replyTo: replyTo && model.quotePreview(replyTo, store.state.limits) }));
      return;
    }
    const batches = model.planBatches(files, { text, replyTo, maxImagesPerSend: s.limits.maxImagesPerSend });
    for (const batch of batches) await sendFiles(peerId, batch);
  }

  function addPending(peerId, fields) {
    const pending = {
      _id: null,
      clientMessageId: newClientMessageId(),
      senderId: store.state.me._id,
      receiverId: peerId,
      text: '',
      attachments: [],
      status: 'sending',
      createdAt: new Date().toISOString(),
      ...fields,
    };
    update((s) => {
      if (peerId === s.peerId) s.messages.push(pending);
    });
    return pending;
  }

  /** A send finished: swap the pending bubble for the stored messages, or mark it failed. */
  function settlePending(pending, result) {
    update((s) => {
      const open = pending.receiverId === s.peerId;
      const chat = s.chats.get(pending.receiverId);
      if (result.ok) {
        const last = result.messages[result.messages.length - 1];
        if (chat && (!chat.lastMessage || chat.lastMessage._id <= last._id)) {
          chat.lastMessage = last;
          chat.lastMessageAt = last.createdAt;
        }
        if (chat && chat.blockedByOtherUser) chat.blockedByOtherUser = false; // the send went through: no block any more
        if (open) {
          s.messages = s.messages.filter((m) => m !== pending);
          model.mergeMessages(s, result.messages);
        }
      } else {
        pending.status = 'failed';
        pending.error = result.message;
        if (result.code === 'blocked' && !s.blocked.has(pending.receiverId) && chat) chat.blockedByOtherUser = true;
      }
    });
  }

  async function sendText(peerId, text, pending) {
    let result;
    if (app.socket && app.socket.connected) {
      const payload = { ...target(peerId), text, clientMessageId: pending.clientMessageId };
      if (pending.replyTo) payload.replyTo = pending.replyTo._id;
      const ack = await emit('new-message', payload);
      if (ack.ok && app.stream) app.stream.applied(ack); // the ack stands for this send's new-message
      result = ack.ok ? { ok: true, messages: [ack.message] } : ack;
    } else {
      const json = { text, clientMessageId: pending.clientMessageId };
      if (pending.replyTo) json.replyTo = pending.replyTo._id;
      result = await restSend(peerId, { json });
    }
    settlePending(pending, result);
  }

  async function sendFiles(peerId, batch, pending = null) {
    pending =
      pending ||
      addPending(peerId, {
        text: batch.text || '',
        pendingFiles: [...batch.images, batch.file].filter(Boolean).map((f) => f.name),
        batch,
        replyTo: batch.replyTo ? model.quotePreview(batch.replyTo, store.state.limits) : null,
      });
    const form = new FormData();
    if (batch.text) form.append('text', batch.text);
    if (batch.replyTo) form.append('replyTo', batch.replyTo._id);
    form.append('clientMessageId', pending.clientMessageId);
    for (const image of batch.images) form.append('images', image, image.name);
    if (batch.file) form.append('file', batch.file, batch.file.name);
    settlePending(pending, await restSend(peerId, { form }));
  }

  async function restSend(peerId, body) {
    try {
      const { body: sent } = await api.request('POST', paths.send(peerId, group(peerId)), body);
      return { ok: true, messages: [].concat(sent) }; // several images give an array
    } catch (error) {
      return { ok: false, message: describeError(error), code: error.code };
    }
  }

  /** Resend with the same clientMessageId: the server returns the stored message if it got the first. */
  function retrySend(clientMessageId) {
    const pending = store.state.messages.find((m) => !m._id && m.clientMessageId === clientMessageId);
    if (!pending) return;
    update(() => {
      pending.status = 'sending';
      pending.error = null;
    });
    if (pending.batch) sendFiles(pending.receiverId, pending.batch, pending);
    else sendText(pending.receiverId, pending.text, pending);
  }

  function addAttachments(files) {
    update((s) => {
      s.attachments = [...s.attachments, ...files];
    });
  }

  function removeAttachment(index) {
    update((s) => {
      s.attachments = s.attachments.filter((_, i) => i !== index);
    });
  }

  // --- typing --------------------------------------------------------------------------------

  let typingSent = false;
  let typingTimer = null;

  /** A keystroke in the composer: `typing` once, `stop-typing` after a pause. */
  function composerInput() {
    const s = store.state;
    if (!s.peerId || s.blocked.has(s.peerId) || s.editing) return; // editing is not typing
    if (!typingSent) {
      typingSent = true;
      emit('typing', target(s.peerId));
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent && store.state.peerId) emit('stop-typing', target(store.state.peerId));
    typingSent = false;
  }

  function forgetTypingTimer() {
    clearTimeout(typingTimer);
    typingSent = false;
  }

  function setGroupTyping(chatId, userId, typing) {
    update((s) => {
      const typers = new Map(s.groupTyping.get(chatId) || []);
      clearTimeout(typers.get(userId));
      if (typing) typers.set(userId, setTimeout(() => setGroupTyping(chatId, userId, false), TYPING_SHOW_MS));
      else typers.delete(userId);
      if (typers.size) s.groupTyping.set(chatId, typers);
      else s.groupTyping.delete(chatId);
    });
  }

  function setPeerTyping(userId, typing) {
    update((s) => {
      clearTimeout(s.typing.get(userId));
      if (typing) s.typing.set(userId, setTimeout(() => setPeerTyping(userId, false), TYPING_SHOW_MS));
      else s.typing.delete(userId);
    });
  }

  /** `typing` / `stop-typing` from someone else. */
  function peerTyping({ from, chatId }, typing) {
    if (chatId && group(chatId)) setGroupTyping(chatId, from, typing);
    else setPeerTyping(from, typing);
  }

  // --- search in the conversation ----------------------------------------------------------

  function toggleSearch() {
    update((s) => {
      s.conversationSearch = s.conversationSearch ? null : { query: '', hits: [], nextCursor: null, done: false };
    });
  }

  /** GET .../search, newest first; "More results" passes the X-Next-Cursor it got. */
  async function searchConversation(query, cursor = null) {
    const peerId = store.state.peerId;
    if (!query || !peerId) return;
    try {
      const { body, nextCursor } = await api.page(paths.search(peerId, group(peerId)), { q: query, limit: model.pageSize(store.state.limits, SEARCH_PAGE), cursor });
      update((s) => {
        if (!s.conversationSearch || s.peerId !== peerId) return;
        const hits = cursor ? [...s.conversationSearch.hits, ...body] : body;
        s.conversationSearch = { query, hits, nextCursor, done: true };
      });
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  // --- lifecycle: menu, reply, edit, delete, react, forward ---------------------------------

  function toggleMenu(messageId) {
    update((s) => {
      s.menuFor = s.menuFor === messageId ? null : messageId;
    });
  }

  function closeMenu() {
    if (store.state.menuFor) update((s) => {
      s.menuFor = null;
    });
  }

  const findMessage = (id) => store.state.messages.find((m) => m._id === id);

  function startReply(messageId) {
    const message = findMessage(messageId);
    if (message) update((s) => {
      s.editing = null;
      s.replyTo = message;
    });
  }

  /** Edit one of my messages (its menu, or arrow-up in an empty composer for the last one). */
  function startEdit(messageId = null) {
    const message = messageId ? findMessage(messageId) : model.lastEditable(store.state);
    if (!message) return false;
    stopTyping();
    update((s) => {
      s.replyTo = null;
      s.editing = message;
    });
    return true;
  }

  function cancelComposerContext() {
    update((s) => {
      s.editing = null;
      s.replyTo = null;
    });
  }

  async function saveEdit(message, text) {
    cancelComposerContext();
    if (text === (message.text || '')) return;
    try {
      const { body } = await api.request('PATCH', `/api/messages/${message._id}`, { json: { text } });
      update((s) => model.applyMessageUpdate(s, body));
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  async function deleteMessage(messageId, scope) {
    const message = findMessage(messageId);
    if (!message) return;
    const question = scope === 'everyone'
      ? 'Delete this message for everyone? Nobody will see it any more.'
      : 'Delete this message for you? The others still see it.';
    if (!(await ui.confirm(question, scope === 'everyone' ? 'Delete for everyone' : 'Delete for me'))) return;
    try {
      await api.request('DELETE', `/api/messages/${message._id}`, { query: { for: scope } });
      if (scope === 'me') messageDeleted({ messageId: message._id, chatId: message.chatId, forMe: true });
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  async function toggleReaction(messageId, emoji) {
    const message = findMessage(messageId);
    if (!message) return;
    const mine = (message.reactions || []).find((r) => r.userIds.includes(store.state.me._id));
    const removing = mine && mine.emoji === emoji;
    try {
      const { body } = await api.request(removing ? 'DELETE' : 'PUT', `/api/messages/${message._id}/reactions`, removing ? {} : { json: { emoji } });
      update((s) => model.applyReactions(s, body.messageId, body.reactions));
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  function openForward(messageId) {
    update((s) => {
      s.forwarding = messageId;
    });
  }

  function closeForward() {
    if (store.state.forwarding) update((s) => {
      s.forwarding = null;
    });
  }

  async function forward(messageId, chatKey) {
    closeForward();
    const message = findMessage(messageId);
    const chat = store.state.chats.get(chatKey);
    if (!message || !chat) return;
    try {
      const { body } = await api.request('POST', `/api/messages/${message._id}/forward`, { json: { chatIds: [chat._id] } });
      for (const copy of body) messageArrived(copy);
      act().toast(`Forwarded to ${model.chatTitle(chat)}.`);
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  return {
    openConversation,
    openChat,
    closeConversation,
    joinOpenChat,
    visibilityChanged,
    loadNewestMessages,
    loadOlderMessages,
    setStickToBottom,
    messageArrived,
    messageDeleted,
    send,
    retrySend,
    addAttachments,
    removeAttachment,
    composerInput,
    stopTyping,
    forgetTypingTimer,
    peerTyping,
    toggleSearch,
    searchConversation,
    toggleMenu,
    closeMenu,
    startReply,
    startEdit,
    cancelComposerContext,
    deleteMessage,
    toggleReaction,
    openForward,
    closeForward,
    forward,
  };
}
