/*
 * The messages of the open conversation: day separators, bubbles (attachments, quote, reactions,
 * ticks, the "⋯" menu), paging back on scroll-up and following new messages at the bottom.
 * Bubbles are drawn from plain data and kept while it is unchanged, so images stay loaded; a status
 * change only swaps the ticks.
 */

import { $, h, icon, renderList } from '../dom.js';
import { formatClock, formatDay, formatSize, nameColour, quoteText, sameDay, systemText } from '../format.js';
import * as model from '../model.js';
import { ticks } from './sidebar.js';
import { openViewer } from './dialogs.js';

const NEAR_EDGE_PX = 80; // how close to the top (older history) or bottom (stick) counts
const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const FLASH_MS = 1500;

/** A bubble as plain data: everything it shows, nothing else. */
export function bubbleData(s, message, inGroup) {
  const nameOf = (id) => model.memberName(s, id);
  if (message.system) return { system: systemText(message.system, nameOf), id: message._id || '' };
  const mine = message.senderId === s.me._id;
  const deleted = Boolean(message.deletedAt);
  return {
    id: message._id || '',
    clientId: message.clientMessageId || '',
    mine,
    status: message.status,
    deleted,
    sender: inGroup && !mine ? { name: nameOf(message.senderId), colour: nameColour(message.senderId) } : null,
    forwarded: Boolean(message.forwarded && !deleted),
    quote: message.replyTo && !deleted ? { id: message.replyTo._id, who: nameOf(message.replyTo.senderId), text: quoteText(message.replyTo) } : null,
    attachments: deleted ? [] : message.attachments || [],
    pendingFiles: deleted ? null : message.pendingFiles || null,
    text: deleted ? '' : message.text || '',
    reactions: deleted
      ? []
      : (message.reactions || []).map((r) => ({ emoji: r.emoji, count: r.count, mine: r.userIds.includes(s.me._id), who: r.userIds.map(nameOf).join(', ') })),
    edited: message.editedAt && !deleted ? formatClock(message.editedAt) : null,
    clock: message.createdAt ? formatClock(message.createdAt) : null,
    info: Boolean(mine && message._id && inGroup && !deleted),
    menu: Boolean(s.menuFor && s.menuFor === message._id),
    error: message.status === 'failed' ? message.error || 'Not sent.' : null,
  };
}

/** Scroll to a message, loading older pages until it is there. */
export async function jumpTo(app, messageId) {
  const find = () => document.querySelector(`.message[data-id="${messageId}"]`);
  while (!find() && app.store.state.nextCursor) {
    if (!(await app.actions.loadOlderMessages())) break;
  }
  const bubble = find();
  if (!bubble) return;
  app.actions.setStickToBottom(false);
  bubble.scrollIntoView({ block: 'center' });
  bubble.classList.add('flash');
  setTimeout(() => bubble.classList.remove('flash'), FLASH_MS);
}

export function messagesView(app) {
  const { store, actions } = app;
  const box = $('#messages');
  const cache = new Map();
  let shown = { peerId: null, head: null, tail: null, members: null };
  let filledFor = null; // the history cursor the view last asked more for, to fill an unscrollable box

  const scrollToBottom = () => {
    box.scrollTop = box.scrollHeight;
  };
  const keepBottom = () => {
    if (store.state.stickToBottom) scrollToBottom();
  };

  function attachmentView(attachment) {
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
        h('img', { src: attachment.thumbUrl || attachment.url, alt: attachment.name, onload: keepBottom, ...size }),
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

  function messageMenu(b) {
    const item = (label, action, extra = '') =>
      h('button', { type: 'button', class: extra, dataset: { action: label }, onclick: () => { actions.closeMenu(); action(); } }, label);
    return h(
      'div',
      { class: 'msg-menu', role: 'menu' },
      !b.deleted &&
        h(
          'div',
          { class: 'emoji-row' },
          QUICK_REACTIONS.map((emoji) =>
            h('button', { type: 'button', 'aria-label': `React ${emoji}`, dataset: { emoji }, onclick: () => { actions.closeMenu(); actions.toggleReaction(b.id, emoji); } }, emoji),
          ),
        ),
      !b.deleted && item('Reply', () => actions.startReply(b.id)),
      !b.deleted && item('Forward', () => actions.openForward(b.id)),
      !b.deleted && b.mine && item('Edit', () => actions.startEdit(b.id)),
      item('Delete for me', () => actions.deleteMessage(b.id, 'me'), 'danger'),
      !b.deleted && b.mine && item('Delete for everyone', () => actions.deleteMessage(b.id, 'everyone'), 'danger'),
    );
  }

  function bubble(b) {
    if (b.system !== undefined) return h('p', { class: 'system-message', dataset: { id: b.id } }, b.system);
    const footer = h(
      'span',
      { class: 'meta' },
      b.edited && h('span', { class: 'edited', title: `Edited ${b.edited}` }, 'edited'),
      b.clock,
      b.mine && ticks(b.status),
      b.info && h('button', { type: 'button', class: 'info', title: 'Message info', onclick: () => actions.showMessageInfo(b.id) }, 'Info'),
    );
    const classes = ['message', b.mine ? 'mine' : 'theirs'];
    if (b.status === 'failed') classes.push('failed');
    if (b.deleted) classes.push('deleted');
    if (b.id) classes.push('has-menu');
    let sender = null;
    if (b.sender) {
      sender = h('span', { class: 'sender' }, b.sender.name);
      sender.style.color = b.sender.colour; // through CSSOM: the CSP allows no inline style
    }
    const el = h(
      'div',
      { class: classes.join(' '), dataset: { id: b.id, clientId: b.clientId, status: b.status } },
      b.id &&
        h(
          'button',
          { type: 'button', class: 'msg-menu-button', 'aria-label': 'Message actions', 'aria-expanded': String(b.menu), onclick: () => actions.toggleMenu(b.id) },
          '⋯',
        ),
      sender,
      b.forwarded && h('span', { class: 'forwarded-label' }, 'Forwarded'),
      b.quote &&
        h(
          'button',
          { type: 'button', class: 'quote', dataset: { quoted: b.quote.id }, onclick: () => jumpTo(app, b.quote.id) },
          h('span', { class: 'quote-who' }, b.quote.who),
          h('span', { class: 'quote-text' }, b.quote.text),
        ),
      b.deleted
        ? h('p', { class: 'tombstone' }, 'This message was deleted')
        : [
            b.attachments.map(attachmentView),
            b.pendingFiles && h('span', { class: 'pending-files' }, `Uploading ${b.pendingFiles.join(', ')}…`),
            b.text && h('p', { class: 'text' }, b.text),
          ],
      b.reactions.length > 0 &&
        h(
          'div',
          { class: 'reactions' },
          b.reactions.map((r) =>
            h(
              'button',
              {
                type: 'button',
                class: `reaction${r.mine ? ' mine' : ''}`,
                dataset: { emoji: r.emoji },
                title: r.who,
                'aria-label': `${r.emoji} ${r.count}: ${r.who}`,
                onclick: () => actions.toggleReaction(b.id, r.emoji),
              },
              `${r.emoji} ${r.count}`,
            ),
          ),
        ),
      footer,
      b.menu && messageMenu(b),
    );
    if (b.error) el.append(h('button', { type: 'button', class: 'retry', onclick: () => actions.retrySend(b.clientId) }, `${b.error} Retry`));
    return el;
  }

  /** Only the status moved (a receipt): swap the ticks and keep the bubble (its images stay loaded). */
  function patchStatus(node, b, before) {
    if (b.system !== undefined || before.system !== undefined || !b.mine || b.error || before.error) return false;
    if (JSON.stringify({ ...b, status: null }) !== JSON.stringify({ ...before, status: null })) return false;
    node.dataset.status = b.status;
    node.querySelector('.ticks').replaceWith(ticks(b.status));
    return true;
  }

  function items(s) {
    const list = [];
    if (!s.nextCursor && s.messages.some((m) => m._id)) {
      list.push({ key: 'start', data: 'This is the beginning of your conversation.' });
    } else if (s.nextCursor) {
      list.push({ key: 'start', data: s.loadingOlder ? 'Loading…' : 'Scroll up for older messages' });
    }
    for (const item of list) item.build = (text) => h('p', { class: 'history-start' }, text);
    const inGroup = model.isGroup(s, s.peerId);
    let lastDay = null;
    for (const message of s.messages) {
      const day = new Date(message.createdAt || Date.now());
      if (!lastDay || !sameDay(day, lastDay)) {
        const label = formatDay(day);
        list.push({ key: `day:${day.toDateString()}`, data: label, build: (text) => h('p', { class: 'day' }, text) });
      }
      lastDay = day;
      const key = message._id ? `m:${message._id}` : `p:${message.clientMessageId}`;
      list.push({ key, data: bubbleData(s, message, inGroup), build: bubble, patch: patchStatus });
    }
    if (s.messages.length === 0) list.push({ key: 'empty', data: 'No messages yet. Say hello!', build: (text) => h('p', { class: 'list-empty' }, text) });
    return list;
  }

  box.addEventListener('scroll', () => {
    actions.setStickToBottom(box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_EDGE_PX);
    if (box.scrollTop < NEAR_EDGE_PX) actions.loadOlderMessages();
  });
  document.addEventListener('click', (e) => {
    if (store.state.menuFor && !e.target.closest('.msg-menu, .msg-menu-button')) actions.closeMenu();
  });

  return function render(s) {
    if (!s.me || !s.peerId) {
      renderList(box, [], cache);
      shown = { peerId: null, head: null, tail: null, members: null };
      return;
    }
    const keyOf = (m) => (m ? m._id || m.clientMessageId : null);
    const next = { peerId: s.peerId, head: keyOf(s.messages[0]), tail: keyOf(s.messages[s.messages.length - 1]), members: s.members };
    const fromBottom = box.scrollHeight - box.scrollTop;
    renderList(box, items(s), cache);
    const samePeer = next.peerId === shown.peerId;
    if (samePeer && next.head !== shown.head && next.tail === shown.tail && shown.head !== null) {
      box.scrollTop = box.scrollHeight - fromBottom; // older history came in above: the view stays put
    } else if (s.stickToBottom && (!samePeer || next.tail !== shown.tail || next.members !== shown.members)) {
      scrollToBottom();
    }
    shown = next;
    // A short first page leaves nothing to scroll: fetch older pages until the box can scroll.
    if (s.nextCursor && !s.loadingOlder && filledFor !== s.nextCursor && box.clientHeight > 0 && box.scrollHeight <= box.clientHeight) {
      filledFor = s.nextCursor;
      actions.loadOlderMessages();
    }
  };
}
