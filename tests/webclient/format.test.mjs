// The formatting helpers: text a person reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as f from '../../chatbox/web/static/js/format.js';

test('sizes in B, KB and MB', () => {
  assert.equal(f.formatSize(0), '0 B');
  assert.equal(f.formatSize(1023), '1023 B');
  assert.equal(f.formatSize(1024), '1 KB');
  assert.equal(f.formatSize(1536 * 1024), '1.5 MB');
});

test('days: Today, Yesterday, else the date; chat times: the clock today, the day before', () => {
  const now = new Date(2024, 4, 10, 15, 0);
  assert.equal(f.formatDay(new Date(2024, 4, 10, 1, 0), now), 'Today');
  assert.equal(f.formatDay(new Date(2024, 4, 9, 23, 59), now), 'Yesterday');
  assert.match(f.formatDay(new Date(2024, 4, 1), now), /2024/);
  assert.equal(f.formatDay(new Date(2024, 0, 1), new Date(2024, 0, 2)), 'Yesterday');
  assert.equal(f.formatWhen('', now), '');
  assert.equal(f.formatWhen(new Date(2024, 4, 10, 9, 5).toISOString(), now), f.formatClock(new Date(2024, 4, 10, 9, 5).toISOString()));
  assert.doesNotMatch(f.formatWhen(new Date(2024, 3, 2).toISOString(), now), /:/);
});

test('initials, hues and name colours are stable', () => {
  assert.equal(f.initials('ada  lovelace byron'), 'AL');
  assert.equal(f.initials(''), '?');
  assert.equal(f.initials(undefined), '?');
  assert.equal(f.avatarHue('abc'), f.avatarHue('abc'));
  assert.ok(f.avatarHue('zzzz') >= 0 && f.avatarHue('zzzz') < 360);
  assert.equal(f.avatarHue(undefined), 0);
  assert.match(f.nameColour('65f0c0ffee'), /^hsl\(\d+, 55%, 38%\)$/);
});

test('unread counts cap at 99+ and make the tab title', () => {
  assert.equal(f.countText(7), '7');
  assert.equal(f.countText(100), '99+');
  assert.equal(f.pageTitle(0), 'ChatBox');
  assert.equal(f.pageTitle(3), '(3) ChatBox');
  assert.equal(f.pageTitle(250), '(99+) ChatBox');
});

test('typing lines for one, two and more people', () => {
  assert.equal(f.typingText(['Ann']), 'Ann is typing…');
  assert.equal(f.typingText(['Ann', 'Ben']), 'Ann and Ben are typing…');
  assert.equal(f.typingText(['Ann', 'Ben', 'Cy']), '3 people are typing…');
});

test('system messages name the actor and the people', () => {
  const names = { a: 'Ann', b: 'Ben', c: 'Cy' };
  const nameOf = (id) => names[id];
  assert.equal(f.systemText({ type: 'created', actorId: 'a', name: 'Trip' }, nameOf), 'Ann created the group “Trip”');
  assert.equal(f.systemText({ type: 'member_added', actorId: 'a', userIds: ['b', 'c'] }, nameOf), 'Ann added Ben, Cy');
  assert.equal(f.systemText({ type: 'role_changed', actorId: 'a', userIds: ['b'], role: 'admin' }, nameOf), 'Ann made Ben an admin');
  assert.equal(f.systemText({ type: 'role_changed', actorId: 'a', userIds: ['b'], role: 'member' }, nameOf), 'Ann made Ben a member');
  assert.equal(f.systemText({ type: 'owner_changed', userIds: ['c'] }, nameOf), 'Cy is now the owner');
  assert.equal(f.systemText({ type: 'something_new' }, nameOf), 'The group changed');
});

test('search highlights every case-insensitive match', () => {
  assert.deepEqual(f.highlightParts('Message 012 and message 01', 'message 01'), [
    { text: 'Message 01', match: true },
    { text: '2 and ', match: false },
    { text: 'message 01', match: true },
  ]);
  assert.deepEqual(f.highlightParts('abc', ''), [{ text: 'abc', match: false }]);
  assert.deepEqual(f.highlightParts('', 'x'), [{ text: '', match: false }]);
});

test('errors: a validation error names its fields, others give their message', () => {
  assert.equal(
    f.describeError({ code: 'validation_error', message: 'Invalid', details: { email: ['Not an email.'], password: 'Too short.' } }),
    'email: Not an email. · password: Too short.',
  );
  assert.equal(f.describeError({ code: 'validation_error', message: 'Invalid', details: {} }), 'Invalid');
  assert.equal(f.describeError({ code: 'blocked', message: 'You cannot message this user.' }), 'You cannot message this user.');
});

test('quotes, receipts, captions and a peer status line', () => {
  assert.equal(f.quoteText({ deleted: true, text: 'x' }), 'This message was deleted');
  assert.equal(f.quoteText({ text: '', kind: 'image' }), 'Photo');
  assert.equal(f.quoteText({ text: '', kind: 'file' }), 'File');
  assert.equal(f.quoteText({ text: 'hi', kind: 'text' }), 'hi');
  assert.equal(f.receiptText('Ben', { deliveredAt: 'x' }), 'Ben: delivered');
  assert.equal(f.receiptText('Ben', {}), 'Ben: sent');
  assert.match(f.receiptText('Ben', { readAt: new Date().toISOString() }), /^Ben: read \d/);
  assert.equal(f.imageCaption({ name: 'a.png', width: 800, height: 500, size: 2048 }), 'a.png · 800×500 · 2 KB');
  assert.equal(f.imageCaption({ name: 'a.png', size: 10 }), 'a.png · 10 B');
  assert.equal(f.peerStatusText({ blockedByMe: true, typing: true, online: true }), 'Blocked');
  assert.equal(f.peerStatusText({ typing: true, online: true }), 'typing…');
  assert.equal(f.peerStatusText({ online: true }), 'online');
  assert.equal(f.peerStatusText({}), '');
  assert.match(f.peerStatusText({ lastSeen: new Date(2020, 0, 1).toISOString() }), /^last seen /);
});
