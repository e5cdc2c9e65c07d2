"""What a socket opening or closing sets off: the socket counted in presence, then the actions it causes
(coming online or going offline, waiting deliveries)."""

from __future__ import annotations

from collections.abc import Callable

from chatbox.messages.actions.receipts import deliver_pending, deliver_pending_in_groups
from chatbox.models import User
from chatbox.runtime import Runtime
from chatbox.users import actions as user_actions
from chatbox.users.queries import online_contacts


def socket_opened(rt: Runtime, user: User, sid: str) -> bool:
    """Count the socket; True when this is the user's first (they just came online). Raises
    TooManyConnections when the user holds MAX_SOCKETS_PER_USER already (on all processes)."""
    return rt.presence.add_connection(str(user.id), sid, rt.config["MAX_SOCKETS_PER_USER"])


def after_socket_opened(
    rt: Runtime, user: User, came_online: bool, send_online_users: Callable[[list[str]], None]
) -> None:
    if came_online:
        user_actions.came_online(rt, user)
    send_online_users(online_contacts(rt, user))
    deliver_pending(rt, user)
    deliver_pending_in_groups(rt, user)


def socket_closed(rt: Runtime, user_id: str, sid: str) -> None:
    """Forget the socket; when it was the user's last, save lastSeen and tell their contacts."""
    if rt.presence.remove_connection(user_id, sid):
        user_actions.went_offline(rt, user_id)
