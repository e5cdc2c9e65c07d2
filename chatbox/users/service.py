"""Block and pin: the per-user lists, and the one rule on who may reach whom."""

from __future__ import annotations

from bson import ObjectId
from mongoengine import Q

from chatbox.errors import ApiError, bad_request, not_found
from chatbox.models import Chat, User
from chatbox.models.ids import parse_object_id

BLOCKED = "blocked_users"
PINNED = "pinned_chats"


def find_other_user(me: User, user_id: str, require_active: bool = False) -> User:
    """The user `user_id` names, refusing myself (400) and unknown (or, if asked, deactivated) users (404)."""
    oid = parse_object_id(user_id)
    if oid is not None and oid == me.id:
        raise bad_request("You cannot do that with yourself.", "self_not_allowed")
    other = User.objects(id=oid).first() if oid else None
    if other is None or (require_active and not other.is_active):
        raise not_found("No such user.", "user_not_found")
    return other


def is_blocked_between(a: User, b: User) -> bool:
    """True while either user has blocked the other: then nothing passes between them."""
    return a.has_blocked(b.id) or b.has_blocked(a.id)


def ensure_not_blocked(me: User, other: User) -> None:
    if me.has_blocked(other.id):
        raise ApiError(403, "You have blocked this user.", "blocked")
    if other.has_blocked(me.id):
        raise ApiError(403, "This user has blocked you.", "blocked")


def listed_users(me: User, field: str) -> list[User]:
    ids = list(getattr(me, field))
    by_id = {u.id: u for u in User.objects(id__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


# The one presence rule: two users see each other's presence (isOnline, lastSeen, user-online/offline)
# while they share a chat and neither has blocked the other. It is symmetric, so "whom I see" and
# "who sees me" are the same set.


def presence_audience(user: User) -> list[User]:
    """Who may see `user` come and go (and whose presence `user` may see)."""
    chats = Chat.objects(participants=user.id).only("participants")
    other_ids = {p for chat in chats for p in chat.participants if p != user.id}
    others = User.objects(id__in=list(other_ids)).only("id", "blocked_users")
    return [o for o in others if not is_blocked_between(user, o)]


def presence_visible(viewer: User, others: list[User]) -> set[ObjectId]:
    """The ids among `others` whose presence `viewer` may see (one query, whatever their number)."""
    candidates = [o.id for o in others if o.id != viewer.id and not is_blocked_between(viewer, o)]
    if not candidates:
        return set()
    chats = Chat.objects(Q(participants=viewer.id) & Q(participants__in=candidates)).only("participants")
    return {p for chat in chats for p in chat.participants if p != viewer.id}
