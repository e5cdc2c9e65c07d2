"""Push senders: the interface, a logging one for unconfigured servers, and firebase-admin's FCM."""

from __future__ import annotations

import logging
from typing import Protocol

from chatbox.push.notification import Notification

log = logging.getLogger("chatbox.push")


class PushSender(Protocol):
    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        """Send to every token; return the tokens FCM reported as unregistered or invalid."""
        ...


class LoggingSender:
    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        log.info("push (not sent, no FIREBASE_CREDENTIALS) to %d device(s): %s", len(tokens), notification.title)
        return set()


def build_sender(credentials_path: str | None) -> PushSender:
    if not credentials_path:
        return LoggingSender()
    from chatbox.push.fcm import FcmSender

    return FcmSender.from_credentials_file(credentials_path)
