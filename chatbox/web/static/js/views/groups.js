/* Groups' details dialog (#panel): a new group, a group's members (roles, rename, add, leave), message info. */

import { $, h, setChildren, show } from '../dom.js';
import { receiptText } from '../format.js';
import * as model from '../model.js';

const ROLE_LABEL = { owner: 'Owner', admin: 'Admin', member: '' };

/** The members panel as plain data: what it lists and which buttons each row has. */
export function membersData(s, chatId) {
  const chat = s.chats.get(chatId);
  if (!chat || chat.kind !== 'group') return null;
  const mine = chat.myRole;
  const manage = mine === 'owner' || mine === 'admin';
  const rows = [...s.members.values()].map(({ user, role }) => {
    const self = user._id === s.me._id;
    return {
      userId: user._id,
      role,
      name: self ? `${user.fullName} (you)` : user.fullName,
      label: ROLE_LABEL[role],
      makeAdmin: mine === 'owner' && !self && role === 'member',
      makeMember: mine === 'owner' && !self && role === 'admin',
      remove: !self && manage && (mine === 'owner' || role === 'member'),
    };
  });
  return { chatId, title: `${chat.name}: ${chat.memberCount} members`, name: chat.name, manage, member: Boolean(mine), rows };
}

export function groupsView(app) {
  const { store, actions } = app;
  const panel = $('#panel');
  let shownSignature = null;

  $('#new-group').addEventListener('click', () => actions.showNewGroupPanel());
  panel.addEventListener('click', (e) => {
    if (e.target === e.currentTarget) panel.close();
  });
  panel.addEventListener('close', () => actions.closePanel());

  const pickedIds = (form) => [...form.querySelectorAll('input[name=member]:checked')].map((i) => i.value);

  /** Contacts as checkboxes, without `exclude`. */
  function contactPicker(contacts, exclude) {
    const people = contacts.filter((u) => !exclude.has(u._id));
    return h(
      'fieldset',
      { class: 'picker' },
      h('legend', {}, 'People'),
      people.length === 0 && h('p', { class: 'list-empty' }, 'Nobody else to add.'),
      people.map((u) => h('label', { class: 'pick' }, h('input', { type: 'checkbox', name: 'member', value: u._id }), ` ${u.fullName}`)),
    );
  }

  function newGroup(s, p) {
    const form = h(
      'form',
      { id: 'new-group-form', class: 'panel-form' },
      h('label', {}, 'Group name ', h('input', { name: 'name', maxlength: String(s.limits.groupNameMax), required: true })),
      contactPicker(p.contacts, new Set([s.me._id])),
      h('p', { class: 'form-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, 'Create group'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      actions.createGroup(form.elements.name.value, pickedIds(form));
    });
    return ['New group', form];
  }

  function members(s, p, data) {
    const { chatId } = data;
    const act = (label, method, path, json) =>
      h('button', { type: 'button', class: 'ghost small', onclick: () => actions.memberChange(method, path, json) }, label);
    const rows = data.rows.map((row) =>
      h(
        'li',
        { class: 'member', dataset: { userId: row.userId, role: row.role } },
        h('span', { class: 'member-name' }, row.name),
        row.label && h('span', { class: 'role' }, row.label),
        row.makeAdmin && act('Make admin', 'PUT', `/api/chats/${chatId}/members/${row.userId}/role`, { role: 'admin' }),
        row.makeMember && act('Make member', 'PUT', `/api/chats/${chatId}/members/${row.userId}/role`, { role: 'member' }),
        row.remove && act('Remove', 'DELETE', `/api/chats/${chatId}/members/${row.userId}`),
      ),
    );
    const parts = [h('ul', { class: 'members' }, rows)];
    if (data.manage) {
      const rename = h(
        'form',
        { id: 'rename-form', class: 'panel-form inline' },
        h('input', { name: 'name', maxlength: String(s.limits.groupNameMax), value: data.name, 'aria-label': 'Group name' }),
        h('button', { type: 'submit', class: 'ghost' }, 'Rename'),
      );
      rename.addEventListener('submit', (event) => {
        event.preventDefault();
        actions.renameGroup(chatId, rename.elements.name.value);
      });
      const add = h(
        'form',
        { id: 'add-members-form', class: 'panel-form' },
        contactPicker(p.contacts, new Set([s.me._id, ...data.rows.map((r) => r.userId)])),
        h('button', { type: 'submit', class: 'ghost' }, 'Add to group'),
      );
      add.addEventListener('submit', (event) => {
        event.preventDefault();
        actions.addMembers(chatId, pickedIds(add));
      });
      parts.push(rename, add);
    }
    if (data.member) parts.push(act('Leave group', 'DELETE', `/api/chats/${chatId}/members/${s.me._id}`));
    return [data.title, ...parts];
  }

  function info(s, p) {
    const read = p.receipts.filter((r) => r.readAt);
    const delivered = p.receipts.filter((r) => r.deliveredAt);
    return [
      'Message info',
      h('p', { class: 'read-by' }, `Read by ${read.length} of ${p.receipts.length}`),
      h('p', { class: 'delivered-to' }, `Delivered to ${delivered.length} of ${p.receipts.length}`),
      h('ul', { class: 'receipts' }, p.receipts.map((r) => h('li', {}, receiptText(model.memberName(s, r.userId), r)))),
    ];
  }

  return function render(s) {
    const p = s.me ? s.panel : null;
    const data = p && p.kind === 'members' ? membersData(s, p.chatId) : null;
    // Redrawn only when what it shows changed (the members panel follows the group's changes).
    // A new group's error line is set in place: the name and the people picked stay.
    const signature = p ? JSON.stringify([{ ...p, error: null }, data]) : null;
    if (p && p.kind === 'new-group' && signature === shownSignature) panel.querySelector('.form-error').textContent = p.error || '';
    if (signature === shownSignature) return;
    shownSignature = signature;
    if (!p || (p.kind === 'members' && (!data || s.peerId !== p.chatId))) {
      if (panel.open) panel.close();
      return;
    }
    const [title, ...children] = p.kind === 'new-group' ? newGroup(s, p) : p.kind === 'members' ? members(s, p, data) : info(s, p);
    panel.dataset.kind = p.kind;
    setChildren(
      $('#panel-body'),
      h('header', { class: 'panel-header' }, h('h2', {}, title), h('button', { type: 'button', class: 'ghost', id: 'panel-close', onclick: () => panel.close() }, 'Close')),
      ...children,
    );
    if (!panel.open) panel.showModal();
    show(panel, true);
  };
}
