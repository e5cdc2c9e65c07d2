"""Who may read a stored file."""

from __future__ import annotations

from mongoengine import Q

from chatbox.errors import forbidden
from chatbox.models import Chat, StoredFile, User
from chatbox.models.message import chats_sharing_file
from chatbox.models.stored_file import PURPOSE_AVATAR


def ensure_may_read(user: User, record: StoredFile) -> None:
    """The uploader, the participants of a chat with a message that carries it (forwards share files),
    or anyone signed in for a profile picture; a group's former members keep reading its history, files
    included. Anyone else: 403."""
    allowed = record.uploader_id == user.id or record.purpose == PURPOSE_AVATAR
    if not allowed:
        sharing = Q(id__in=chats_sharing_file(record.id))
        allowed = Chat.objects(sharing & (Q(participants=user.id) | Q(former_members=user.id))).count() > 0
    if not allowed:
        raise forbidden("You may not read this file.")
