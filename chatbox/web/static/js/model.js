/*
 * The client's rules over its state: pure functions, no DOM, no network (Node's test runner imports
 * them). Functions named for a change (`upsertChat`, `mergeMessages`, ...) change the state they are
 * given and are called inside `store.update`; the others only read it.
 */

import { systemText } from './format.js';

export const STATUS_RANK = { sending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };
export const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);

// ---------------------------------------------------------------------------------------------
// Chats and people

/**
 * A chat's key in `state.chats`, and `state.peerId` of an open conversation: the other user's id for
 * a direct chat, the chat's own id for a group (ids never collide).
 */
export function chatKey(chat) {
  return chat.kind === 'group' ? chat._id : chat.user._id;
}

export function isGroup(s, key) {
  const chat = s.chats.get(key);
  return Boolean(chat && chat.kind === 'group');
}

export const chatTitle = (chat) => (chat.kind === 'group' ? chat.name : chat.user.fullName);

export function isOnline(s, userId) {
  return s.online.has(userId) && !s.blocked.has(userId);
}

export function isPinnedChat(s, chat) {
  return chat.kind === 'group' ? Boolean(chat.isPinned) : s.pinned.has(chat.user._id);
}

/** Keep one object per user, refreshed by every list that mentions them (chats, contacts). */
export function rememberUser(s, user) {
  if (user.isOnline === true) s.online.add(user._id);
  else if (user.isOnline === false) s.online.delete(user._id);
  const known = s.users.get(user._id);
  s.users.set(user._id, known ? Object.assign(known, user) : user);
  return s.users.get(user._id);
}

/** Add or refresh a chat list item (an open chat's messages are read on arrival: no unread count). */
export function upsertChat(s, chat) {
  if (chat.kind !== 'group') {
    chat.user = rememberUser(s, chat.user);
    if (chat.isPinned) s.pinned.add(chat.user._id);
    if (chat.blockedByMe) s.blocked.add(chat.user._id);
  }
  const key = chatKey(chat);
  const known = s.chats.get(key);
  if (known && key === s.peerId) chat.unreadCount = 0;
  s.chats.set(key, known ? Object.assign(known, chat) : chat);
  return s.chats.get(key);
}

/** Pinned chats first, then the most recent first. */
export function sortedChats(s) {
  return [...s.chats.values()].sort((a, b) => {
    const pinned = Number(isPinnedChat(s, b)) - Number(isPinnedChat(s, a));
    return pinned || String(b.lastMessageAt || '').localeCompare(String(a.lastMessageAt || ''));
  });
}

/** Messages waiting unread in chats other than the open one (the tab title's count). */
export function unreadTotal(s) {
  if (!s.me) return 0;
  let unread = 0;
  for (const chat of s.chats.values()) if (chatKey(chat) !== s.peerId) unread += chat.unreadCount || 0;
  return unread;
}

/** A chat's unread badge: none for the open chat. */
export function unreadOf(s, chat) {
  return chatKey(chat) === s.peerId ? 0 : chat.unreadCount || 0;
}

/** Where a message can be forwarded: groups I am in, and direct chats with no block either way. */
export function forwardTargets(s) {
  return sortedChats(s).filter((c) =>
    c.kind === 'group' ? Boolean(c.myRole) : !s.blocked.has(c.user._id) && !c.blockedByOtherUser,
  );
}

export function setBlocked(s, userId, blocked) {
  if (blocked) s.blocked.add(userId);
  else s.blocked.delete(userId);
  const chat = s.chats.get(userId);
  if (chat) chat.blockedByMe = blocked;
}

export function setPinned(s, userId, pinned) {
  if (pinned) s.pinned.add(userId);
  else s.pinned.delete(userId);
  const chat = s.chats.get(userId);
  if (chat) chat.isPinned = pinned;
}

export function setGroupPinned(s, chatId, pinned) {
  const chat = s.chats.get(chatId);
  if (chat) chat.isPinned = pinned;
}

/** A group's members from its item (GET /api/chats/:chatId and the answers of its changes). */
export function setMembers(s, item) {
  s.members = new Map(item.members.map((m) => [m.user._id, { user: rememberUser(s, m.user), role: m.role }]));
}

/** A name for a user id: "You", a member's or a known user's name, or "Someone". */
export function memberName(s, userId) {
  if (s.me && userId === s.me._id) return 'You';
  const member = s.members.get(userId);
  if (member) return member.user.fullName;
  const user = s.users.get(userId);
  return user ? user.fullName : 'Someone';
}

/** The names of the people typing in a group, or [] */
export function groupTypers(s, chatId) {
  return [...(s.groupTyping.get(chatId) || new Map()).keys()].map((id) => memberName(s, id));
}

// ---------------------------------------------------------------------------------------------
// Messages

/** The conversation a message belongs to (a chat key). */
export function messagePeer(s, message) {
  if (message.receiverId === null) return message.chatId; // a group message
  return message.senderId === s.me._id ? message.receiverId : message.senderId;
}

const laterStatus = (a, b) => (STATUS_RANK[a] > STATUS_RANK[b] ? a : b);

/** Add or update messages of the open conversation, matching pending sends by clientMessageId. */
export function mergeMessages(s, list) {
  for (let message of list) {
    const early = s.earlyStatuses.get(message._id);
    if (early) {
      s.earlyStatuses.delete(message._id);
      if (STATUS_RANK[early] > STATUS_RANK[message.status]) message = { ...message, status: early };
    }
    const index = s.messages.findIndex(
      (m) => (m._id && m._id === message._id) || (!m._id && m.clientMessageId && m.clientMessageId === message.clientMessageId),
    );
    if (index === -1) {
      s.messages.push(message);
    } else {
      // Statuses only move forward, whatever order the events and responses come in.
      s.messages[index] = { ...message, status: laterStatus(s.messages[index].status, message.status) };
    }
  }
  // Sent messages in id order (ids grow with time); sends still in flight last.
  s.messages.sort((a, b) => {
    if (!a._id || !b._id) return Number(!a._id) - Number(!b._id);
    return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
  });
}

/** message-status and messages-read: move statuses forward in the open chat and in the chat list. */
export function raiseStatuses(s, ids, status, times = {}) {
  const wanted = new Set(ids);
  const raise = (message) => {
    if (message && wanted.has(message._id) && STATUS_RANK[status] > STATUS_RANK[message.status]) {
      message.status = status;
      if (times.deliveredAt) message.deliveredAt = times.deliveredAt;
      if (times.readAt) message.readAt = times.readAt;
    }
  };
  // A receipt can overtake the ack of our own send: keep it until the message shows up.
  const known = new Set(s.messages.map((m) => m._id));
  for (const id of ids) if (!known.has(id)) s.earlyStatuses.set(id, status);
  s.messages.forEach(raise);
  for (const chat of s.chats.values()) raise(chat.lastMessage);
}

/**
 * A message arrived (new-message, or a forward's copies): the chat's preview and unread count, the
 * open conversation. Returns whether the chat list must be reloaded (a chat not listed yet).
 */
export function messageArrived(s, message, { viewing }) {
  const incoming = message.senderId !== s.me._id && !message.system;
  const peerId = messagePeer(s, message);
  const chat = s.chats.get(peerId);
  if (chat) {
    // A chat's first message comes with `new-chat`, which already counted it: count only newer ones.
    if (!chat.lastMessage || chat.lastMessage._id < message._id) {
      chat.lastMessage = message;
      chat.lastMessageAt = message.createdAt;
      const open = peerId === s.peerId && viewing;
      if (incoming && !open && message.status !== 'read') chat.unreadCount += 1;
    }
  }
  if (peerId === s.peerId) {
    if (!incoming) s.stickToBottom = true;
    mergeMessages(s, [message]);
  }
  return { incoming, peerId, reloadChats: !chat };
}

function eachLoadedMessage(s, fn) {
  s.messages.forEach(fn);
  for (const chat of s.chats.values()) if (chat.lastMessage) fn(chat.lastMessage);
}

/** message-updated (or my own edit's answer): the new text, and every preview quoting it. */
export function applyMessageUpdate(s, message) {
  const index = s.messages.findIndex((m) => m._id === message._id);
  if (index !== -1) s.messages[index] = { ...message, status: laterStatus(s.messages[index].status, message.status) };
  for (const chat of s.chats.values()) {
    if (chat.lastMessage && chat.lastMessage._id === message._id) {
      chat.lastMessage = { ...chat.lastMessage, ...message, status: chat.lastMessage.status };
    }
  }
  eachLoadedMessage(s, (m) => {
    if (m.replyTo && m.replyTo._id === message._id && !m.replyTo.deleted) m.replyTo.text = (message.text || '').slice(0, s.limits.replyPreviewChars);
  });
}

/**
 * message-deleted: a tombstone in place (for everyone), or gone from my view (for me). Returns
 * whether the chat list must be reloaded: a chat other than the open one may have lost an unread
 * message, and my preview may fall back to an older message; the server knows both.
 */
export function applyMessageDeleted(s, { messageId, chatId, deletedAt, forMe }) {
  const chat = [...s.chats.values()].find((c) => c._id === chatId);
  const wasPreview = chat && chat.lastMessage && chat.lastMessage._id === messageId;
  const reloadChats = Boolean(chat && ((forMe && wasPreview) || (chatKey(chat) !== s.peerId && chat.unreadCount > 0)));
  if (forMe) {
    s.messages = s.messages.filter((m) => m._id !== messageId);
  } else {
    const tombstone = { deletedAt, text: '', attachments: [], image: null, file: null, reactions: [] };
    eachLoadedMessage(s, (m) => {
      if (m._id === messageId) Object.assign(m, tombstone);
      if (m.replyTo && m.replyTo._id === messageId) Object.assign(m.replyTo, { deleted: true, text: '', kind: 'text' });
    });
    if ((s.editing && s.editing._id === messageId) || (s.replyTo && s.replyTo._id === messageId)) {
      s.editing = null;
      s.replyTo = null;
    }
  }
  return { reloadChats };
}

export function applyReactions(s, messageId, reactions) {
  eachLoadedMessage(s, (m) => {
    if (m._id === messageId) m.reactions = reactions;
  });
}

/** Forget the open conversation's stored messages (a clear); sends still in flight stay. */
export function clearLoadedMessages(s, { keepFailed = true } = {}) {
  s.messages = s.messages.filter((m) => !m._id && (keepFailed || m.status === 'sending'));
  s.nextCursor = null;
}

export function kindOf(message) {
  const kinds = new Set((message.attachments || []).map((a) => a.kind));
  return kinds.has('image') ? 'image' : kinds.has('file') ? 'file' : 'text';
}

/** A reply's preview of `message`, as the server stores it (shown while the send is in flight). */
export function quotePreview(message, limits) {
  return {
    _id: message._id,
    senderId: message.senderId,
    text: (message.text || '').slice(0, limits.replyPreviewChars),
    kind: kindOf(message),
    deleted: Boolean(message.deletedAt),
  };
}

/** What a chat row says about its last message: {text, icon?}. */
export function previewOf(s, message) {
  if (!message) return { text: '' };
  if (message.deletedAt) return { text: 'This message was deleted' };
  if (message.system) return { text: systemText(message.system, (id) => memberName(s, id)) };
  if (message.text) return { text: message.text };
  const first = (message.attachments || [])[0];
  if (!first) return { text: '' };
  return first.kind === 'image' ? { icon: 'photo', text: 'Photo' } : { icon: 'file', text: first.name };
}

/** My last message that arrow-up in an empty composer edits. */
export function lastEditable(s) {
  return [...s.messages].reverse().find((m) => m._id && m.senderId === s.me._id && !m.deletedAt) || null;
}

/** A page size the client would like, within this server's `pageMax` (and the whole page when `wanted` is omitted). */
export function pageSize(limits, wanted = Infinity) {
  if (!(limits.pageMax > 0)) throw new Error('the server limits are not loaded');
  return Math.min(wanted, limits.pageMax);
}

/**
 * The requests of one send from the composer. The contract: one request carries up to
 * `maxImagesPerSend` `images` and/or one `file`; the text (and the reply) ride on the first.
 */
export function planBatches(files, { text = '', replyTo = null, maxImagesPerSend }) {
  if (!(maxImagesPerSend > 0)) throw new Error('the server limits are not loaded');
  const images = files.filter((f) => IMAGE_TYPES.has(f.type));
  const others = files.filter((f) => !IMAGE_TYPES.has(f.type));
  const batches = [];
  for (let i = 0; i < images.length; i += maxImagesPerSend) batches.push({ images: images.slice(i, i + maxImagesPerSend) });
  for (const file of others) {
    const open = batches.find((b) => !b.file);
    if (open) open.file = file;
    else batches.push({ images: [], file });
  }
  if (batches.length) {
    batches[0].text = text;
    batches[0].replyTo = replyTo;
  }
  return batches;
}
