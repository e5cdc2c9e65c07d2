// The client's rules over its state: merging, status ticks, unread counts, ordering, batches.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as model from '../../chatbox/web/static/js/model.js';
import { initialState } from '../../chatbox/web/static/js/store.js';

const ME = { _id: 'me', fullName: 'Me Myself' };

function state(fields = {}) {
  return Object.assign(initialState(), { me: ME }, fields);
}

const user = (id, extra = {}) => ({ _id: id, fullName: `User ${id}`, ...extra });
const direct = (id, extra = {}) => ({ _id: `chat-${id}`, kind: 'direct', user: user(id), unreadCount: 0, lastMessage: null, lastMessageAt: null, ...extra });
const group = (id, extra = {}) => ({ _id: id, kind: 'group', name: `Group ${id}`, unreadCount: 0, lastMessage: null, myRole: 'member', ...extra });
const msg = (id, extra = {}) => ({ _id: id, senderId: 'bob', receiverId: 'me', chatId: 'chat-bob', text: `m${id}`, status: 'sent', createdAt: '2024-01-01T10:00:00Z', ...extra });

test('chat keys: the other user for a direct chat, the chat id for a group', () => {
  assert.equal(model.chatKey(direct('bob')), 'bob');
  assert.equal(model.chatKey(group('g1')), 'g1');
});

test('upsertChat keeps one object per chat and per user, and no unread count for the open chat', () => {
  const s = state({ peerId: 'bob' });
  const first = model.upsertChat(s, direct('bob', { unreadCount: 2, isPinned: true }));
  assert.equal(first.unreadCount, 2); // first sight: as the server says
  const again = model.upsertChat(s, direct('bob', { unreadCount: 3, user: user('bob', { isOnline: true }) }));
  assert.equal(again, first);
  assert.equal(again.unreadCount, 0);
  assert.equal(s.users.get('bob'), again.user);
  assert.ok(s.online.has('bob'));
  assert.ok(s.pinned.has('bob'));
  model.upsertChat(s, direct('bob', { user: user('bob', { isOnline: false }) }));
  assert.ok(!s.online.has('bob'));
});

test('online means connected and not blocked by me', () => {
  const s = state();
  s.online.add('bob');
  assert.ok(model.isOnline(s, 'bob'));
  model.setBlocked(s, 'bob', true);
  assert.ok(!model.isOnline(s, 'bob'));
});

test('sorted chats: pinned first, then the most recent', () => {
  const s = state();
  model.upsertChat(s, direct('a', { lastMessageAt: '2024-01-01T10:00:00Z' }));
  model.upsertChat(s, direct('b', { lastMessageAt: '2024-01-03T10:00:00Z' }));
  model.upsertChat(s, group('g', { lastMessageAt: '2024-01-02T10:00:00Z', isPinned: true }));
  model.upsertChat(s, direct('c', { lastMessageAt: '2023-12-01T10:00:00Z' }));
  model.setPinned(s, 'c', true);
  assert.deepEqual(model.sortedChats(s).map(model.chatKey), ['g', 'c', 'b', 'a']);
});

test('unread counts: the open chat counts nothing, the title sums the others', () => {
  const s = state({ peerId: 'a' });
  model.upsertChat(s, direct('a', { unreadCount: 4 })); // first sight of the open chat: as listed
  model.upsertChat(s, direct('b', { unreadCount: 2 }));
  model.upsertChat(s, group('g', { unreadCount: 5 }));
  assert.equal(model.unreadOf(s, s.chats.get('a')), 0);
  assert.equal(model.unreadOf(s, s.chats.get('b')), 2);
  assert.equal(model.unreadTotal(s), 7);
  assert.equal(model.unreadTotal(state()), 0);
});

test('an incoming message counts once as unread, not when the chat is open and seen', () => {
  const s = state();
  model.upsertChat(s, direct('bob', { lastMessage: msg('0001') }));
  model.messageArrived(s, msg('0002'), { viewing: true });
  assert.equal(s.chats.get('bob').unreadCount, 1);
  model.messageArrived(s, msg('0002'), { viewing: true }); // the same one again (a replay): not counted
  assert.equal(s.chats.get('bob').unreadCount, 1);
  s.peerId = 'bob';
  model.messageArrived(s, msg('0003'), { viewing: true });
  assert.equal(s.chats.get('bob').unreadCount, 1);
  assert.deepEqual(s.messages.map((m) => m._id), ['0003']);
  model.messageArrived(s, msg('0004'), { viewing: false }); // a hidden tab is not looking
  assert.equal(s.chats.get('bob').unreadCount, 2);
  assert.equal(s.chats.get('bob').lastMessage._id, '0004');
  const result = model.messageArrived(s, msg('0005', { senderId: 'carol', chatId: 'chat-carol' }), { viewing: true });
  assert.deepEqual(result, { incoming: true, peerId: 'carol', reloadChats: true });
});

test('my own message does not count as unread and sticks the view to the bottom', () => {
  const s = state({ peerId: 'bob', stickToBottom: false });
  model.upsertChat(s, direct('bob'));
  const result = model.messageArrived(s, msg('0001', { senderId: 'me', receiverId: 'bob' }), { viewing: false });
  assert.equal(result.incoming, false);
  assert.equal(s.chats.get('bob').unreadCount, 0);
  assert.equal(s.stickToBottom, true);
});

test('mergeMessages: by id, a pending send by its clientMessageId, in id order with sends in flight last', () => {
  const s = state();
  s.messages.push({ _id: null, clientMessageId: 'c1', status: 'sending', text: 'hi' });
  model.mergeMessages(s, [msg('0003'), msg('0001')]);
  assert.deepEqual(s.messages.map((m) => m._id), ['0001', '0003', null]);
  model.mergeMessages(s, [msg('0004', { clientMessageId: 'c1', senderId: 'me' })]);
  assert.deepEqual(s.messages.map((m) => m._id), ['0001', '0003', '0004']);
  model.mergeMessages(s, [msg('0001')]);
  assert.equal(s.messages.length, 3);
});

test('status ticks only move forward, whatever order receipts and answers come in', () => {
  const s = state();
  model.upsertChat(s, direct('bob', { lastMessage: msg('0001', { senderId: 'me' }) }));
  model.mergeMessages(s, [msg('0001', { senderId: 'me' })]);
  model.raiseStatuses(s, ['0001'], 'read', { readAt: 'then' });
  assert.equal(s.messages[0].status, 'read');
  assert.equal(s.messages[0].readAt, 'then');
  assert.equal(s.chats.get('bob').lastMessage.status, 'read');
  model.raiseStatuses(s, ['0001'], 'delivered');
  assert.equal(s.messages[0].status, 'read');
  model.mergeMessages(s, [msg('0001', { senderId: 'me', status: 'sent' })]); // a late answer
  assert.equal(s.messages[0].status, 'read');
});

test('a receipt that overtakes its message is kept until the message shows up', () => {
  const s = state();
  model.raiseStatuses(s, ['0009'], 'delivered');
  assert.equal(s.earlyStatuses.get('0009'), 'delivered');
  model.mergeMessages(s, [msg('0009', { senderId: 'me' })]);
  assert.equal(s.messages[0].status, 'delivered');
  assert.equal(s.earlyStatuses.size, 0);
});

test('an edit updates the message, the chat preview and every quote of it', () => {
  const s = state({ limits: { replyPreviewChars: 100 } });
  const quoted = msg('0001', { text: 'helo' });
  model.upsertChat(s, direct('bob', { lastMessage: { ...quoted, status: 'read' } }));
  model.mergeMessages(s, [quoted, msg('0002', { replyTo: { _id: '0001', text: 'helo', kind: 'text' } })]);
  model.applyMessageUpdate(s, { ...quoted, text: 'hello', editedAt: 'now', status: 'sent' });
  assert.equal(s.messages[0].text, 'hello');
  assert.equal(s.messages[1].replyTo.text, 'hello');
  assert.equal(s.chats.get('bob').lastMessage.text, 'hello');
  assert.equal(s.chats.get('bob').lastMessage.status, 'read');
});

test('deleting: for everyone leaves a tombstone and ends a reply to it; for me removes it', () => {
  const s = state({ peerId: 'bob' });
  model.upsertChat(s, direct('bob'));
  model.mergeMessages(s, [msg('0001'), msg('0002', { replyTo: { _id: '0001', text: 'm0001', kind: 'text' } })]);
  s.replyTo = s.messages[0];
  const everyone = model.applyMessageDeleted(s, { messageId: '0001', chatId: 'chat-bob', deletedAt: 'now' });
  assert.equal(everyone.reloadChats, false);
  assert.equal(s.messages[0].deletedAt, 'now');
  assert.equal(s.messages[0].text, '');
  assert.equal(s.messages[1].replyTo.deleted, true);
  assert.equal(s.replyTo, null);
  model.applyMessageDeleted(s, { messageId: '0002', chatId: 'chat-bob', forMe: true });
  assert.deepEqual(s.messages.map((m) => m._id), ['0001']);
});

test('a deletion in another chat with unread messages asks for the list again', () => {
  const s = state({ peerId: 'carol' });
  model.upsertChat(s, direct('bob', { unreadCount: 1, lastMessage: msg('0001') }));
  assert.equal(model.applyMessageDeleted(s, { messageId: '0001', chatId: 'chat-bob', deletedAt: 'now' }).reloadChats, true);
});

test('previews: text, photo, file, deleted, system', () => {
  const s = state();
  s.users.set('a', user('a'));
  assert.deepEqual(model.previewOf(s, null), { text: '' });
  assert.deepEqual(model.previewOf(s, { text: 'hi' }), { text: 'hi' });
  assert.deepEqual(model.previewOf(s, { text: '', attachments: [{ kind: 'image' }] }), { icon: 'photo', text: 'Photo' });
  assert.deepEqual(model.previewOf(s, { text: '', attachments: [{ kind: 'file', name: 'a.pdf' }] }), { icon: 'file', text: 'a.pdf' });
  assert.deepEqual(model.previewOf(s, { deletedAt: 'x', text: 'hi' }), { text: 'This message was deleted' });
  assert.deepEqual(model.previewOf(s, { system: { type: 'member_left', actorId: 'a' } }), { text: 'User a left' });
  assert.deepEqual(model.previewOf(s, { system: { type: 'member_left', actorId: 'me' } }), { text: 'You left' });
});

test('names: me, members, known users, or Someone', () => {
  const s = state();
  s.members.set('m', { user: user('m', { fullName: 'Member M' }), role: 'member' });
  s.users.set('u', user('u'));
  assert.equal(model.memberName(s, 'me'), 'You');
  assert.equal(model.memberName(s, 'm'), 'Member M');
  assert.equal(model.memberName(s, 'u'), 'User u');
  assert.equal(model.memberName(s, 'x'), 'Someone');
});

test('forward targets: groups I am in and chats with no block either way', () => {
  const s = state();
  model.upsertChat(s, direct('a'));
  model.upsertChat(s, direct('b', { blockedByOtherUser: true }));
  model.upsertChat(s, direct('c'));
  model.setBlocked(s, 'c', true);
  model.upsertChat(s, group('g1'));
  model.upsertChat(s, group('g2', { myRole: null }));
  assert.deepEqual(model.forwardTargets(s).map(model.chatKey).sort(), ['a', 'g1']);
});

test('a send of files is cut by the server limit of images per request, files one per request', () => {
  const img = (n) => ({ name: `i${n}.png`, type: 'image/png' });
  const doc = (n) => ({ name: `d${n}.pdf`, type: 'application/pdf' });
  const files = [img(1), doc(1), img(2), img(3), doc(2)];
  const batches = model.planBatches(files, { text: 'look', replyTo: { _id: 'r' }, maxImagesPerSend: 2 });
  assert.deepEqual(
    batches.map((b) => [b.images.map((f) => f.name), b.file && b.file.name]),
    [[['i1.png', 'i2.png'], 'd1.pdf'], [['i3.png'], 'd2.pdf']],
  );
  assert.equal(batches[0].text, 'look');
  assert.equal(batches[0].replyTo._id, 'r');
  assert.equal(batches[1].text, undefined);
  assert.equal(model.planBatches([img(1), img(2), img(3)], { maxImagesPerSend: 10 }).length, 1);
  assert.throws(() => model.planBatches(files, {}), /limits are not loaded/);
});

test('arrow-up edits my last message that is stored and not deleted', () => {
  const s = state();
  model.mergeMessages(s, [msg('0001', { senderId: 'me' }), msg('0002', { senderId: 'me', deletedAt: 'x' }), msg('0003')]);
  s.messages.push({ _id: null, clientMessageId: 'c', senderId: 'me', status: 'sending' });
  assert.equal(model.lastEditable(s)._id, '0001');
});

test('a reply preview keeps the server\'s replyPreviewChars characters and the kind', () => {
  const long = 'x'.repeat(150);
  assert.deepEqual(model.quotePreview({ _id: '1', senderId: 'a', text: long, attachments: [{ kind: 'file' }] }, { replyPreviewChars: 40 }), {
    _id: '1',
    senderId: 'a',
    text: 'x'.repeat(40),
    kind: 'file',
    deleted: false,
  });
});

test('page sizes stay within the server limit pageMax', () => {
  assert.equal(model.pageSize({ pageMax: 100 }, 30), 30);
  assert.equal(model.pageSize({ pageMax: 25 }, 30), 25);
  assert.equal(model.pageSize({ pageMax: 100 }), 100);
  assert.throws(() => model.pageSize({}, 30), /limits are not loaded/);
});
