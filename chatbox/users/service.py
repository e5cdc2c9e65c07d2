"""Block and pin: the per-user lists, and the one rule on who may reach whom."""

from __future__ import annotations

from bson import ObjectId

from chatbox.errors import ApiError, bad_request, not_found
from chatbox.models import Chat, User, pair_key
from chatbox.models.ids import parse_object_id

BLOCKED = "blocked_users"
PINNED = "pinned_chats"


def find_other_user(me: User, user_id: str, require_active: bool = False) -> User:
    """The user `user_id` names, refusing myself (400) and unknown users (404); with `require_active`,
    also accounts that cannot be used (deactivated, or blocked by an administrator)."""
    oid = parse_object_id(user_id)
    if oid is not None and oid == me.id:
        raise bad_request("You cannot do that with yourself.", "self_not_allowed")
    other = User.objects(id=oid).first() if oid else None
    if other is None or (require_active and not other.can_sign_in):
        raise not_found("No such user.", "user_not_found")
    return other


def is_blocked_between(a: User, b: User) -> bool:
    """True while either user has blocked the other: then nothing passes between them."""
    return a.has_blocked(b.id) or b.has_blocked(a.id)


def ensure_not_blocked(me: User, other: User) -> None:
    if me.has_blocked(other.id):
        raise ApiError(403, "You have blocked this user.", "blocked")
    if other.has_blocked(me.id):
        # Neutral, as chat apps do: the blocked side is not told who blocked whom.
        raise ApiError(403, "You can't send messages to this chat.", "blocked")


def listed_users(me: User, field: str) -> list[User]:
    ids = list(getattr(me, field))
    by_id = {u.id: u for u in User.objects(id__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


# Presence rules. Who is *told* when a user comes and goes (user-online/offline, online-users):
# the people sharing a chat with them. Who may *see* it in a user object (isOnline, lastSeen):
# anyone, as docs/reference/accounts.md defines isOnline. Either way nothing crosses a block.


def presence_audience(user: User) -> list[User]:
    """Who is told when `user` comes and goes (and whose comings and goings `user` is told of)."""
    # Direct chats only: group membership alone shares no presence.
    chats = Chat.objects(participants=user.id, kind__ne="group", last_message_id__exists=True).only("participants")
    other_ids = {p for chat in chats for p in chat.participants if p != user.id}
    others = User.objects(id__in=list(other_ids)).only("id", "blocked_users")
    return [o for o in others if not is_blocked_between(user, o)]


def shares_chat(a: User, b: User) -> bool:
    return Chat.objects(pair_key=pair_key(a.id, b.id), last_message_id__exists=True).count() > 0


def presence_visible(viewer: User, others: list[User]) -> set[ObjectId]:
    """The ids among `others` whose isOnline / lastSeen `viewer` may see."""
    return {o.id for o in others if o.id == viewer.id or not is_blocked_between(viewer, o)}


def direct_chat(a: User, b: User) -> Chat | None:
    """The direct chat of two users, if it has a message (an empty one is in nobody's list)."""
    return Chat.objects(pair_key=pair_key(a.id, b.id), last_message_id__exists=True).only("id").first()
