"""SearchQuery: range check, bounds, forbidden extras."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import SearchQuery

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
JAN2 = datetime(2024, 1, 2, tzinfo=UTC)


def test_defaults() -> None:
    q = SearchQuery()
    assert q.limit == 20
    assert q.text is None and q.since is None and q.until is None and q.min_score is None
    assert q.phones == [] and q.sources == [] and q.flags_any == [] and q.flags_all == []


def test_since_before_until_accepted() -> None:
    q = SearchQuery(since=JAN1, until=JAN2)
    assert (q.since, q.until) == (JAN1, JAN2)


@pytest.mark.parametrize(("since", "until"), [(JAN2, JAN1), (JAN1, JAN1)])
def test_since_must_be_before_until(since: datetime, until: datetime) -> None:
    with pytest.raises(ValidationError, match="'since' must be before 'until'"):
        SearchQuery(since=since, until=until)


@pytest.mark.parametrize("kwargs", [{"since": JAN2}, {"until": JAN1}])
def test_open_ranges_accepted(kwargs: dict[str, datetime]) -> None:
    assert SearchQuery(**kwargs).model_dump(exclude_defaults=True) == kwargs


def test_mixed_naive_and_aware_range_is_accepted() -> None:
    # Naive datetimes mean UTC (see pipeline.query_sql); a saved search written as JSON with
    # one bound naive and the other with "Z" must not crash with TypeError.
    q = SearchQuery.model_validate({"since": "2024-01-01", "until": "2024-01-02T00:00:00Z"})
    assert q.since is not None and q.until is not None
    assert q.since < q.until


def test_mixed_naive_and_aware_bad_range_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="'since' must be before 'until'"):
        SearchQuery(since=datetime(2024, 1, 2), until=JAN1)


@pytest.mark.parametrize("limit", [1, 20, 10_000])
def test_limit_in_bounds(limit: int) -> None:
    assert SearchQuery(limit=limit).limit == limit


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_limit_out_of_bounds(limit: int) -> None:
    with pytest.raises(ValidationError) as exc:
        SearchQuery(limit=limit)
    assert [e["loc"] for e in exc.value.errors()] == [("limit",)]


@pytest.mark.parametrize("score", [0.0, 0.5, 1.0])
def test_min_score_in_bounds(score: float) -> None:
    assert SearchQuery(min_score=score).min_score == score


@pytest.mark.parametrize("score", [-0.01, 1.01, 2])
def test_min_score_out_of_bounds(score: float) -> None:
    with pytest.raises(ValidationError) as exc:
        SearchQuery(min_score=score)
    assert [e["loc"] for e in exc.value.errors()] == [("min_score",)]


def test_extra_forbidden() -> None:
    with pytest.raises(ValidationError) as exc:
        SearchQuery.model_validate({"text": "x", "phone": "+12134782231"})
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [(("phone",), "extra_forbidden")]


def test_frozen_and_json_round_trip() -> None:
    q = SearchQuery(text="new in town", phones=["+12134782231"], since=JAN1, min_score=0.3)
    assert SearchQuery.model_validate_json(q.model_dump_json()) == q
    with pytest.raises(ValidationError, match="frozen"):
        q.limit = 5  # type: ignore[misc]
