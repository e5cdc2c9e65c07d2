"""Device registration: the state changes behind POST/DELETE /api/push/devices (and logout)."""

from __future__ import annotations

from mongoengine import NotUniqueError

from chatbox.models import DeviceToken, User
from chatbox.models.ids import utcnow


def register_device(user: User, token: str, platform: str | None, max_devices: int) -> None:
    """Idempotent; a token moves to the user who registers it last; the oldest devices past the cap go."""
    now = utcnow()
    try:
        DeviceToken.objects(token=token).upsert_one(set__user_id=user.id, set__platform=platform, set__updated_at=now)
    except NotUniqueError:
        # Two registrations of one token raced; the other one inserted it, so update that document.
        DeviceToken.objects(token=token).update_one(set__user_id=user.id, set__platform=platform, set__updated_at=now)
    # Newest first; ids break ties between registrations within the same millisecond.
    surplus = DeviceToken.objects(user_id=user.id).order_by("-updated_at", "-id").skip(max_devices).only("id")
    stale = [d.id for d in surplus]
    if stale:
        DeviceToken.objects(id__in=stale).delete()


def unregister_device(user: User, token: str) -> None:
    DeviceToken.objects(token=token, user_id=user.id).delete()
