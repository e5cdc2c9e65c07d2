from chatbox.models.chat import Chat, pair_key
from chatbox.models.event import EventCounter, StoredEvent
from chatbox.models.message import Attachment, Message
from chatbox.models.receipt import ReceiptMark
from chatbox.models.stored_file import StorageUsage, StoredFile
from chatbox.models.tokens import DeviceToken, RevokedToken
from chatbox.models.user import User

ALL_DOCUMENTS = (
    User,
    Chat,
    Message,
    StoredFile,
    StorageUsage,
    RevokedToken,
    DeviceToken,
    EventCounter,
    StoredEvent,
    ReceiptMark,
)

__all__ = [
    "ALL_DOCUMENTS",
    "Attachment",
    "Chat",
    "DeviceToken",
    "EventCounter",
    "Message",
    "ReceiptMark",
    "RevokedToken",
    "StorageUsage",
    "StoredEvent",
    "StoredFile",
    "User",
    "pair_key",
]
