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
    """Used when FIREBASE_CREDENTIALS is unset: records what would have been pushed, sends nothing."""

    description = "logging only (FIREBASE_CREDENTIALS is not set: push notifications are logged, not sent)"

    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        log.info(
            "push not sent (no FIREBASE_CREDENTIALS): message %s to %d device(s), title %r",
            notification.data.get("messageId"),
            len(tokens),
            notification.title,
        )
        return set()


def describe(sender: PushSender) -> str:
    return str(getattr(sender, "description", type(sender).__name__))


def build_sender(credentials_path: str | None) -> PushSender:
    """The logging sender without credentials; otherwise FCM (a broken credentials file raises ConfigError)."""
    if not credentials_path:
        return LoggingSender()
    from chatbox.push.fcm import FcmSender

    return FcmSender.from_credentials_file(credentials_path)
