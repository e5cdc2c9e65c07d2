"""Ids and times as the JSON contract writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId
from bson.errors import InvalidId


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value)


def parse_object_id(value: str) -> ObjectId | None:
    if not is_object_id(value):
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def utcnow() -> datetime:
    """Naive UTC, cut to milliseconds: what MongoDB stores is exactly what we hand back."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat is C code: a third of strftime's time (six times per message JSON on every send), and
    # its year always has four digits, as RFC 3339 asks.
    return moment.isoformat(timespec="milliseconds") + "Z"


def id_str(value: ObjectId | None) -> str | None:
    return str(value) if value is not None else None
