"""Unit tests of the subtle parts of the message lifecycle: reaction emoji and reaction order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chatbox.messages.emoji import is_reaction_emoji
from chatbox.models.message import reactions_summary

T0 = datetime(2026, 1, 1)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("👍", True),
        ("👍🏿", True),  # with a skin tone modifier: one grapheme
        ("🧑‍🤝‍🧑", True),  # a ZWJ sequence
        ("🇯🇵", True),  # a regional indicator pair
        ("#️⃣", True),  # a keycap
        ("☺️", True),
        ("👍👍", False),  # two graphemes
        ("🇯", False),  # half a flag
        ("🇯🇵🇫🇷", False),  # two flags
        ("é", False),
        ("1", False),
        ("", False),
        (" 👍", False),
        (42, False),
        ("👩‍👩‍👧‍👦" + "\ufe0f" * 9, True),  # 16 code points: the most allowed
        ("👩‍👩‍👧‍👦" + "\ufe0f" * 10, False),  # one grapheme, but 17 code points
    ],
)
def test_reaction_emoji(value: object, ok: bool) -> None:
    assert is_reaction_emoji(value, 16) is ok


def test_reactions_most_used_first_then_first_used_first() -> None:
    stored = {
        "u1": {"emoji": "😂", "at": T0},
        "u2": {"emoji": "👍", "at": T0 + timedelta(seconds=1)},
        "u3": {"emoji": "👍", "at": T0 + timedelta(seconds=3)},
        "u4": {"emoji": "❤️", "at": T0 + timedelta(seconds=2)},
        "u5": {"emoji": "😂", "at": T0 + timedelta(seconds=4)},
        "u6": {"emoji": "🔥", "at": T0 + timedelta(seconds=5)},
    }
    assert reactions_summary(stored) == [
        {"emoji": "😂", "count": 2, "userIds": ["u1", "u5"]},
        {"emoji": "👍", "count": 2, "userIds": ["u2", "u3"]},
        {"emoji": "❤️", "count": 1, "userIds": ["u4"]},
        {"emoji": "🔥", "count": 1, "userIds": ["u6"]},
    ]
    assert reactions_summary({}) == [] and reactions_summary(None) == []
