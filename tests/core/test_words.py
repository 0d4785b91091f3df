"""Counts and durations in words: one wording wherever the CLI and the app show them."""

from __future__ import annotations

import pytest

from geoscope_core.words import count, duration


def test_count_uses_the_plural_unless_one() -> None:
    assert count(1, "photo") == "1 photo"
    assert count(1234, "photo") == "1,234 photos"
    assert count(2, "day", "days") == "2 days"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (14.4, "14 s"),
        (-60, "60 s"),  # a size: the caller words before or after
        (89.4, "89 s"),
        (120, "2 min"),
        (3360, "56 min"),  # the desktop's track report: "photos are 56 min before it"
        (3599, "1 h"),  # rounded to the minute before hours and minutes are split
        (3720, "1 h 2 min"),
        (5400, "1 h 30 min"),
        (86400, "1 d"),
        (90000, "1 d 1 h"),
        (19 * 86400 + 23 * 3600 + 5 * 60 + 27, "19 d 23 h"),
    ],
)
def test_duration_in_one_wording(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_duration_of_a_missing_time_is_text_not_an_error() -> None:
    assert duration(float("nan")) == "nan s"
