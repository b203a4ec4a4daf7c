from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import RetriableError
from pipeline.sinks import Sink
from pipeline.sinks.sqlite import SCHEMA_VERSION, SchemaVersionError, SQLiteIndex
from schemas import EnrichedAd, SearchQuery

EnrichedAdFactory = Callable[..., EnrichedAd]
BASE_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # as in conftest.py
H = timedelta(hours=1)


def keys(index: SQLiteIndex, **criteria: object) -> list[str]:
    return [ad.key for ad in index.search(SearchQuery.model_validate(criteria))]


def test_open_creates_parent_dirs_wal_and_version(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "index.sqlite3"
    with SQLiteIndex.open(path) as index:
        assert isinstance(index, Sink)
        assert index.name == "sqlite"
        assert index.count() == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_open_without_create_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no index at"):
        SQLiteIndex.open(tmp_path / "missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        SQLiteIndex.open(path)


def test_closed_index_refuses_work(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    index.close()
    index.close()
    with pytest.raises(RuntimeError, match="closed"):
        index.write([enriched_ad_factory()])


def test_get_returns_the_stored_ad(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    ad = enriched_ad_factory(phones=["+12134782231"], flags=["movement"], risk_score=0.4)
    index.write([ad])
    assert index.get(ad.key) == ad
    assert index.get("testsite:nope") is None


def test_write_is_idempotent(index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory) -> None:
    ad = enriched_ad_factory(
        "1", body="fresh in town", phones=["+12134782231", "+12134782231"], flags=["movement"]
    )
    index.write([ad, ad])
    index.write([ad])
    assert index.count() == 1
    assert keys(index, text="fresh") == [ad.key]
    assert keys(index, phones=["+12134782231"]) == [ad.key]
    assert keys(index, flags_any=["movement"]) == [ad.key]
    conn = sqlite3.connect(index_path(index))
    assert conn.execute("SELECT count(*) FROM ad_phones").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM ad_flags").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM ads_fts").fetchone()[0] == 1
    conn.close()


def index_path(index: SQLiteIndex) -> str:
    return str(index._connection.execute("PRAGMA database_list").fetchone()[2])


def test_overwrite_replaces_phones_flags_and_text(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    old = enriched_ad_factory(
        "1", body="roses tonight", phones=["+12134782231"], flags=["coded_pricing"]
    )
    new = enriched_ad_factory(
        "1", body="quiet evening", phones=["+13105551234"], flags=["hotel_incall"]
    )
    index.write([old])
    index.write([new])
    assert index.count() == 1
    assert index.get(new.key) == new
    assert keys(index, text="roses") == []
    assert keys(index, phones=["+12134782231"]) == []
    assert keys(index, flags_any=["coded_pricing"]) == []
    assert keys(index, text="quiet evening") == [new.key]
    assert keys(index, phones=["+13105551234"]) == [new.key]
    assert keys(index, flags_all=["hotel_incall"]) == [new.key]


def test_later_version_in_one_batch_wins(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    first = enriched_ad_factory("1", body="alpha")
    second = enriched_ad_factory("1", body="beta")
    index.write([first, second])
    assert keys(index, text="alpha") == []
    assert keys(index, text="beta") == ["testsite:1"]


def test_locked_database_raises_retriable_and_keeps_nothing(
    tmp_path: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    path = tmp_path / "index.sqlite3"
    SQLiteIndex.open(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with SQLiteIndex.open(path, timeout=0.05) as index:
        with pytest.raises(RetriableError, match="busy"):
            index.write([enriched_ad_factory()])
        blocker.execute("ROLLBACK")
        assert index.count() == 0
        index.write([enriched_ad_factory()])
        assert index.count() == 1
    blocker.close()


def test_reader_opens_and_searches_while_a_write_is_open(
    tmp_path: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    path = tmp_path / "index.sqlite3"
    writer = SQLiteIndex.open(path)
    writer.write([enriched_ad_factory("committed", body="visible")])
    # An uncommitted transaction from another connection holds the write lock.
    pending = sqlite3.connect(path, isolation_level=None)
    pending.execute("BEGIN IMMEDIATE")
    pending.execute("DELETE FROM ads")
    with SQLiteIndex.open(path, create=False) as reader:
        assert keys(reader, text="visible") == ["testsite:committed"]
        assert reader.count() == 1
    pending.execute("ROLLBACK")
    pending.close()
    writer.close()


def test_reader_in_another_thread_during_bulk_writes(
    tmp_path: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    path = tmp_path / "index.sqlite3"
    batches = [[enriched_ad_factory(body=f"batch{b} item") for _ in range(200)] for b in range(10)]
    with SQLiteIndex.open(path) as writer:
        done = threading.Event()
        seen: list[int] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                with SQLiteIndex.open(path, create=False) as reader:
                    while not done.is_set():
                        seen.append(reader.count())
                        reader.search(SearchQuery(text="item", limit=5))
            except BaseException as exc:  # reported to the main thread
                errors.append(exc)

        thread = threading.Thread(target=read)
        thread.start()
        for batch in batches:
            writer.write(batch)
            time.sleep(0.01)
        done.set()
        thread.join(10)
    assert not errors
    assert seen
    assert seen == sorted(seen)  # a reader only ever sees whole committed batches
    assert all(n % 200 == 0 for n in seen)


def test_bulk_write_of_thousands(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    ads = [
        enriched_ad_factory(
            body=f"listing number {i}",
            phones=[f"+1213478{i % 100:04d}"],
            flags=["movement"] if i % 3 == 0 else [],
            posted_at=BASE_TIME + timedelta(minutes=i),
        )
        for i in range(3000)
    ]
    started = time.perf_counter()
    index.write(ads)
    assert time.perf_counter() - started < 30
    assert index.count() == 3000
    assert len(keys(index, phones=["+12134780007"], limit=100)) == 30
    assert len(keys(index, flags_any=["movement"], limit=10_000)) == 1000
    assert keys(index, limit=1) == [ads[-1].key]
    assert keys(index, text="2999") == [ads[2999].key]


# --- every SearchQuery criterion, alone and combined ---


@pytest.fixture
def corpus(index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory) -> SQLiteIndex:
    index.write(
        [
            enriched_ad_factory(
                "a",
                source="site1",
                title="New in town",
                body="Sweet and fresh, call me 🍒",
                phones=["+12134782231"],
                flags=["movement", "youth_language"],
                risk_score=0.7,
                posted_at=BASE_TIME - 1 * H,
            ),
            enriched_ad_factory(
                "b",
                source="site2",
                title="Relaxing massage",
                body="Café near the hotel, ask for Anna",
                phones=["+13105551234", "+12134782231"],
                flags=["hotel_incall", "third_party"],
                risk_score=0.4,
                posted_at=BASE_TIME - 3 * H,
            ),
            enriched_ad_factory(
                "c",
                source="site1",
                title="Bike for sale",
                body="Fresh tires, barely used",
                risk_score=0.0,
                posted_at=None,  # falls back to scraped time
                scraped_at=BASE_TIME - 2 * H,
            ),
            enriched_ad_factory(
                "d",
                source="site3",
                title="Leaving soon",
                body="new-york girls, 24/7 fresh",
                phones=["+13105551234"],
                flags=["movement", "always_available", "multiple_persons"],
                risk_score=0.9,
                posted_at=BASE_TIME,
            ),
        ]
    )
    return index


def ids(index: SQLiteIndex, **criteria: object) -> list[str]:
    query = SearchQuery.model_validate(criteria)
    return [ad.source_id for ad in index.search(query)]


def test_no_criteria_lists_newest_first(corpus: SQLiteIndex) -> None:
    assert ids(corpus) == ["d", "a", "c", "b"]
    assert ids(corpus, limit=2) == ["d", "a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fresh", {"a", "c", "d"}),
        ("FRESH new", {"a", "d"}),  # all terms, any case
        ("cafe", {"b"}),  # accents folded
        ("new-york", {"d"}),  # punctuation joins words into a phrase
        ("york new", {"d"}),  # separate terms need not be adjacent...
        ("york-new", set()),  # ...but words of one term must be, in order
        ("🍒", {"a"}),  # symbol-only terms match literally
        ("🍒 bike", set()),
        ("24/7", {"d"}),
        ("nothing-like-this", set()),
    ],
)
def test_text(corpus: SQLiteIndex, text: str, expected: set[str]) -> None:
    assert set(ids(corpus, text=text)) == expected


def test_text_ranks_by_relevance(
    index: SQLiteIndex, enriched_ad_factory: EnrichedAdFactory
) -> None:
    index.write(
        [
            enriched_ad_factory(
                "weak", body="roses are red and so on and so forth", posted_at=BASE_TIME
            ),
            enriched_ad_factory(
                "strong", title="roses roses", body="roses", posted_at=BASE_TIME - H
            ),
        ]
    )
    assert ids(index, text="roses") == ["strong", "weak"]


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        "a:b",
        "title:x",
        "-fresh",
        "fresh*",
        "NEAR(a b)",
        "a OR b",
        "AND",
        "NOT fresh",
        "(",
        ")",
        "^x",
        "+",
        "{a b}",
        "x'y",
        "\\",
        "\x00",
        "   ",
        ":::",
        'a"b"c',
        "col:*",
    ],
)
def test_punctuation_heavy_text_never_raises(corpus: SQLiteIndex, text: str) -> None:
    corpus.search(SearchQuery(text=text))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=1, max_size=40))
def test_arbitrary_text_never_raises(corpus: SQLiteIndex, text: str) -> None:
    corpus.search(SearchQuery(text=text))


def test_phones_any(corpus: SQLiteIndex) -> None:
    assert ids(corpus, phones=["+12134782231"]) == ["a", "b"]
    assert ids(corpus, phones=["+12134782231", "+13105551234"]) == ["d", "a", "b"]
    assert ids(corpus, phones=["+19999999999"]) == []


def test_time_range_uses_posted_then_scraped(corpus: SQLiteIndex) -> None:
    assert ids(corpus, since=BASE_TIME - 2 * H) == ["d", "a", "c"]  # inclusive
    assert ids(corpus, until=BASE_TIME - 2 * H) == ["b"]  # exclusive
    assert ids(corpus, since=BASE_TIME - 2.5 * H, until=BASE_TIME - 0.5 * H) == ["a", "c"]


def test_naive_times_are_utc(corpus: SQLiteIndex) -> None:
    naive = (BASE_TIME - 2 * H).astimezone(UTC).replace(tzinfo=None)
    assert ids(corpus, since=naive) == ["d", "a", "c"]
    other_zone = (BASE_TIME - 2 * H).astimezone(datetime.now().astimezone().tzinfo)
    assert ids(corpus, since=other_zone) == ["d", "a", "c"]


def test_sources_any(corpus: SQLiteIndex) -> None:
    assert ids(corpus, sources=["site1"]) == ["a", "c"]
    assert ids(corpus, sources=["site2", "site3"]) == ["d", "b"]


def test_flags_any_and_all(corpus: SQLiteIndex) -> None:
    assert ids(corpus, flags_any=["movement"]) == ["d", "a"]
    assert ids(corpus, flags_any=["youth_language", "third_party"]) == ["a", "b"]
    assert ids(corpus, flags_all=["movement", "always_available"]) == ["d"]
    assert ids(corpus, flags_all=["movement", "movement"]) == ["d", "a"]
    assert ids(corpus, flags_all=["movement", "third_party"]) == []


def test_min_score(corpus: SQLiteIndex) -> None:
    assert ids(corpus, min_score=0.4) == ["d", "a", "b"]
    assert ids(corpus, min_score=0.95) == []


def test_combinations(corpus: SQLiteIndex) -> None:
    assert set(ids(corpus, text="fresh", sources=["site1"])) == {"a", "c"}
    assert ids(corpus, text="fresh", flags_any=["movement"], min_score=0.8) == ["d"]
    assert ids(corpus, phones=["+13105551234"], since=BASE_TIME - 2 * H) == ["d"]
    assert ids(corpus, phones=["+12134782231"], flags_all=["hotel_incall", "third_party"]) == ["b"]
    assert ids(corpus, text="new", sources=["site2"]) == []
    assert ids(corpus, text="🍒", phones=["+12134782231"], until=BASE_TIME) == ["a"]
