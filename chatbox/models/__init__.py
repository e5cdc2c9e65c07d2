from chatbox.models.chat import Chat, pair_key
from chatbox.models.message import Attachment, Message
from chatbox.models.stored_file import StoredFile
from chatbox.models.tokens import DeviceToken, RevokedToken
from chatbox.models.user import User

ALL_DOCUMENTS = (User, Chat, Message, StoredFile, RevokedToken, DeviceToken)

__all__ = [
    "ALL_DOCUMENTS",
    "Attachment",
    "Chat",
    "DeviceToken",
    "Message",
    "RevokedToken",
    "StoredFile",
    "User",
    "pair_key",
]
