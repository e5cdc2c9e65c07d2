"""Presence shared by every server process through Redis.

Each process (a "node") owns its sockets: it keeps them in memory and writes to Redis only what the
other nodes need to know. Keys (all under one prefix):

    node:<node>          "1" with a TTL; the node is alive while it exists (refreshed by the heartbeat)
    nodes                set of nodes that wrote presence, so a live node can clean up after a dead one
    node:<node>:users    set of user ids with at least one socket on <node>
    user:<user>          hash <node> -> number of that user's sockets on <node>
    view:<user>          hash "<node>/<sid>" -> id of the user whose chat that socket views

A user is online while some field of `user:<user>` names a node whose `node:<node>` key exists, so the
sockets of a node that dies stop counting once its key expires: one key per node is refreshed, never
one per socket. `reap_dead_nodes()` then removes the dead node's entries and says which users it left
offline. Transitions (first socket anywhere, last socket anywhere) are decided by Lua scripts, so two
nodes connecting or disconnecting the same user at once agree on exactly one transition.
"""

from __future__ import annotations

import threading
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import redis

from chatbox.realtime.presence import TooManyConnections

DEFAULT_PREFIX = "chatbox:presence:"
LOCK_STRIPES = 64

# Shared by the scripts below: does some live node (other than `except_node`, if given) hold a socket
# of the user whose hash is `user_key`?
_ONLINE_ON_A_LIVE_NODE = """
local function online_on_a_live_node(user_key, alive_prefix, except_node)
  local fields = redis.call('HGETALL', user_key)
  for i = 1, #fields, 2 do
    if fields[i] ~= except_node and tonumber(fields[i + 1]) > 0
        and redis.call('EXISTS', alive_prefix .. fields[i]) == 1 then
      return 1
    end
  end
  return 0
end
"""

# KEYS: user hash, node users set. ARGV: node, local count, alive-key prefix, user id, most sockets (0: any).
# Returns 1 when another live node already had a socket of this user, -1 (writing nothing) when the
# user's sockets on all live nodes would exceed the most allowed.
_CONNECT = _ONLINE_ON_A_LIVE_NODE + """
local most = tonumber(ARGV[5])
if most > 0 then
  local total = tonumber(ARGV[2])
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if fields[i] ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
      total = total + tonumber(fields[i + 1])
    end
  end
  if total > most then
    return -1
  end
end
local others = online_on_a_live_node(KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return others
"""

# KEYS: user hash, node users set, view hash. ARGV: node, local count, alive-key prefix, user id, view field.
# Returns 1 while some live node still has a socket of this user.
_DISCONNECT = _ONLINE_ON_A_LIVE_NODE + """
redis.call('HDEL', KEYS[3], ARGV[5])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[4])
return online_on_a_live_node(KEYS[1], ARGV[3], nil)
"""

# KEYS: user hashes. ARGV: alive-key prefix. Returns one 0/1 per key.
_ONLINE = _ONLINE_ON_A_LIVE_NODE + """
local result = {}
for k = 1, #KEYS do
  result[k] = online_on_a_live_node(KEYS[k], ARGV[1], nil)
end
return result
"""

# KEYS: view hash. ARGV: other user id, alive-key prefix.
_VIEWING = """
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i + 1] == ARGV[1] then
    local node = string.match(fields[i], '^([^/]+)/')
    if node and redis.call('EXISTS', ARGV[2] .. node) == 1 then
      return 1
    end
  end
end
return 0
"""

# KEYS: user hash, view hash. ARGV: dead node, alive-key prefix.
# Returns -1 if the node came back meanwhile, else 1 while the user is still online elsewhere, else 0.
_REAP_USER = _ONLINE_ON_A_LIVE_NODE + """
if redis.call('EXISTS', ARGV[2] .. ARGV[1]) == 1 then
  return -1
end
redis.call('HDEL', KEYS[1], ARGV[1])
local views = redis.call('HKEYS', KEYS[2])
local mark = ARGV[1] .. '/'
for i = 1, #views do
  if string.sub(views[i], 1, #mark) == mark then
    redis.call('HDEL', KEYS[2], views[i])
  end
end
return online_on_a_live_node(KEYS[1], ARGV[2], nil)
"""


def redis_client(
    url: str, max_connections: int, pool_timeout: float = 10.0, socket_timeout: float | None = None
) -> redis.Redis:
    """A client whose pool waits for a free connection instead of failing past `max_connections`
    (and whose calls wait at most `socket_timeout` seconds for Redis, when given)."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
    )
    return redis.Redis(connection_pool=pool)


class RedisPresence:
    """`PresenceStore` in Redis; one instance per server process (per app)."""

    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: int,
        prefix: str = DEFAULT_PREFIX,
        node_id: str | None = None,
    ) -> None:
        self.redis = client
        self.ttl_seconds = max(1, int(ttl_seconds))
        self.prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex
        self._alive_prefix = f"{prefix}node:"
        self._sockets: dict[str, set[str]] = defaultdict(set)
        self._viewing: dict[str, dict[str, str]] = defaultdict(dict)  # user -> sid -> other user
        # One lock per stripe of users keeps a user's local change and its Redis write in one order.
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)
        self._online = client.register_script(_ONLINE)
        self._viewing_script = client.register_script(_VIEWING)
        self._reap_user = client.register_script(_REAP_USER)
        self._registered = False

    # --- keys ----------------------------------------------------------------------------------

    def _alive_key(self, node: str) -> str:
        return f"{self._alive_prefix}{node}"

    def _node_users_key(self, node: str) -> str:
        return f"{self.prefix}node:{node}:users"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def _view_key(self, user_id: str) -> str:
        return f"{self.prefix}view:{user_id}"

    @property
    def _nodes_key(self) -> str:
        return f"{self.prefix}nodes"

    def _view_field(self, sid: str) -> str:
        return f"{self.node_id}/{sid}"

    def _lock(self, user_id: str) -> Any:
        return self._locks[zlib.crc32(user_id.encode()) % LOCK_STRIPES]

    # --- liveness ------------------------------------------------------------------------------

    def _ensure_registered(self) -> None:
        if not self._registered:
            self.refresh()

    def refresh(self) -> None:
        """Heartbeat: keep this node alive; if its key had expired (or was reaped), write its state again."""
        previous = self.redis.set(self._alive_key(self.node_id), "1", ex=self.ttl_seconds, get=True)
        if previous is not None and self._registered:
            return
        self._registered = True
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self._nodes_key, self.node_id)
        for user_id, sids in list(self._sockets.items()):
            if sids:
                pipe.hset(self._user_key(user_id), self.node_id, len(sids))
                pipe.sadd(self._node_users_key(self.node_id), user_id)
        for user_id, views in list(self._viewing.items()):
            for sid, other_id in list(views.items()):
                pipe.hset(self._view_key(user_id), self._view_field(sid), other_id)
        pipe.execute()

    def shutdown(self) -> None:
        """A clean stop: let the other nodes reap this one now rather than after the TTL."""
        self.redis.delete(self._alive_key(self.node_id))
        self._registered = False

    def reap_dead_nodes(self) -> list[str]:
        """Remove the entries of nodes whose key expired; return the users that left offline."""
        offline: list[str] = []
        for raw in self.redis.smembers(self._nodes_key):
            node = raw.decode() if isinstance(raw, bytes) else str(raw)
            if node == self.node_id or self.redis.exists(self._alive_key(node)):
                continue
            if not self.redis.srem(self._nodes_key, node):
                continue  # another live node is reaping it
            users_key = self._node_users_key(node)
            for raw_user in self.redis.smembers(users_key):
                user_id = raw_user.decode() if isinstance(raw_user, bytes) else str(raw_user)
                still = self._reap_user(
                    keys=[self._user_key(user_id), self._view_key(user_id)], args=[node, self._alive_prefix]
                )
                if int(still) == -1:
                    break  # the node came back: it writes its own state again
                if int(still) == 0 and not self._sockets.get(user_id):
                    offline.append(user_id)
            else:
                self.redis.delete(users_key)
        return offline

    # --- PresenceStore -------------------------------------------------------------------------

    def add_connection(self, user_id: str, sid: str, max_sockets: int = 0) -> bool:
        self._ensure_registered()
        with self._lock(user_id):
            sockets = self._sockets[user_id]
            if sid in sockets:
                return False
            first_here = not sockets
            sockets.add(sid)
            try:
                others = int(
                    self._connect(
                        keys=[self._user_key(user_id), self._node_users_key(self.node_id)],
                        args=[self.node_id, len(sockets), self._alive_prefix, user_id, max_sockets],
                    )
                )
                if others == -1:
                    raise TooManyConnections
            except BaseException:  # refused, or not recorded in Redis: not recorded here either
                sockets.discard(sid)
                if not sockets:
                    del self._sockets[user_id]
                raise
            return first_here and others == 0

    def remove_connection(self, user_id: str, sid: str) -> bool:
        with self._lock(user_id):
            sockets = self._sockets.get(user_id)
            views = self._viewing.get(user_id)
            if views is not None:
                views.pop(sid, None)
                if not views:
                    self._viewing.pop(user_id, None)
            if not sockets or sid not in sockets:
                return False
            sockets.discard(sid)
            count = len(sockets)
            if not count:
                del self._sockets[user_id]
                self._viewing.pop(user_id, None)
            still = self._disconnect(
                keys=[self._user_key(user_id), self._node_users_key(self.node_id), self._view_key(user_id)],
                args=[self.node_id, count, self._alive_prefix, user_id, self._view_field(sid)],
            )
            return count == 0 and int(still) == 0

    def is_online(self, user_id: str) -> bool:
        if self._sockets.get(user_id):
            return True
        return bool(int(self._online(keys=[self._user_key(user_id)], args=[self._alive_prefix])[0]))

    def online_among(self, user_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(user_ids))
        online = {u for u in ids if self._sockets.get(u)}
        rest = [u for u in ids if u not in online]
        if rest:
            flags = self._online(keys=[self._user_key(u) for u in rest], args=[self._alive_prefix])
            online.update(u for u, flag in zip(rest, flags, strict=True) if int(flag))
        return online

    def connection_count(self, user_id: str) -> int:
        """Sockets of `user_id` on live nodes (for operators and tests)."""
        counts = self.redis.hgetall(self._user_key(user_id))
        total = 0
        for raw_node, raw_count in counts.items():
            node = raw_node.decode() if isinstance(raw_node, bytes) else str(raw_node)
            if self.redis.exists(self._alive_key(node)):
                total += int(raw_count)
        return total

    def set_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        with self._lock(user_id):
            if sid in self._sockets.get(user_id, ()):
                self._viewing[user_id][sid] = other_id
                self.redis.hset(self._view_key(user_id), self._view_field(sid), other_id)

    def stop_viewing(self, user_id: str, sid: str, other_id: str) -> None:
        with self._lock(user_id):
            views = self._viewing.get(user_id)
            if views is None or views.get(sid) != other_id:
                return
            del views[sid]
            if not views:
                self._viewing.pop(user_id, None)
            self.redis.hdel(self._view_key(user_id), self._view_field(sid))

    def is_viewing(self, user_id: str, other_id: str) -> bool:
        if other_id in self._viewing.get(user_id, {}).values():
            return True
        return bool(int(self._viewing_script(keys=[self._view_key(user_id)], args=[other_id, self._alive_prefix])))

    def viewing_among(self, user_ids: Iterable[str], other_id: str) -> set[str]:
        ids = list(dict.fromkeys(user_ids))
        viewing = {u for u in ids if other_id in self._viewing.get(u, {}).values()}
        rest = [u for u in ids if u not in viewing]
        if rest:
            pipe = self.redis.pipeline(transaction=False)
            for user_id in rest:
                self._viewing_script(keys=[self._view_key(user_id)], args=[other_id, self._alive_prefix], client=pipe)
            flags = pipe.execute()
            viewing.update(u for u, flag in zip(rest, flags, strict=True) if int(flag))
        return viewing
