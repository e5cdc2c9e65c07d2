/*
 * The open conversation: its header (a person or a group, the "more actions" menu), the search in
 * it, the typing line and the notice that replaces the composer when it cannot send.
 */

import { $, fillAvatar, h, setText, show } from '../dom.js';
import { formatClock, formatDay, highlightParts, peerStatusText, typingText } from '../format.js';
import * as model from '../model.js';
import { jumpTo } from './messages.js';

/** The header and notices of the open conversation, as plain data. */
export function headerData(s) {
  const chat = s.chats.get(s.peerId);
  if (model.isGroup(s, s.peerId)) {
    const typers = model.groupTypers(s, chat._id);
    return {
      group: true,
      avatar: { fullName: chat.name || '#', profilePic: chat.avatar || '' },
      online: false,
      name: chat.name,
      status: chat.myRole ? `${chat.memberCount} members` : 'You are no longer a member',
      pin: chat.isPinned ? 'Unpin' : 'Pin',
      mute: chat.isMuted ? 'Unmute' : 'Mute',
      showMute: true,
      block: null,
      typing: typers.length ? typingText(typers) : '',
      notice: chat.myRole ? '' : 'You are no longer a member of this group. You can read its history.',
      composer: Boolean(chat.myRole),
    };
  }
  const user = s.users.get(s.peerId);
  if (!user) return null;
  const blockedByMe = s.blocked.has(user._id);
  const blockedByOther = Boolean(chat && chat.blockedByOtherUser);
  const online = model.isOnline(s, user._id);
  const typing = s.typing.has(user._id);
  return {
    group: false,
    avatar: user,
    online,
    name: user.fullName,
    status: peerStatusText({ blockedByMe, typing, online, lastSeen: user.lastSeen }),
    pin: s.pinned.has(user._id) ? 'Unpin' : 'Pin',
    mute: chat && chat.isMuted ? 'Unmute' : 'Mute',
    showMute: Boolean(chat),
    block: blockedByMe ? 'Unblock' : 'Block',
    typing: typing && !blockedByMe ? `${user.fullName} is typing…` : '',
    notice: blockedByMe
      ? `You blocked ${user.fullName}. Unblock to send messages.`
      : blockedByOther
        ? "You can't send messages to this chat." // neutral: who blocked whom is not shown
        : '',
    // No event says when the other side unblocks me, so the composer stays usable: a send answers.
    composer: !blockedByMe,
  };
}

export function conversationView(app) {
  const { store, actions } = app;
  let searchState = null;

  $('#back').addEventListener('click', () => actions.closeConversation());
  $('#toggle-search').addEventListener('click', () => actions.toggleSearch());
  $('#search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    actions.searchConversation($('#search-input').value.trim());
  });
  $('#toggle-pin').addEventListener('click', () => actions.togglePin());
  $('#toggle-block').addEventListener('click', () => actions.toggleBlock());
  $('#toggle-mute').addEventListener('click', () => actions.toggleMute());
  $('#clear-chat').addEventListener('click', () => actions.clearChat());
  $('#show-members').addEventListener('click', () => actions.showMembersPanel());
  $('#chat-menu-button').addEventListener('click', () => actions.setChatMenu(!store.state.chatMenuOpen));
  $('#chat-menu').addEventListener('click', () => actions.setChatMenu(false)); // an item was chosen
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.menu-wrap')) actions.setChatMenu(false);
  });
  document.addEventListener('visibilitychange', () => actions.visibilityChanged());

  function searchHit(s, message, query) {
    const who = message.senderId === s.me._id ? 'You' : model.memberName(s, message.senderId);
    return h(
      'li',
      {},
      h(
        'button',
        { type: 'button', class: 'search-hit', dataset: { id: message._id }, onclick: () => jumpTo(app, message._id) },
        h('span', { class: 'hit-who' }, who),
        h('span', { class: 'hit-text' }, highlightParts(message.text, query).map((p) => (p.match ? h('mark', {}, p.text) : p.text))),
        h('span', { class: 'hit-when' }, `${formatDay(new Date(message.createdAt))} ${formatClock(message.createdAt)}`),
      ),
    );
  }

  function renderSearch(s) {
    const search = s.conversationSearch;
    if (search === searchState) return;
    const opening = search && !searchState;
    searchState = search;
    show($('#search-panel'), Boolean(search));
    $('#toggle-search').setAttribute('aria-pressed', String(Boolean(search)));
    const results = $('#search-results');
    if (!search) {
      $('#search-input').value = '';
      results.replaceChildren();
      return;
    }
    if (opening) $('#search-input').focus();
    if (!search.done) return;
    const { query, hits, nextCursor } = search;
    const more = h('button', { type: 'button', class: 'ghost', onclick: () => actions.searchConversation(query, nextCursor) }, 'More results');
    results.replaceChildren(
      ...hits.map((message) => searchHit(s, message, query)),
      ...(hits.length === 0 ? [h('li', { class: 'list-empty' }, `No messages contain “${query}”.`)] : []),
      ...(nextCursor ? [h('li', { class: 'more' }, more)] : []),
    );
  }

  return function render(s) {
    const open = Boolean(s.peerId && s.me);
    show($('#conversation-main'), open);
    show($('#conversation-empty'), !open);
    $('#app-view').classList.toggle('show-conversation', open);
    show($('#chat-menu'), open && s.chatMenuOpen);
    $('#chat-menu-button').setAttribute('aria-expanded', String(open && s.chatMenuOpen));
    renderSearch(s);
    if (!open) return;
    const data = headerData(s);
    if (!data) return;
    const peerAvatar = fillAvatar($('#peer-avatar'), data.avatar);
    peerAvatar.classList.toggle('online', data.online);
    setText($('#peer-name'), data.name);
    const status = $('#peer-status');
    setText(status, data.status);
    status.dataset.online = String(data.online);
    setText($('#toggle-pin'), data.pin);
    setText($('#toggle-mute'), data.mute);
    show($('#toggle-mute'), data.showMute);
    show($('#toggle-block'), Boolean(data.block));
    if (data.block) setText($('#toggle-block'), data.block);
    show($('#show-members'), data.group);
    const typingLine = $('#typing');
    if (data.typing) setText(typingLine, data.typing);
    show(typingLine, Boolean(data.typing));
    setText($('#composer-blocked'), data.notice);
    show($('#composer-blocked'), Boolean(data.notice));
    show($('#composer'), data.composer);
  };
}
