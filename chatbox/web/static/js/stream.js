/*
 * The event stream position: a reference implementation to copy into your own client.
 *
 * The server numbers every durable event of a user (new-message, new-chat, message-status,
 * messages-read, user-blocked, chat-pinned, chat-cleared, ...) with `seq` = 1, 2, 3, ..., emits it
 * live as `(payload, {seq})` and sends each socket its events in seq order, exactly once; a send's
 * ack carries that message's seq instead of a live new-message. So a client needs to keep only the
 * last seq it applied:
 *   1. after loading lists, start from their X-Sync-Position header (read before the list);
 *   2. connect with auth {since: last}; the server replays every event after it, then goes live;
 *   3. for every durable event and every ack with a seq: apply it (idempotently, by _id), then
 *      remember the seq;
 *   4. on `sync-reset {position}` (too far behind): refetch the lists and continue from position.
 * socket.io-client calls the `auth` function again on every reconnection, so step 2 is automatic.
 *
 * `storage` is a Web Storage (window.localStorage in the page, a Map-backed stand-in in the tests).
 */

export function createEventStream(storage, storageKey) {
  const stored = Number.parseInt(storage.getItem(storageKey) || '', 10);
  let last = Number.isInteger(stored) && stored >= 0 ? stored : null;
  const save = (seq) => {
    last = seq;
    storage.setItem(storageKey, String(seq));
  };
  return {
    get position() {
      return last;
    },
    /** The socket's handshake: resume after the last applied seq (live only when there is none yet). */
    handshake: () => (last === null ? {} : { since: last }),
    /** A durable event or an ack with `{seq}` was applied. */
    applied(meta) {
      if (meta && Number.isInteger(meta.seq) && (last === null || meta.seq > last)) save(meta.seq);
    },
    /** The position that came with freshly loaded lists, if no position is kept yet. */
    start(position) {
      if (last === null) save(position);
    },
    /** sync-reset: the lists must be refetched; continue from `position`. */
    reset(position) {
      save(position);
    },
    forget() {
      storage.removeItem(storageKey);
      last = null;
    },
  };
}
