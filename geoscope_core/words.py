"""Counts and durations in words, for every message the CLI and the app show: "1 photo",
"2 photos", "56 min"."""

from __future__ import annotations

import math


def count(n: int, noun: str, plural: str = "") -> str:
    """``n`` (with thousands separators) and ``noun``, in the plural (``plural``, else
    ``noun + "s"``) unless ``n`` is 1: ``count(1, "photo")`` -> "1 photo"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """A length of time of ``seconds`` (its size: the sign is the caller's to word) to
    the unit that matters: "14 s" below 90 s, else rounded to the minute: "56 min",
    "1 h 2 min", "3 h", "19 d 23 h" (days with whole hours). A signed clock offset is
    ``evidence.offsets.format_offset``'s, not this."""
    s = abs(float(seconds))
    if s < 90 or not math.isfinite(s):
        return f"{s:.0f} s"
    d, rem = divmod(round(s / 60), 1440)
    h, m = divmod(rem, 60)
    if d:
        return f"{d} d {h} h" if h else f"{d} d"
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{m} min"
