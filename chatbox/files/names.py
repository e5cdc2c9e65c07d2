"""The display name kept for an upload: the client's file name, made safe to show.

Bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C) make a name
show differently from what it is: "invoice" + U+202E + "txt.exe" reads as "invoiceexe.txt". Other
control characters (C0, DEL, C1) and the line and paragraph separators break lines or hide text in
clients. All of them are removed. Joiners (U+200C, U+200D) stay: Persian and other scripts and
emoji sequences need them. The name keeps its last path component only, at most `MAX_NAME_CHARS`
characters.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 255
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200e", "\u200f", "\u061c"]
)
# Cc: C0 and C1 controls and DEL; Zl, Zp: U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR.
HIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def _shown(char: str) -> bool:
    return char not in BIDI_CONTROLS and unicodedata.category(char) not in HIDDEN_CATEGORIES


def display_name(filename: str | None, extension: str) -> str:
    """What clients are shown for an uploaded `filename` (or `upload.<extension>` when nothing is left)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(char for char in base if _shown(char)).strip()[:MAX_NAME_CHARS]
    return cleaned or f"upload.{extension}"
