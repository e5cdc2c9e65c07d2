"""Public user objects as the contract shapes them, with their live online flag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatbox.models import User
from chatbox.runtime import Runtime


def public_user(rt: Runtime, user: User) -> dict[str, Any]:
    return user.to_public_dict(is_online=rt.presence.is_online(str(user.id)))


def public_users(rt: Runtime, users: Iterable[User]) -> list[dict[str, Any]]:
    users = list(users)
    online = rt.presence.online_among([str(u.id) for u in users])
    return [u.to_public_dict(is_online=str(u.id) in online) for u in users]
