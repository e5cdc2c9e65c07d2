"""Public user objects as the contract shapes them, with presence only where the viewer may see it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatbox.models import User
from chatbox.runtime import Runtime
from chatbox.users.rules import presence_visible


def own_user(rt: Runtime, user: User) -> dict[str, Any]:
    """The signed-in user's own object: public fields, and whether they may administer."""
    return {**user.to_public_dict(is_online=rt.presence.is_online(str(user.id))), "isAdmin": bool(user.is_admin)}


def public_users(rt: Runtime, viewer: User, users: Iterable[User]) -> list[dict[str, Any]]:
    users = list(users)
    visible = presence_visible(viewer, users)
    online = rt.presence.online_among([str(i) for i in visible])
    return [u.to_public_dict(is_online=str(u.id) in online, presence_visible=u.id in visible) for u in users]
