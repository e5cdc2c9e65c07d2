from chatbox.models.chat import Chat, pair_key
from chatbox.models.message import Attachment, Message
from chatbox.models.stored_file import StorageUsage, StoredFile
from chatbox.models.tokens import DeviceToken, RevokedToken
from chatbox.models.user import User

ALL_DOCUMENTS = (User, Chat, Message, StoredFile, StorageUsage, RevokedToken, DeviceToken)

__all__ = [
    "ALL_DOCUMENTS",
    "Attachment",
    "Chat",
    "DeviceToken",
    "Message",
    "RevokedToken",
    "StorageUsage",
    "StoredFile",
    "User",
    "pair_key",
]
