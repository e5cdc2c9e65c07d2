"""Sockets outlive requests: this drops the ones whose token stopped being good while they were quiet.

Every event re-checks its socket's token (namespace `_current_user`), but a silent socket would go on
receiving messages and counting as online. So: right after a logout or password change, the process
that handled it re-checks that user's sockets; and every few seconds each process re-checks the sockets
of users whose sessions changed anywhere (e.g. an administrator's CLI, or another process's logout).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import socketio

from chatbox.auth.tokens import CLOCK_MARGIN, TokenSession, user_for_session
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
        self._started = False

    def ensure_started(self) -> None:
        """Start the sweep with this process's first socket (an app that never serves one needs none)."""
        if not self._started:
            self._started = True
            self.server.start_background_task(self._sweep_forever)

    def recheck_user(self, user_id: str) -> int:
        """Disconnect this process's sockets of `user_id` whose token is no longer good; return how many."""
        dropped = 0
        for sid, _eio_sid in list(self.server.manager.get_participants(NAMESPACE, user_room(user_id))):
            session: TokenSession | None = self.server.get_session(sid, namespace=NAMESPACE).get("token")
            try:
                if session is None:
                    continue
                user_for_session(session)
            except ApiError as exc:
                log.info("dropping socket %s of %s: %s", sid, user_id, exc.code)
                self.server.disconnect(sid, namespace=NAMESPACE)
                dropped += 1
        return dropped

    def sweep(self) -> None:
        since, self._swept_until = self._swept_until, utcnow()
        changed = User.objects(sessions_changed_at__gte=since - CLOCK_MARGIN).only("id")
        for user in changed:
            self.recheck_user(str(user.id))

    def _sweep_forever(self) -> Any:
        while True:
            self.server.sleep(self.sweep_seconds)
            try:
                self.sweep()
            except Exception:
                log.exception("session sweep failed; retrying")
