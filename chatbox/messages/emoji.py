"""What counts as one reaction emoji, by the Unicode data of the `regex` module (no table of our own)."""

from __future__ import annotations

import regex

_ONE_GRAPHEME = regex.compile(r"\X", regex.V1)
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}", regex.V1)
_FLAG = regex.compile(r"\p{Regional_Indicator}{2}", regex.V1)
KEYCAP = "\u20e3"


def is_reaction_emoji(value: object, max_code_points: int) -> bool:
    """Exactly one grapheme cluster of 1 to `max_code_points` code points that holds an
    Extended_Pictographic code point, a regional indicator pair (a flag) or a keycap (U+20E3)."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_code_points:
        return False
    if _ONE_GRAPHEME.fullmatch(value) is None:
        return False
    return bool(_PICTOGRAPHIC.search(value) or _FLAG.search(value) or KEYCAP in value)
