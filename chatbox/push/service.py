"""Device registration and offline push. The sender behind it is an interface (FCM, logging, recording)."""

from __future__ import annotations

import logging
from typing import Any

from mongoengine import NotUniqueError

from chatbox.models import DeviceToken, Message, User
from chatbox.models.ids import utcnow
from chatbox.push.notification import notification_for
from chatbox.push.sender import LoggingSender, PushSender, build_sender

log = logging.getLogger("chatbox.push")


def register_device(user: User, token: str, platform: str | None, max_devices: int) -> None:
    """Idempotent; a token moves to the user who registers it last; the oldest devices past the cap go."""
    now = utcnow()
    try:
        DeviceToken.objects(token=token).upsert_one(set__user_id=user.id, set__platform=platform, set__updated_at=now)
    except NotUniqueError:
        # Two registrations of one token raced; the other one inserted it, so update that document.
        DeviceToken.objects(token=token).update_one(set__user_id=user.id, set__platform=platform, set__updated_at=now)
    surplus = DeviceToken.objects(user_id=user.id).order_by("-updated_at").skip(max_devices).only("id")
    stale = [d.id for d in surplus]
    if stale:
        DeviceToken.objects(id__in=stale).delete()


def unregister_device(user: User, token: str) -> None:
    DeviceToken.objects(token=token, user_id=user.id).delete()


class PushService:
    """Turns "these messages reached an offline user" into one FCM send per device, off the request path."""

    def __init__(self, sender: PushSender, body_max_chars: int, spawn: Any = None) -> None:
        self.sender = sender
        self.body_max_chars = body_max_chars
        self._spawn = spawn

    def notify_new_messages(self, sender_user: User, receiver: User, messages: list[Message]) -> None:
        if not messages:
            return
        tokens = [d.token for d in DeviceToken.objects(user_id=receiver.id).only("token")]
        if not tokens:
            return
        notifications = [notification_for(sender_user, m, self.body_max_chars) for m in messages]
        if self._spawn is None:
            self._deliver(tokens, notifications)
        else:
            self._spawn(self._deliver, tokens, notifications)

    def _deliver(self, tokens: list[str], notifications: list[Any]) -> None:
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


def build_push_service(config: dict[str, Any], spawn: Any = None) -> PushService:
    sender = build_sender(config.get("FIREBASE_CREDENTIALS"))
    if isinstance(sender, LoggingSender):
        log.info("FIREBASE_CREDENTIALS is not set: push notifications are logged, not sent")
    return PushService(sender, config["PUSH_BODY_MAX_CHARS"], spawn)
