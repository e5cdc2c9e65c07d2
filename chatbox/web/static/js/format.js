/*
 * Formatting helpers: pure functions from data to text, no DOM (Node's test runner imports them).
 * Dates use the browser's locale, as the page always did.
 */


export function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function formatClock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A chat row's time: the clock for today, the day and month before. */
export function formatWhen(iso, now = new Date()) {
  if (!iso) return '';
  const date = new Date(iso);
  return sameDay(date, now) ? formatClock(iso) : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/** A day separator in a conversation: "Today", "Yesterday" or the full date. */
export function formatDay(date, now = new Date()) {
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(date, now)) return 'Today';
  if (sameDay(date, yesterday)) return 'Yesterday';
  return date.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric' });
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function initials(name) {
  return (name || '?').trim().split(/\s+/).slice(0, 2).map((part) => part[0].toUpperCase()).join('');
}

/** An avatar's background hue, picked from the id. */
export function avatarHue(id) {
  return [...(id || '')].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360;
}

/** A stable colour per sender, so bubbles in a group tell people apart at a glance. */
export function nameColour(userId) {
  let hash = 0;
  for (const ch of userId) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${hash}, 55%, 38%)`;
}

/** An unread count as a badge or the tab title shows it. */
export function countText(count) {
  return count > 99 ? '99+' : String(count);
}

/** "(3) ChatBox" while messages wait unread, "ChatBox" otherwise. */
export function pageTitle(unread) {
  return unread > 0 ? `(${countText(unread)}) ChatBox` : 'ChatBox';
}

/** "Alice is typing…", "Alice and Bob are typing…", "3 people are typing…" */
export function typingText(names) {
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** A group's system message as a sentence; `nameOf` turns a user id into a name. */
export function systemText(system, nameOf) {
  const { type, actorId, userIds, name, role } = system;
  const actor = nameOf(actorId);
  const them = (userIds || []).map(nameOf).join(', ');
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

/** `text` cut at every case-insensitive occurrence of `query`: [{text, match}], matches marked. */
export function highlightParts(text, query) {
  const parts = [];
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  let from = 0;
  for (let at = lower.indexOf(needle); at !== -1 && needle; at = lower.indexOf(needle, from)) {
    if (at > from) parts.push({ text: text.slice(from, at), match: false });
    parts.push({ text: text.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < text.length || parts.length === 0) parts.push({ text: text.slice(from), match: false });
  return parts;
}

/** An error as one line for a person: a validation error names its fields. */
export function describeError(error) {
  if (error.code === 'validation_error' && error.details && typeof error.details === 'object') {
    const fields = Object.entries(error.details).map(([field, messages]) => `${field}: ${[].concat(messages).join(' ')}`);
    if (fields.length) return fields.join(' · ');
  }
  return error.message;
}

export const TICK_LABELS = { sending: 'Sending', failed: 'Not sent', sent: 'Sent', delivered: 'Delivered', read: 'Read' };

/** A reply's quoted text: the text, what was attached, or that it was deleted. */
export function quoteText(replyTo) {
  const words = { image: 'Photo', file: 'File', system: '', text: '' };
  return replyTo.deleted ? 'This message was deleted' : replyTo.text || words[replyTo.kind] || '';
}

/** One line of a group message's receipts: "Bob: read 10:42", "Bob: delivered", "Bob: sent". */
export function receiptText(name, receipt, now = new Date()) {
  const state = receipt.readAt ? `read ${formatWhen(receipt.readAt, now)}` : receipt.deliveredAt ? 'delivered' : 'sent';
  return `${name}: ${state}`;
}

/** The image viewer's caption: name, pixel size when known, stored size. */
export function imageCaption(attachment) {
  const pixels = attachment.width && attachment.height ? ` · ${attachment.width}×${attachment.height}` : '';
  return `${attachment.name}${pixels} · ${formatSize(attachment.size)}`;
}

/** A peer's status line under their name. */
export function peerStatusText({ blockedByMe, typing, online, lastSeen }, now = new Date()) {
  if (blockedByMe) return 'Blocked';
  if (typing) return 'typing…';
  if (online) return 'online';
  return lastSeen ? `last seen ${formatWhen(lastSeen, now)}` : '';
}
