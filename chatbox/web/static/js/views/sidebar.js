/* The sidebar: who I am and the connection, the chat list (paged on scroll), and people search. */

import { $, avatar, fillAvatar, h, icon, renderList, setText } from '../dom.js';
import { countText, formatWhen, pageTitle, typingText } from '../format.js';
import * as model from '../model.js';

const NEAR_EDGE_PX = 80; // how close to the bottom of the list loads its next page
const SEARCH_DEBOUNCE_MS = 250;
const CONNECTION_TEXT = { connecting: 'Connecting…', online: 'Connected', offline: 'Offline, reconnecting…' };

/** What a chat row shows, as plain data (the list redraws a row only when this changes). */
export function chatRowData(s, chat) {
  const last = chat.lastMessage;
  const unread = model.unreadOf(s, chat);
  const base = { key: model.chatKey(chat), active: model.chatKey(chat) === s.peerId, time: formatWhen(chat.lastMessageAt), unread };
  if (chat.kind === 'group') {
    const mine = Boolean(last && last.senderId === s.me._id && !last.system);
    const typers = model.groupTypers(s, chat._id);
    return {
      ...base,
      group: true,
      chatId: chat._id,
      name: chat.name,
      avatar: { fullName: chat.name || '#', profilePic: chat.avatar || '' },
      pinned: Boolean(chat.isPinned),
      muted: Boolean(chat.isMuted),
      typing: typers.length ? typingText(typers) : null,
      status: mine ? last.status : null,
      who: last && !last.system && !mine ? `${model.memberName(s, last.senderId)}: ` : '',
      preview: model.previewOf(s, last),
    };
  }
  const user = chat.user;
  const mine = Boolean(last && last.senderId === s.me._id);
  return {
    ...base,
    userId: user._id,
    name: user.fullName,
    avatar: { _id: user._id, fullName: user.fullName, profilePic: user.profilePic || '' },
    online: model.isOnline(s, user._id),
    pinned: s.pinned.has(user._id),
    typing: s.typing.has(user._id) ? 'typing…' : null,
    status: mine ? last.status : null,
    who: '',
    preview: s.blocked.has(user._id) ? { text: 'Blocked' } : model.previewOf(s, last),
  };
}

export function ticks(status) {
  const marks = { sending: icon('clock'), failed: '!', sent: '✓', delivered: '✓✓', read: '✓✓' };
  const labels = { sending: 'Sending', failed: 'Not sent', sent: 'Sent', delivered: 'Delivered', read: 'Read' };
  return h('span', { class: 'ticks', dataset: { status }, title: labels[status], 'aria-label': labels[status] }, marks[status]);
}

export function sidebarView(app) {
  const { store, actions } = app;
  const list = $('#sidebar-list');
  const cache = new Map();
  const search = $('#people-search');

  function chatRow(row) {
    const groupAvatar = () => fillAvatar(h('span', { class: 'avatar group-avatar' }), row.avatar);
    return h(
      'button',
      {
        type: 'button',
        class: `chat-item${row.group ? ' group' : ''}${row.active ? ' active' : ''}`,
        dataset: row.group ? { chatId: row.chatId } : { userId: row.userId },
        onclick: () => (row.group ? actions.openChat(row.chatId) : actions.openChat(row.userId)),
      },
      row.group ? groupAvatar() : avatar(row.avatar, row.online),
      h(
        'span',
        { class: 'chat-main' },
        h(
          'span',
          { class: 'chat-line' },
          h('span', { class: 'chat-name' }, row.name),
          row.pinned && h('span', { class: 'pin', title: 'Pinned' }, icon('pin', 'pinned')),
          row.muted && h('span', { class: 'muted-mark', title: 'Muted' }, '🔕'),
          h('span', { class: 'chat-time' }, row.time),
        ),
        h(
          'span',
          { class: 'chat-line' },
          row.typing
            ? h('span', { class: 'chat-preview typing-text' }, row.typing)
            : h(
                'span',
                { class: 'chat-preview' },
                row.status && ticks(row.status),
                row.status && 'You: ',
                row.who,
                row.preview.icon && icon(row.preview.icon),
                row.preview.text,
              ),
          row.unread > 0 && h('span', { class: 'badge', 'aria-label': `${row.unread} unread` }, countText(row.unread)),
        ),
      ),
    );
  }

  function personRow(person) {
    return h(
      'button',
      { type: 'button', class: 'chat-item person', dataset: { userId: person.userId }, onclick: () => actions.openConversation(store.state.users.get(person.userId)) },
      avatar(person.avatar, person.online),
      h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, person.name), h('span', { class: 'chat-preview' }, person.email)),
    );
  }

  const title = (text) => ({ key: `title:${text}`, data: text, build: () => h('h2', { class: 'list-title' }, text) });
  const empty = (text) => ({ key: 'empty', data: text, build: () => h('p', { class: 'list-empty' }, text) });
  const rowItem = (s, chat) => ({ key: `chat:${model.chatKey(chat)}`, data: chatRowData(s, chat), build: chatRow });

  function items(s) {
    const results = s.searchResults;
    if (!results) {
      const chats = model.sortedChats(s);
      if (chats.length === 0) return [empty('No chats yet. Search for someone above to start one.')];
      return chats.map((chat) => rowItem(s, chat));
    }
    const withChat = new Set(results.chats.filter((c) => c.kind !== 'group').map((c) => c.user._id));
    const people = results.people.filter((u) => !withChat.has(u._id));
    return [
      results.chats.length > 0 && title('Chats'),
      ...results.chats.map((c) => rowItem(s, s.chats.get(model.chatKey(c)) || c)),
      people.length > 0 && title('People'),
      ...people.map((u) => {
        const user = s.users.get(u._id) || u;
        const data = {
          userId: u._id,
          name: user.fullName,
          email: user.email,
          online: model.isOnline(s, u._id),
          avatar: { _id: u._id, fullName: user.fullName, profilePic: user.profilePic || '' },
        };
        return { key: `person:${u._id}`, data, build: personRow };
      }),
      results.chats.length + people.length === 0 && empty(`Nobody matches “${results.query}”.`),
    ].filter(Boolean);
  }

  const runSearch = (() => {
    let timer = null;
    return (query) => {
      clearTimeout(timer);
      timer = setTimeout(() => actions.searchPeople(query), SEARCH_DEBOUNCE_MS);
    };
  })();
  search.addEventListener('input', (e) => {
    actions.typePeopleQuery(e.target.value);
    runSearch(e.target.value.trim());
  });
  list.addEventListener('scroll', () => {
    if (!store.state.searchResults && list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_EDGE_PX) actions.loadChats();
  });

  return function render(s) {
    document.title = pageTitle(model.unreadTotal(s));
    if (search.value !== s.peopleQuery) search.value = s.peopleQuery;
    if (!s.me) {
      renderList(list, [], cache);
      return;
    }
    fillAvatar($('#me-avatar'), s.me);
    setText($('#me-name'), s.me.fullName);
    const connection = $('#connection');
    if (connection.dataset.status !== s.connection) connection.dataset.status = s.connection;
    setText(connection, CONNECTION_TEXT[s.connection]);
    renderList(list, items(s), cache);
  };
}
