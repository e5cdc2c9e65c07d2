/*
 * Socket.IO: a small wrapper around the vendored socket.io-client (`window.io`, static/vendor/).
 *
 * Same origin: the `jwt` cookie goes with the handshake (elsewhere: io(url, {auth: {token}})). The
 * handshake's `auth` is a function, so every reconnection resumes the event stream where it stopped.
 * socket.io-client reconnects by itself after a network failure, but not after the server refused the
 * connection: "Unauthorized" ends the session; "Too many connections" (the user's sockets are at
 * MAX_SOCKETS_PER_USER) and "Server unavailable" (Redis down) mean "connect again later", which this
 * wrapper does, after a growing delay.
 */

/** Refusals after which connecting again later can succeed. */
export const RETRY_LATER = new Set(['Too many connections', 'Server unavailable']);
export const ACK_TIMEOUT_MS = 10000;

/** The wait before the attempt after `failures` refusals: doubling from 1 s up to 30 s, then a random half to all of it. */
export function retryDelay(failures, { baseMs = 1000, maxMs = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * `connectSocket({io, handshake, onStatus, onUnauthorized, onAny})`: `onStatus` hears 'online' /
 * 'offline'; `onAny(event, payload, meta)` runs before each event's own handler (the stream position).
 */
export function connectSocket({ io, handshake, onStatus, onUnauthorized, onAny = () => {}, timers = globalThis, delay = retryDelay }) {
  const socket = io({ withCredentials: true, auth: (send) => send(handshake()) });
  let refusals = 0;
  let retryTimer = null;
  let closed = false;

  socket.on('connect', () => {
    refusals = 0;
    onStatus('online');
  });
  socket.onAny(onAny);
  socket.on('disconnect', () => onStatus('offline'));
  socket.on('connect_error', (error) => {
    const message = error && error.message;
    if (message === 'Unauthorized') {
      onUnauthorized();
      return;
    }
    onStatus('offline');
    // `active` is false when the server refused the connection: socket.io-client will not retry it.
    if (RETRY_LATER.has(message) && !socket.active && !closed) {
      socket.disconnect(); // no idle transport held open while waiting: the next try opens a new one
      timers.clearTimeout(retryTimer);
      retryTimer = timers.setTimeout(() => {
        retryTimer = null;
        if (!closed) socket.connect();
      }, delay(refusals));
      refusals += 1;
    }
  });

  return {
    on: (event, handler) => socket.on(event, handler),
    get connected() {
      return socket.connected;
    },
    /** Emit a client event; resolves to the server's ack ({ok: true, ...} or {ok: false, message, code}). */
    emit(event, payload) {
      if (!socket.connected) return Promise.resolve({ ok: false, message: 'Not connected.', code: 'not_connected' });
      return socket
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck(event, payload)
        .catch(() => ({ ok: false, message: 'The server did not answer.', code: 'timeout' }));
    },
    /** Sign in again (a new cookie after a password change). */
    reconnect() {
      socket.disconnect();
      socket.connect();
    },
    close() {
      closed = true;
      timers.clearTimeout(retryTimer);
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
}
