"""Sockets outlive requests: this drops the ones whose token stopped being good while they were quiet.

Every event re-checks its socket's token (namespace `_current_user`), but a silent socket would go on
receiving messages and counting as online. So: right after a logout or password change, the process
that handled it re-checks that user's sockets; and every few seconds each process re-checks the sockets
of users whose sessions changed anywhere (e.g. an administrator's CLI, or another process's logout).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

import socketio

from chatbox.auth.tokens import CLOCK_MARGIN, TokenSession, user_for_session
from chatbox.background import Periodic
from chatbox.errors import ApiError
from chatbox.models import User
from chatbox.models.ids import utcnow
from chatbox.realtime.notifier import user_room

log = logging.getLogger("chatbox.realtime")

NAMESPACE = "/"


class SessionGuard:
    def __init__(self, server: socketio.Server, sweep_seconds: float) -> None:
        self.server = server
        self.sweep_seconds = sweep_seconds
        self._swept_until: datetime = utcnow()
        # A failed pass is retried by the next one, which covers its changes too (_swept_until stays).
        self._sweeper = Periodic("session sweep", sweep_seconds, self.sweep, spawn=server.start_background_task)

    def ensure_started(self) -> None:
        """Start the sweep with this process's first socket (an app that never serves one needs none)."""
        self._sweeper.start()

    def stop(self) -> None:
        self._sweeper.stop()

    def recheck_user(self, user_id: str) -> int:
        """Disconnect this process's sockets of `user_id` whose token is no longer good; return how many."""
        return self._drop_stale(
            sid for sid, _eio_sid in self.server.manager.get_participants(NAMESPACE, user_room(user_id))
        )

    def sweep(self) -> None:
        """One pass: sockets whose token expired, and those of users whose sessions changed anywhere."""
        started = utcnow()
        self._drop_expired()
        changed = User.objects(sessions_changed_at__gte=self._swept_until - CLOCK_MARGIN).only("id")
        for user in changed:
            self.recheck_user(str(user.id))
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
