"""Counts in words, for every message the CLI and the app show: "1 photo", "2 photos"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str = "") -> str:
    """``n`` (with thousands separators) and ``noun``, in the plural (``plural``, else
    ``noun + "s"``) unless ``n`` is 1: ``count(1, "photo")`` -> "1 photo"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
