"""Fixtures for pipeline unit tests: record factories and a temporary SQLite index."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.sinks.sqlite import SQLiteIndex
from schemas import EnrichedAd, Flag, PhoneMention
from schemas.ads import join_text

EnrichedAdFactory = Callable[..., EnrichedAd]
BASE_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_enriched_ad(
    source_id: str,
    *,
    source: str = "testsite",
    title: str = "Sample title",
    body: str = "sample body",
    phones: tuple[str, ...] | list[str] = (),
    flags: tuple[str, ...] | list[str] = (),
    risk_score: float = 0.0,
    posted_at: datetime | None = BASE_TIME,
    scraped_at: datetime = BASE_TIME,
    location: str | None = None,
    content_hash: str = "0" * 32,
) -> EnrichedAd:
    """Build a valid EnrichedAd; phones are E.164 strings placed at the end of the body."""
    if phones:
        body = " ".join([body, *phones])
    text = join_text(title, body)
    mentions = []
    for e164 in phones:
        start = text.rindex(e164)
        mentions.append(
            PhoneMention(raw=e164, start=start, end=start + len(e164), extractor="test", e164=e164)
        )
    return EnrichedAd(
        source=source,
        source_id=source_id,
        key=f"{source}:{source_id}",
        title=title,
        body=body,
        text=text,
        content_hash=content_hash,
        phones=mentions,
        flags=[Flag(id=f) for f in flags],
        risk_score=risk_score,
        posted_at=posted_at,
        scraped_at=scraped_at,
        location=location,
    )


@pytest.fixture
def enriched_ad_factory() -> EnrichedAdFactory:
    """Build EnrichedAd records; ``source_id`` defaults to a fresh counter value."""
    counter = itertools.count(1)

    def build(source_id: str | None = None, **fields: Any) -> EnrichedAd:
        return make_enriched_ad(source_id or f"ad{next(counter)}", **fields)

    return build


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SQLiteIndex]:
    """A fresh SQLite index in a temporary directory, closed after the test."""
    idx = SQLiteIndex.open(tmp_path / "nested" / "index.sqlite3")
    yield idx
    idx.close()
