"""Sockets outlive requests: this drops the ones whose token stopped being good while they were quiet.

Every event re-checks its socket's token (namespace `_current_user`), but a silent socket would go on
receiving messages and counting as online. So: right after a logout, password change or administrator's
action, the process that handled it re-checks that user's sockets and announces the change to the other
processes on the Socket.IO queue's Redis channel, and they re-check theirs; and every few seconds each
process re-checks the sockets of users whose sessions changed anywhere (what an announcement missed).

The per-event check reads the user's document from `SessionCache` instead of the database: the cache
forgets a user as soon as a change is made here or announced, so the next event reads it again.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

import socketio

from chatbox.auth.tokens import CLOCK_MARGIN, TokenSession, check_session, user_for_session
from chatbox.background import Periodic
from chatbox.errors import ApiError
from chatbox.models import User
from chatbox.models.ids import utcnow
from chatbox.realtime.notifier import user_room
from chatbox.realtime.scale_out import QueueManager

log = logging.getLogger("chatbox.realtime")

NAMESPACE = "/"


class SessionCache:
    """The documents of users with sockets on this process, for checking a socket's token at each event
    without reading the database (the token's version, expiry and the account's state are checked
    against it every time; the revocation list is still asked while the user's sessions just changed).

    Only a process that hears every change may keep one (`usable`): one on the Socket.IO queue's Redis
    channel while its listener is subscribed, or one on the embedded database (no other process can
    change it). A change forgets the user here at once; a document read before a change and returned
    after it is not kept (`generation`).
    """

    def __init__(self, max_users: int, usable: bool) -> None:
        self.max_users = max_users
        self.usable = usable and max_users > 0
        self.generation = 0
        self._users: OrderedDict[str, User] = OrderedDict()

    def user(self, session: TokenSession) -> User:
        """The user `session` speaks for, or the ApiError (401/403) that refuses it."""
        user = self.known(session.user_id)
        if user is not None:
            self._users.move_to_end(session.user_id)
            return check_session(session, user)
        generation = self.generation
        user = check_session(session, User.objects(id=session.user_id).first())
        self.keep(user, generation)
        return user

    def keep(self, user: User, generation: int) -> None:
        """Keep `user`, read from the database after `generation` was current, unless a change came since."""
        if not self.usable or generation != self.generation:
            return
        self._users[str(user.id)] = user
        self._users.move_to_end(str(user.id))
        while len(self._users) > self.max_users:
            self._users.popitem(last=False)

    def known(self, user_id: str) -> User | None:
        """The kept document of `user_id`, if any (any user with a socket here, not only a socket's own)."""
        return self._users.get(user_id) if self.usable else None

    def forget(self, user_id: str) -> None:
        self.generation += 1
        self._users.pop(user_id, None)

    def listening(self, listening: bool) -> None:
        """Whether this process hears other processes' changes now: start afresh either way."""
        self.generation += 1
        self._users.clear()
        self.usable = listening and self.max_users > 0

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._users


class SessionGuard:
    def __init__(self, server: socketio.Server, sweep_seconds: float, cache: SessionCache) -> None:
        self.server = server
        self.sweep_seconds = sweep_seconds
        self.cache = cache
        self._swept_until: datetime = utcnow()
        # A failed pass is retried by the next one, which covers its changes too (_swept_until stays).
        self._sweeper = Periodic("session sweep", sweep_seconds, self.sweep, spawn=server.start_background_task)
        manager = server.manager
        if isinstance(manager, QueueManager):
            manager.on_sessions_changed = self._changed_elsewhere
            manager.on_listening = cache.listening

    @property
    def _queue(self) -> QueueManager | None:
        manager = self.server.manager
        return manager if isinstance(manager, QueueManager) else None

    def ensure_started(self) -> None:
        """Start the sweep with this process's first socket (an app that never serves one needs none)."""
        self._sweeper.start()

    def stop(self) -> None:
        self._sweeper.stop()

    def user_changed(self, user_id: str) -> None:
        """The user's document changed (profile, blocks, pins, or an account switch from the CLI): every
        process reads it again at their sockets' next event. Every write to a user's document that a
        socket's event may read must call this (or `recheck_user`) after the write."""
        self.cache.forget(user_id)
        self._announce(user_id, recheck=False)

    def recheck_user(self, user_id: str) -> int:
        """The user's sessions changed (a logout, a password change, an administrator's action): every
        process forgets the user and re-checks their sockets. Disconnect this process's sockets of
        `user_id` whose token is no longer good now; return how many."""
        self.cache.forget(user_id)
        self._announce(user_id, recheck=True)
        return self._recheck_here(user_id)

    def known_user(self, user_id: str) -> User | None:
        return self.cache.known(user_id)

    def current_user(self, session: TokenSession) -> User:
        """The user a socket's event speaks for, or the ApiError that refuses the event."""
        return self.cache.user(session)

    def _announce(self, user_id: str, recheck: bool) -> None:
        queue = self._queue
        if queue is None:
            return
        try:
            queue.announce_sessions_changed(user_id, recheck)
        except Exception:  # the change is stored; each process's sweep drops the sockets anyway
            log.exception("could not announce the session change of %s", user_id)

    def _changed_elsewhere(self, user_id: str, recheck: bool) -> None:
        self.cache.forget(user_id)
        if recheck:
            self.server.start_background_task(self._recheck_here, user_id)

    def _recheck_here(self, user_id: str) -> int:
        return self._drop_stale(
            sid for sid, _eio_sid in self.server.manager.get_participants(NAMESPACE, user_room(user_id))
        )

    def sweep(self) -> None:
        """One pass: sockets whose token expired, and those of users whose sessions changed anywhere."""
        started = utcnow()
        self._drop_expired()
        changed = User.objects(sessions_changed_at__gte=self._swept_until - CLOCK_MARGIN).only("id")
        for user in changed:
            self.cache.forget(str(user.id))
            self._recheck_here(str(user.id))
        # Only a complete pass moves the watermark, so a failed one is done again next time.
        self._swept_until = started

    def _drop_expired(self) -> None:
        now = time.time()
        expired = []
        for sid, _eio_sid in self.server.manager.get_participants(NAMESPACE, None):
            session = self._token_of(sid)
            if session is not None and session.expires_at <= now:
                expired.append(sid)
        self._drop_stale(expired)

    def _token_of(self, sid: str) -> TokenSession | None:
        try:
            return self.server.get_session(sid, namespace=NAMESPACE).get("token")
        except KeyError:
            return None  # gone meanwhile

    def _drop_stale(self, sids: Iterable[str]) -> int:
        dropped = 0
        for sid in list(sids):
            session = self._token_of(sid)
            if session is None:
                continue
            try:
                user_for_session(session)
                continue
            except ApiError as exc:
                log.info("dropping socket %s of %s: %s", sid, session.user_id, exc.code)
            try:
                self.server.disconnect(sid, namespace=NAMESPACE)
                dropped += 1
            except Exception:
                log.exception("could not drop socket %s", sid)
        return dropped
