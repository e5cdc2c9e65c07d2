// The event stream position kept between reloads.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createEventStream } from '../../chatbox/web/static/js/stream.js';

function memoryStorage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
    map,
  };
}

test('a fresh stream starts live, then from the lists position, then follows applied seqs forward only', () => {
  const storage = memoryStorage();
  const stream = createEventStream(storage, 'k');
  assert.equal(stream.position, null);
  assert.deepEqual(stream.handshake(), {});
  stream.start(10);
  stream.start(99); // a position is kept already
  assert.deepEqual(stream.handshake(), { since: 10 });
  stream.applied({ seq: 12 });
  stream.applied({ seq: 11 });
  stream.applied(undefined);
  stream.applied({ seq: 'x' });
  assert.equal(stream.position, 12);
  assert.equal(storage.getItem('k'), '12');
  stream.reset(5); // sync-reset moves it anywhere
  assert.equal(stream.position, 5);
  stream.forget();
  assert.equal(stream.position, null);
  assert.equal(storage.map.has('k'), false);
});

test('a kept position resumes; a broken one is ignored', () => {
  assert.equal(createEventStream(memoryStorage({ k: '42' }), 'k').position, 42);
  assert.equal(createEventStream(memoryStorage({ k: 'nope' }), 'k').position, null);
  assert.equal(createEventStream(memoryStorage({ k: '-1' }), 'k').position, null);
});
