/* Profile and settings: my name and picture, my password, and the people I blocked. */

import { $, h, renderList, show } from '../dom.js';

export function settingsView(app) {
  const { store, actions } = app;
  const dialog = $('#profile-dialog');
  const blockedCache = new Map();
  let wasOpen = false;

  $('#open-profile').addEventListener('click', () => actions.openProfile());
  $('#close-profile').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => actions.closeProfile());

  $('#profile-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    form.querySelector('.form-error').textContent = '';
    const error = await actions.saveProfile(form.elements.fullName.value, form.elements.profilePic.files[0]);
    if (error) form.querySelector('.form-error').textContent = error;
    else form.elements.profilePic.value = '';
  });
  $('#password-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    form.querySelector('.form-error').textContent = '';
    const error = await actions.changePassword(Object.fromEntries(new FormData(form)));
    if (error) form.querySelector('.form-error').textContent = error;
    else form.reset();
  });

  function blockedRow(user) {
    return h(
      'li',
      { dataset: { userId: user._id } },
      h('span', { class: 'chat-name' }, user.fullName),
      h('button', { type: 'button', class: 'ghost', onclick: () => actions.unblock(user) }, 'Unblock'),
    );
  }

  return function render(s) {
    const open = Boolean(s.me && s.profileOpen);
    if (open && !wasOpen) {
      // Each opening starts from the account as it is.
      const form = $('#profile-form');
      form.reset();
      form.elements.fullName.value = store.state.me.fullName;
      $('#password-form').reset();
      for (const line of dialog.querySelectorAll('.form-error')) line.textContent = '';
      dialog.showModal();
    } else if (!open && wasOpen && dialog.open) dialog.close();
    wasOpen = open;
    if (!open || !s.blockedList) return;
    const items = s.blockedList.map((user) => ({ key: user._id, data: { _id: user._id, fullName: user.fullName }, build: blockedRow }));
    if (!items.length) items.push({ key: 'empty', data: 'Nobody.', build: (text) => h('li', { class: 'list-empty' }, text) });
    renderList($('#blocked-list'), items, blockedCache);
    show($('#blocked-list'), true);
  };
}
