// The store's one update path: every change goes through update(fn), and every subscriber runs after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createStore, initialState } from '../../chatbox/web/static/js/store.js';

test('subscribe runs at once with the state, then after every update', () => {
  const store = createStore();
  const seen = [];
  store.subscribe((s) => seen.push(s.peerId));
  store.update((s) => {
    s.peerId = 'u1';
  });
  store.update((s) => {
    s.peerId = 'u2';
  });
  assert.deepEqual(seen, [null, 'u1', 'u2']);
});

test('an update made while subscribers run is applied after them, in order, and seen by all', () => {
  const store = createStore();
  const first = [];
  const second = [];
  store.subscribe((s) => {
    first.push(s.connection);
    if (s.connection === 'online' && !s.me) store.update((st) => {
      st.me = { _id: 'me' };
    });
  });
  store.subscribe((s) => second.push([s.connection, Boolean(s.me)]));
  store.update((s) => {
    s.connection = 'online';
  });
  assert.deepEqual(first, ['connecting', 'online', 'online']);
  assert.deepEqual(second, [['connecting', false], ['online', false], ['online', true]]);
  assert.equal(store.state.me._id, 'me');
});

test('unsubscribe stops the redraws', () => {
  const store = createStore();
  let runs = 0;
  const stop = store.subscribe(() => {
    runs += 1;
  });
  stop();
  store.update(() => {});
  assert.equal(runs, 1);
});

test('reset starts from a fresh state but keeps the limits and the boot flag', () => {
  const store = createStore();
  store.update((s) => {
    s.limits = { messageTextMax: 5000 };
    s.booted = true;
    s.me = { _id: 'me' };
    s.chats.set('u1', { kind: 'direct' });
    s.extra = 'gone';
  });
  store.reset({ connection: 'offline' });
  const s = store.state;
  assert.deepEqual(s.limits, { messageTextMax: 5000 });
  assert.equal(s.booted, true);
  assert.equal(s.me, null);
  assert.equal(s.chats.size, 0);
  assert.equal(s.connection, 'offline');
  assert.equal('extra' in s, false);
  assert.deepEqual(Object.keys(s).sort(), Object.keys(initialState()).sort());
});

test('the initial state carries no server limit of its own', () => {
  assert.deepEqual(initialState().limits, {});
});
