"""Block, unblock, pin and unpin, and a user coming online or going offline: each one state change, with
the events it causes."""

from __future__ import annotations

from bson import ObjectId

from chatbox.auth.tokens import sessions_changed
from chatbox.models import User
from chatbox.models.ids import utcnow
from chatbox.runtime import Runtime
from chatbox.users import events
from chatbox.users.queries import BLOCKED, PINNED, direct_chat, find_other_user


def _change_list(me: User, other: User, field: str, add: bool) -> list[ObjectId]:
    operator = "add_to_set" if add else "pull"
    User.objects(id=me.id).update_one(**{f"{operator}__{field}": other.id})
    me.reload(field)
    return list(getattr(me, field))


def block(rt: Runtime, me: User, user_id: str) -> list[ObjectId]:
    return _change_block(rt, me, user_id, add=True)


def unblock(rt: Runtime, me: User, user_id: str) -> list[ObjectId]:
    return _change_block(rt, me, user_id, add=False)


def _change_block(rt: Runtime, me: User, user_id: str, add: bool) -> list[ObjectId]:
    other = find_other_user(me, user_id)
    was_blocked = me.has_blocked(other.id)
    blocked = _change_list(me, other, BLOCKED, add=add)
    # What my sockets may send is checked against my blocks: forgotten everywhere now (and by each
    # process's sweep should the announcement be lost).
    sessions_changed(me.id)
    rt.sessions.user_changed(str(me.id))
    if was_blocked != add:  # idempotent repeats change nothing, so they announce nothing
        events.blocked_changed(rt, me, other, blocked=add)
        events.block_changed(rt, me, other)
    return blocked


def pin(rt: Runtime, me: User, user_id: str) -> list[ObjectId]:
    return _change_pin(rt, me, user_id, add=True)


def unpin(rt: Runtime, me: User, user_id: str) -> list[ObjectId]:
    return _change_pin(rt, me, user_id, add=False)


def _change_pin(rt: Runtime, me: User, user_id: str, add: bool) -> list[ObjectId]:
    other = find_other_user(me, user_id)
    was_pinned = other.id in me.pinned_chats
    pinned = _change_list(me, other, PINNED, add=add)
    rt.sessions.user_changed(str(me.id))  # sockets' events read the user's document from the session cache
    if was_pinned != add:  # idempotent repeats announce nothing
        events.pin_changed(rt, me, other, direct_chat(me, other), pinned=add)
    return pinned


def came_online(rt: Runtime, user: User) -> None:
    """The user's first socket (on any process) opened: the people who share a chat with them are told."""
    events.came_online(rt, user)


def went_offline(rt: Runtime, user_id: str) -> None:
    """Save lastSeen and tell the user's contacts (their last socket closed, or its server died)."""
    if not User.objects(id=user_id).update_one(set__last_seen=utcnow()):
        return
    user = User.objects(id=user_id).first()
    if user is not None:
        events.went_offline(rt, user)
