"""Who is pushed a new message."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from chatbox.models import Chat
from chatbox.models.chat import ChatState
from chatbox.runtime import Runtime


def offline_recipients(rt: Runtime, chat: Chat | ChatState, sender_id: ObjectId, now: datetime) -> list[ObjectId]:
    """The chat's other participants (direct or group) who did not mute it and have no connected socket
    on any process: a user with a socket hears of the message there, and a muted chat pushes nothing."""
    others = [p for p in chat.participants if p != sender_id and not chat.muted_for(p, now)]
    if not others:
        return []
    online = rt.presence.online_among([str(p) for p in others])
    return [p for p in others if str(p) not in online]
