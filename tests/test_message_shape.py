"""The message JSON has one producer (`Message.to_dict`, on the hot path) and one description (the
OpenAPI `Message` schema, messages.schemas.MessageSchema): these tests fail as soon as the two drift
apart, in a top-level field or in a nested one (attachments, reply preview, reactions, system)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from bson import ObjectId
from mongoengine import ValidationError

from chatbox.messages.schemas import MessageSchema
from chatbox.models import Attachment, Message
from chatbox.models.message import NewMessage, ReplyPreview

AT = datetime(2030, 1, 2, 3, 4, 5, 678000)


def _bare() -> Message:
    return Message(
        id=ObjectId(), chat_id=ObjectId(), sender_id=ObjectId(), receiver_id=None, created_at=AT, updated_at=AT
    )


def _full() -> Message:
    """Every optional part of a message filled in."""
    message = _bare()
    message.receiver_id = ObjectId()
    message.text = "hello"
    message.client_message_id = "c-1"
    message.status = "read"
    message.delivered_at = message.read_at = message.edited_at = AT
    message.attachments = [
        Attachment(
            file_id=ObjectId(),
            kind="image",
            url="/i",
            name="a.png",
            size=3,
            mime_type="image/png",
            width=2,
            height=1,
            thumb_url="/t",
        ),
        Attachment(file_id=ObjectId(), kind="file", url="/f", name="a.pdf", size=3, mime_type="application/pdf"),
    ]
    message.reply_to = ReplyPreview(message_id=ObjectId(), sender_id=ObjectId(), text="q", kind="text")
    message.reactions = {str(ObjectId()): {"emoji": "👍", "at": AT}}
    message.forwarded = True
    return message


def _system() -> Message:
    message = _bare()
    message.deleted_at = AT
    message.system = {
        "type": "member_added",
        "actorId": str(ObjectId()),
        "userIds": [str(ObjectId())],
        "name": None,
        "role": None,
    }
    return message


def _problems(payload: dict[str, Any]) -> dict[str, Any]:
    # Every documented field is required and marshmallow refuses unknown ones: a field that one side
    # has and the other lacks, at any depth, shows up here.
    return MessageSchema().validate(payload)


def test_to_dict_produces_exactly_the_documented_message() -> None:
    for message in (_bare(), _full(), _system()):
        payload = message.to_dict()
        assert _problems(payload) == {}
        assert list(payload) == list(MessageSchema().fields)  # the same fields, in the documented order


def test_a_drift_either_way_is_caught() -> None:
    payload = _full().to_dict()
    assert "extra" in _problems({**payload, "extra": 1})
    assert "forwarded" in _problems({k: v for k, v in payload.items() if k != "forwarded"})
    attachment = {**payload["attachments"][0], "extra": 1}
    assert "attachments" in _problems({**payload, "attachments": [attachment]})


def _new(**fields: Any) -> NewMessage:
    """What a send stores: every field a send sets, from the full message above."""
    full = _full()
    values = {
        name: getattr(full, name)
        for name in (
            "id",
            "chat_id",
            "sender_id",
            "receiver_id",
            "text",
            "attachments",
            "status",
            "client_message_id",
            "batch_id",
            "reply_to",
            "created_at",
            "updated_at",
            "delivered_at",
            "read_at",
        )
    }
    return NewMessage(**{**values, **fields})


def test_a_sent_message_has_the_same_json_and_stored_document_as_a_message() -> None:
    # The send's path builds a NewMessage, not a Message: one JSON producer (message_json) for both,
    # and the same document in the database.
    for new in (_new(), _new(attachments=[], reply_to=None, receiver_id=None, delivered_at=None, read_at=None)):
        as_document = Message(**{name: getattr(new, name) for name in new.__slots__})  # type: ignore[attr-defined]
        assert new.to_dict() == as_document.to_dict()
        assert _problems(new.to_dict()) == {}
        assert new.to_mongo() == as_document.to_mongo().to_dict()
        assert new.kind == as_document.kind


def test_a_sent_message_is_validated_as_a_message_is() -> None:
    _new().validate()
    for bad in ({"status": "lost"}, {"chat_id": "not an id"}, {"text": 3}):
        with pytest.raises(ValidationError):
            _new(**bad).validate()
        with pytest.raises(ValidationError):
            Message(**{name: getattr(_new(**bad), name) for name in NewMessage.__slots__}).validate()  # type: ignore[attr-defined]


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from chatbox.models.ids import iso

    assert iso(None) is None
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 999999)) == "2026-01-02T03:04:05.999Z"  # cut, not rounded
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    assert iso(datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=5)))) == "2026-01-01T19:00:00.000Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)) == "2026-01-02T03:04:05.006Z"
    assert iso(datetime(9999, 12, 31)) == "9999-12-31T00:00:00.000Z"  # a mute until unmuted
    assert iso(datetime(1, 1, 1)) == "0001-01-01T00:00:00.000Z"  # four-digit years (strftime gave "1-01-01")
