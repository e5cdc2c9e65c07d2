"""Who may reach whom (blocks), and who is told of or may see whose presence."""

from __future__ import annotations

from bson import ObjectId

from chatbox.errors import ApiError
from chatbox.models import Chat, User, pair_key


def is_blocked_between(a: User, b: User) -> bool:
    """True while either user has blocked the other: then nothing passes between them."""
    return a.has_blocked(b.id) or b.has_blocked(a.id)


def ensure_not_blocked(me: User, other: User) -> None:
    if me.has_blocked(other.id):
        raise ApiError(403, "You have blocked this user.", "blocked")
    if other.has_blocked(me.id):
        # Neutral, as chat apps do: the blocked side is not told who blocked whom.
        raise ApiError(403, "You can't send messages to this chat.", "blocked")


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
