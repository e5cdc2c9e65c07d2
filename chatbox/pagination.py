"""Opaque, stable keyset cursors and the `X-Next-Cursor` header."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from chatbox.errors import ApiError

NEXT_CURSOR_HEADER = "X-Next-Cursor"


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor") from exc
    if not isinstance(position, dict):
        raise ApiError(400, "The cursor is not valid.", "invalid_cursor")
    return position


def page_size(requested: int | None, config: dict[str, Any]) -> int:
    return min(requested or config["PAGE_DEFAULT"], config["PAGE_MAX"])
