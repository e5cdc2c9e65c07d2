// REST: query strings, bodies, answers with their paging headers, errors as ApiError.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiError, createApi, paths } from '../../chatbox/web/static/js/api.js';

function reply(status, body, headers = {}) {
  return { ok: status < 400, status, json: async () => body, headers: { get: (k) => (k in headers ? headers[k] : null) } };
}

test('a page: query without empty values, cursor and sync position from the headers', async () => {
  const calls = [];
  const api = createApi({
    origin: 'http://chat.test',
    fetch: async (url, init) => {
      calls.push([String(url), init]);
      return reply(200, [{ _id: 1 }], { 'X-Next-Cursor': 'abc', 'X-Sync-Position': '17' });
    },
  });
  const page = await api.page('/api/messages/chats', { limit: 50, cursor: null, q: '' });
  assert.deepEqual(page, { body: [{ _id: 1 }], nextCursor: 'abc', syncPosition: 17 });
  assert.equal(calls[0][0], 'http://chat.test/api/messages/chats?limit=50');
  assert.equal(calls[0][1].credentials, 'same-origin');
});

test('JSON bodies, and a bearer token for a client on another origin', async () => {
  let seen = null;
  const api = createApi({ origin: 'http://chat.test', token: () => 'tok', fetch: async (url, init) => ((seen = init), reply(200, { ok: 1 })) });
  assert.deepEqual(await api.post('/api/auth/login', { email: 'a' }), { ok: 1 });
  assert.equal(seen.method, 'POST');
  assert.equal(seen.headers['Content-Type'], 'application/json');
  assert.equal(seen.headers.Authorization, 'Bearer tok');
  assert.equal(seen.body, '{"email":"a"}');
});

test('errors: the server sentence and code; a 401 tells the session; no network is code network_error', async () => {
  let ended = 0;
  const api = createApi({
    origin: 'http://chat.test',
    onUnauthorized: () => (ended += 1),
    fetch: async (url) => (String(url).endsWith('/gone') ? reply(401, { message: 'Token expired', code: 'unauthorized' }) : reply(413, null)),
  });
  await assert.rejects(api.get('/gone'), (e) => e instanceof ApiError && e.status === 401 && e.code === 'unauthorized');
  assert.equal(ended, 1);
  await assert.rejects(api.get('/big'), (e) => e.status === 413 && e.message === 'Request failed (413)');
  const offline = createApi({ origin: 'http://chat.test', fetch: async () => { throw new TypeError('fetch failed'); } });
  await assert.rejects(offline.get('/x'), (e) => e.code === 'network_error' && e.status === 0);
});

test('paths of a direct chat and of a group', () => {
  assert.equal(paths.history('u1', false), '/api/messages/u1');
  assert.equal(paths.history('g1', true), '/api/chats/g1/messages');
  assert.equal(paths.send('u1', false), '/api/messages/send/u1');
  assert.equal(paths.send('g1', true), '/api/chats/g1/messages');
  assert.equal(paths.search('u1', false), '/api/messages/search/u1');
  assert.equal(paths.search('g1', true), '/api/chats/g1/search');
});
