"""Sliding windows over event times: where a phone's ads show N distinct values in a window.

    points (at, ad_key, values), sorted by (at, ad_key)
      │  a window [tᵢ, tᵢ + W] starts at every point (both ends included)
      ├─ it qualifies when its points hold at least N distinct values
      └─ qualifying windows that share a point merge into one `Span`: its points are
         exactly those that lie in some qualifying window

Any window holding N distinct values can be moved right until it starts at its first point
and still hold them, so windows that start at points are all that need checking. One pass
with two pointers and a counter: O(n log n) for the sort, O(n · values) after it. Only
points with at least one value take part (an ad naming no city plays no part in a
multi-city span).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Generic, NamedTuple, TypeVar

V = TypeVar("V", bound=Hashable)


class Point(NamedTuple, Generic[V]):
    """One ad at its event time with the values it shows (cities, names, its own key…)."""

    at: datetime
    ad_key: str
    values: Sequence[V]


class Span(NamedTuple, Generic[V]):
    """Merged qualifying windows: their points, distinct values and the best window's count."""

    start: datetime
    end: datetime
    ad_keys: list[str]
    values: list[V]  # distinct, in order of first appearance
    peak: int  # most distinct values in one window of the span


def spans(points: Iterable[Point[V]], window: timedelta, min_distinct: int) -> list[Span[V]]:
    """The spans where some window of length ``window`` holds ``min_distinct`` values."""
    pts = sorted((p for p in points if p.values), key=lambda p: (p.at, p.ad_key))
    counts: dict[V, int] = {}
    ranges: list[tuple[int, int, int]] = []  # (first, end exclusive, distinct) per window
    j = 0
    for i, p in enumerate(pts):
        while j < len(pts) and pts[j].at - p.at <= window:
            for v in set(pts[j].values):
                counts[v] = counts.get(v, 0) + 1
            j += 1
        if len(counts) >= min_distinct:
            ranges.append((i, j, len(counts)))
        for v in set(p.values):
            if counts[v] == 1:
                del counts[v]
            else:
                counts[v] -= 1
    merged: list[tuple[int, int, int]] = []
    for first, end, distinct in ranges:
        if merged and first < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], distinct))
        else:
            merged.append((first, end, distinct))
    return [_span(pts[first:end], peak) for first, end, peak in merged]


def _span(pts: list[Point[V]], peak: int) -> Span[V]:
    values = list(dict.fromkeys(v for p in pts for v in p.values))
    return Span(pts[0].at, pts[-1].at, [p.ad_key for p in pts], values, peak)
