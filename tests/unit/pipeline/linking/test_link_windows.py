"""Sliding windows over event times: thresholds, inclusive bounds, merged spans."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.linking.windows import Point, spans
from tests.unit.pipeline.linking.linking_helpers import BASE

HOUR = timedelta(hours=1)


def pts(*items: tuple[float, str]) -> list[Point[str]]:
    """Points at ``minutes`` after BASE, keyed a0, a1 … with one value each."""
    return [Point(BASE + timedelta(minutes=m), f"a{i}", [v]) for i, (m, v) in enumerate(items)]


def test_threshold_reached_and_not() -> None:
    three = pts((0, "x"), (10, "y"), (20, "z"))
    assert spans(three, HOUR, 4) == []
    (span,) = spans(three, HOUR, 3)
    assert span.ad_keys == ["a0", "a1", "a2"]
    assert span.values == ["x", "y", "z"]
    assert (span.start, span.end, span.peak) == (BASE, BASE + timedelta(minutes=20), 3)


def test_window_includes_both_ends() -> None:
    assert spans(pts((0, "x"), (30, "y"), (60, "z")), HOUR, 3)
    assert not spans(pts((0, "x"), (30, "y"), (60.01, "z")), HOUR, 3)


def test_repeated_values_count_once() -> None:
    assert not spans(pts((0, "x"), (1, "x"), (2, "y")), HOUR, 3)


def test_points_without_values_take_no_part() -> None:
    points = [*pts((0, "x"), (10, "y"), (20, "z")), Point(BASE, "empty", [])]
    (span,) = spans(points, HOUR, 3)
    assert "empty" not in span.ad_keys


def test_overlapping_windows_merge_and_distant_ones_do_not() -> None:
    chained = pts((0, "a"), (40, "b"), (80, "c"), (120, "d"), (300, "e"), (310, "f"), (320, "g"))
    first, second = spans(chained, HOUR, 2)
    assert first.ad_keys == ["a0", "a1", "a2", "a3"]
    assert first.values == ["a", "b", "c", "d"] and first.peak == 2
    assert second.ad_keys == ["a4", "a5", "a6"] and second.peak == 3


def test_a_point_outside_every_qualifying_window_is_left_out() -> None:
    early = pts((0, "w"), (200, "x"), (210, "y"), (220, "z"))
    (span,) = spans(early, HOUR, 3)
    assert span.ad_keys == ["a1", "a2", "a3"]


def test_several_values_per_point() -> None:
    (span,) = spans([Point(BASE, "a", ["x", "y", "z"])], HOUR, 3)
    assert span.ad_keys == ["a"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=300), st.sampled_from("abcde")),
        max_size=15,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_matches_brute_force(items: list[tuple[int, str]], threshold: int) -> None:
    points = pts(*items)
    got = {k for s in spans(points, HOUR, threshold) for k in s.ad_keys}
    want = set()
    for p in points:  # every window that starts at a point
        inside = [q for q in points if timedelta(0) <= q.at - p.at <= HOUR]
        if len({v for q in inside for v in q.values}) >= threshold:
            want |= {q.ad_key for q in inside}
    assert got == want
    assert spans(list(reversed(points)), HOUR, threshold) == spans(points, HOUR, threshold)
