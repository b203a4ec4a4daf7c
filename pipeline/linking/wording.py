"""Neutral wording of the facts behind entity-level flags: lists, durations, times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

MAX_LISTED = 50  # values or ad keys named in one evidence note


def listing(values: Sequence[object], sep: str = ", ", limit: int = MAX_LISTED) -> str:
    """``values`` joined by ``sep``; beyond ``limit``, "… and N more"; "none" when empty."""
    if not values:
        return "none"
    shown = sep.join(str(v) for v in values[:limit])
    more = len(values) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def duration(span: timedelta) -> str:
    """``span`` in the largest whole unit: "7 days", "1 hour", "90 minutes", "45 seconds"."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def moment(at: datetime) -> str:
    """A UTC time to the minute: "2024-05-01 12:00 UTC"."""
    return at.strftime("%Y-%m-%d %H:%M UTC")
