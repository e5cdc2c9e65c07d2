// The socket wrapper: a refused connection that may succeed later is tried again after a growing delay.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RETRY_LATER, connectSocket, retryDelay } from '../../chatbox/web/static/js/socket.js';

/** A stand-in for socket.io-client's Socket: records connect() calls, lets the test fire events. */
function fakeIo() {
  const socket = {
    handlers: new Map(),
    connects: 0,
    connected: false,
    active: true,
    on(event, fn) {
      this.handlers.set(event, fn);
    },
    onAny() {},
    connect() {
      this.connects += 1;
    },
    disconnect() {},
    removeAllListeners() {},
    fire(event, arg) {
      this.handlers.get(event)(arg);
    },
  };
  let options = null;
  const io = (opts) => {
    options = opts;
    return socket;
  };
  return { io, socket, options: () => options };
}

function fakeTimers() {
  const pending = [];
  return {
    pending,
    setTimeout: (fn, ms) => pending.push({ fn, ms }) && pending.length,
    clearTimeout: () => {},
    runNext() {
      pending.shift().fn();
    },
  };
}

test('the delay doubles from one second up to thirty, with jitter between half and all of it', () => {
  assert.equal(retryDelay(0, { random: () => 1 }), 1000);
  assert.equal(retryDelay(0, { random: () => 0 }), 500);
  assert.equal(retryDelay(3, { random: () => 1 }), 8000);
  assert.equal(retryDelay(10, { random: () => 1 }), 30000);
  assert.equal(retryDelay(1000, { random: () => 0 }), 15000);
});

test('"Too many connections" is tried again after a growing delay; a connect starts over', () => {
  const { io, socket } = fakeIo();
  const timers = fakeTimers();
  const statuses = [];
  connectSocket({ io, handshake: () => ({}), onStatus: (s) => statuses.push(s), onUnauthorized: () => assert.fail(), timers, delay: (n) => n });
  socket.active = false; // what socket.io-client says after a refusal by the server
  socket.fire('connect_error', new Error('Too many connections'));
  socket.fire('connect_error', new Error('Too many connections'));
  assert.deepEqual(timers.pending.map((t) => t.ms), [0, 1]);
  timers.runNext();
  assert.equal(socket.connects, 1);
  socket.fire('connect');
  socket.fire('connect_error', new Error('Server unavailable'));
  assert.equal(timers.pending.at(-1).ms, 0);
  assert.deepEqual(statuses, ['offline', 'offline', 'online', 'offline']);
  assert.ok(RETRY_LATER.has('Server unavailable'));
});

test('a network failure is left to socket.io-client, and "Unauthorized" ends the session', () => {
  const { io, socket } = fakeIo();
  const timers = fakeTimers();
  let unauthorized = 0;
  connectSocket({ io, handshake: () => ({}), onStatus: () => {}, onUnauthorized: () => (unauthorized += 1), timers });
  socket.fire('connect_error', new Error('xhr poll error')); // active: it reconnects by itself
  assert.equal(timers.pending.length, 0);
  socket.active = false;
  socket.fire('connect_error', new Error('Unauthorized'));
  assert.equal(timers.pending.length, 0);
  assert.equal(unauthorized, 1);
});

test('a closed socket is not tried again', () => {
  const { io, socket } = fakeIo();
  const timers = fakeTimers();
  const wrapper = connectSocket({ io, handshake: () => ({}), onStatus: () => {}, onUnauthorized: () => {}, timers });
  socket.active = false;
  socket.fire('connect_error', new Error('Too many connections'));
  wrapper.close();
  timers.runNext();
  assert.equal(socket.connects, 0);
});

test('the handshake is asked again on every connection, and emits wait for a connection', async () => {
  const { io, socket, options } = fakeIo();
  let position = 3;
  const wrapper = connectSocket({ io, handshake: () => ({ since: position }), onStatus: () => {}, onUnauthorized: () => {}, timers: fakeTimers() });
  const sent = [];
  options().auth((a) => sent.push(a));
  position = 7;
  options().auth((a) => sent.push(a));
  assert.deepEqual(sent, [{ since: 3 }, { since: 7 }]);
  assert.equal(options().withCredentials, true);
  assert.deepEqual(await wrapper.emit('typing', {}), { ok: false, message: 'Not connected.', code: 'not_connected' });
  socket.connected = true;
  socket.timeout = () => ({ emitWithAck: () => Promise.reject(new Error('timeout')) });
  assert.equal((await wrapper.emit('typing', {})).code, 'timeout');
});
