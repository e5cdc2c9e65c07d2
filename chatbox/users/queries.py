"""Finding users: the one named in a request, my block and pin lists, the direct chat of two users, and who
of my presence audience is online."""

from __future__ import annotations

import re
from collections.abc import Callable

from bson import ObjectId
from mongoengine import Q

from chatbox.errors import bad_request, not_found
from chatbox.models import Chat, User, pair_key
from chatbox.models.ids import parse_object_id
from chatbox.runtime import Runtime
from chatbox.users.rules import presence_audience

BLOCKED = "blocked_users"
PINNED = "pinned_chats"


def name_or_email_containing(text: str) -> Q:
    """Users whose name or email contains `text` (case-insensitive, taken literally); everyone for
    an empty or blank `text`."""
    text = text.strip()
    if not text:
        return Q()
    pattern = re.compile(re.escape(text), re.IGNORECASE)
    return Q(full_name=pattern) | Q(email=pattern)


def find_other_user(
    me: User, user_id: str, require_active: bool = False, known: Callable[[str], User | None] | None = None
) -> User:
    """The user `user_id` names, refusing myself (400) and unknown users (404); with `require_active`,
    also accounts that cannot be used (deactivated, or blocked by an administrator). `known`: where
    this process may already hold the document, as fresh as a read (`rt.sessions.known_user`)."""
    oid = parse_object_id(user_id)
    if oid is not None and oid == me.id:
        raise bad_request("You cannot do that with yourself.", "self_not_allowed")
    other = None
    if oid is not None:
        other = (known(str(oid)) if known is not None else None) or User.by_id(oid)
    if other is None or (require_active and not other.can_sign_in):
        raise not_found("No such user.", "user_not_found")
    return other


def blocks_of(user_id: ObjectId) -> User | None:
    """A user with only whom they block (for a receipt's block check)."""
    return User.objects(id=user_id).only("id", "blocked_users").first()


def listed_users(me: User, field: str) -> list[User]:
    ids = list(getattr(me, field))
    by_id = {u.id: u for u in User.objects(id__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


def direct_chat(a: User, b: User) -> Chat | None:
    """The direct chat of two users, if it has a message (an empty one is in nobody's list)."""
    return Chat.objects(pair_key=pair_key(a.id, b.id), last_message_id__exists=True).only("id").first()


def online_contacts(rt: Runtime, user: User) -> list[str]:
    """The payload of `online-users`: who of the user's presence audience is online now."""
    audience = [str(u.id) for u in presence_audience(user)]
    return sorted(rt.presence.online_among(audience))
