/* The page's small overlays: the toast, the confirmation dialog, the image viewer, the forward dialog. */

import { $, avatar, fillAvatar, h, renderList, setText, show } from '../dom.js';
import { imageCaption } from '../format.js';
import * as model from '../model.js';

/** Ask in a modal dialog; resolves to true when confirmed. */
export function confirm(text, okLabel) {
  const dialog = $('#confirm-dialog');
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

/** The full image over the page, with its name, pixel size and stored size. */
export function openViewer(attachment) {
  const viewer = $('#viewer');
  $('#viewer-image').src = attachment.url;
  $('#viewer-image').alt = attachment.name;
  $('#viewer-caption').textContent = imageCaption(attachment);
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

export function dialogsView(app) {
  const { actions } = app;
  const forwardCache = new Map();
  let toastShown = null;
  let forwardShown = null;

  $('#confirm-cancel').addEventListener('click', () => $('#confirm-dialog').close('cancel'));
  $('#confirm-ok').addEventListener('click', () => $('#confirm-dialog').close('ok'));
  $('#viewer-close').addEventListener('click', closeViewer);
  // A click outside the picture (on the backdrop) closes it; Escape closes the dialog by itself.
  $('#viewer').addEventListener('click', (e) => {
    if (e.target === e.currentTarget) closeViewer();
  });
  $('#viewer').addEventListener('close', () => $('#viewer-image').removeAttribute('src'));
  $('#forward-cancel').addEventListener('click', () => actions.closeForward());
  $('#forward-dialog').addEventListener('close', () => actions.closeForward());

  function forwardRow(row) {
    return h(
      'button',
      { type: 'button', class: 'chat-item', dataset: { chatId: row.chatId }, onclick: () => actions.forward(row.messageId, row.key) },
      row.group ? fillAvatar(h('span', { class: 'avatar group-avatar' }), row.avatar) : avatar(row.avatar, row.online),
      h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, row.title)),
    );
  }

  return function render(s) {
    if (s.toast !== toastShown) {
      toastShown = s.toast;
      if (s.toast) setText($('#toast'), s.toast.text);
      show($('#toast'), Boolean(s.toast));
    }
    const dialog = $('#forward-dialog');
    if (s.forwarding !== forwardShown) {
      forwardShown = s.forwarding;
      if (!s.forwarding && dialog.open) dialog.close();
    }
    if (!s.forwarding) return;
    const chats = model.forwardTargets(s);
    const items = chats.map((chat) => ({
      key: model.chatKey(chat),
      data: {
        messageId: s.forwarding,
        key: model.chatKey(chat),
        chatId: chat._id,
        group: chat.kind === 'group',
        title: model.chatTitle(chat),
        online: chat.kind !== 'group' && model.isOnline(s, chat.user._id),
        avatar: chat.kind === 'group' ? { fullName: chat.name || '#', profilePic: chat.avatar || '' } : chat.user,
      },
      build: forwardRow,
    }));
    if (!items.length) items.push({ key: 'empty', data: 'No chat to forward to yet.', build: (text) => h('p', { class: 'list-empty' }, text) });
    renderList($('#forward-list'), items, forwardCache);
    if (!dialog.open) dialog.showModal();
  };
}
