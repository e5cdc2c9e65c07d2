"""Offline push delivery: turns stored messages into sends off the request path. The sender behind it is an
interface (FCM, logging, recording)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from bson import ObjectId

from chatbox.models import DeviceToken, Message, User
from chatbox.push.notification import Notification, group_notification_for, notification_for
from chatbox.push.sender import PushSender, build_sender, describe

log = logging.getLogger("chatbox.push")

# Starts `job()` off the caller's path (a greenlet under gevent); None runs it in place.
Spawn = Callable[[Callable[[], None]], Any]


class PushService:
    """Turns "these messages reached an offline user" into FCM sends, off the request path.

    Nothing here raises to the caller: the message is already stored and delivered over sockets,
    so a push failure is logged and forgotten.
    """

    def __init__(self, sender: PushSender, body_max_chars: int, spawn: Spawn | None = None) -> None:
        self.sender = sender
        self.body_max_chars = body_max_chars
        self._spawn = spawn
        self._idle = threading.Condition()
        self._in_flight = 0

    def notify_new_messages(self, sender_user: User, receiver: User, messages: list[Message]) -> None:
        if not messages:
            return
        receiver_id = receiver.id
        batch = list(messages)

        def job() -> None:
            self._run(sender_user, receiver_id, batch)

        self._start(job, len(batch))

    def notify_group_messages(
        self, sender_user: User, group_name: str, receiver_ids: list[ObjectId], messages: list[Message]
    ) -> None:
        """One push per receiver per message: every receiver's devices in one multicast per message."""
        if not messages or not receiver_ids:
            return
        receivers, batch = list(receiver_ids), list(messages)

        def job() -> None:
            self._run_group(sender_user, group_name, receivers, batch)

        self._start(job, len(batch))

    def _start(self, job: Callable[[], None], count: int) -> None:
        with self._idle:
            self._in_flight += 1
        if self._spawn is None:
            job()
            return
        try:
            self._spawn(job)
        except Exception:
            log.exception("could not start a push task; the push for %d message(s) is dropped", count)
            self._finished()

    def _run_group(
        self, sender_user: User, group_name: str, receiver_ids: list[ObjectId], messages: list[Message]
    ) -> None:
        try:
            tokens = [d.token for d in DeviceToken.objects(user_id__in=receiver_ids).only("token")]
            if tokens:
                notifications = [
                    group_notification_for(sender_user, group_name, m, self.body_max_chars) for m in messages
                ]
                self._deliver(tokens, notifications)
        except Exception:
            log.exception("group push for %d message(s) failed", len(messages))
        finally:
            self._finished()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every push started so far has finished (tests, graceful shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def _run(self, sender_user: User, receiver_id: ObjectId, messages: list[Message]) -> None:
        try:
            tokens = [d.token for d in DeviceToken.objects(user_id=receiver_id).only("token")]
            if tokens:
                notifications = [notification_for(sender_user, m, self.body_max_chars) for m in messages]
                self._deliver(tokens, notifications)
        except Exception:
            log.exception("push for %d message(s) failed", len(messages))
        finally:
            self._finished()

    def _deliver(self, tokens: list[str], notifications: list[Notification]) -> None:
        for notification in notifications:
            try:
                dead = self.sender.send(tokens, notification)
            except Exception:
                log.exception("push send failed")
                continue
            if dead:
                DeviceToken.objects(token__in=list(dead)).delete()
                tokens = [t for t in tokens if t not in dead]
            if not tokens:
                return


def build_push_service(config: dict[str, Any], spawn: Spawn | None = None) -> PushService:
    sender = build_sender(config.get("FIREBASE_CREDENTIALS"))
    log.info("push sender: %s", describe(sender))
    return PushService(sender, config["PUSH_BODY_MAX_CHARS"], spawn)
