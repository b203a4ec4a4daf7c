from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import RetriableError
from pipeline.linking import LinkConfig, Observation, observe
from pipeline.sinks import Sink
from pipeline.sinks.sqlite import SCHEMA_VERSION, SQLiteIndex
from schemas import EnrichedAd, Evidence, Flag
from schemas.entities import Episode, PhoneEntity

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
PHONE = "+17025550101"


def make_entity(
    phone: str = PHONE,
    *,
    ads: int = 1,
    last: timedelta = timedelta(0),
    updated: timedelta = timedelta(0),
    flags: Sequence[str] = (),
    cities: Sequence[str] = (),
) -> PhoneEntity:
    """An entity last seen ``last`` after `BASE`, updated ``updated`` after `BASE` + 1 day."""
    return PhoneEntity(
        phone=phone,
        first_seen=BASE - timedelta(days=1),
        last_seen=BASE + last,
        ad_count=ads,
        ads=[f"site:{phone}-{i}" for i in range(ads)],
        cities=list(cities),
        flags=[Flag(id=f, evidence=[Evidence(text=f"{phone} {f}", note="a note")]) for f in flags],
        updated_at=BASE + timedelta(days=1) + updated,
    )


def phones(found: Sequence[PhoneEntity]) -> list[str]:
    return [e.phone for e in found]


def rows(index: SQLiteIndex, sql: str) -> list[tuple[object, ...]]:
    return index._connection.execute(sql).fetchall()


def test_sqlite_index_is_a_sink_with_write_entities(index: SQLiteIndex) -> None:
    assert isinstance(index, Sink)
    assert index.entity_count() == 0
    assert index.get_entity(PHONE) is None
    assert index.entities() == []
    index.write_entities([])
    assert index.entity_count() == 0


def test_upsert_inserts_then_overwrites_by_phone(index: SQLiteIndex) -> None:
    first = make_entity(ads=1, flags=["posting_burst"])
    index.write_entities([first])
    assert index.get_entity(PHONE) == first
    newer = make_entity(ads=3, updated=H, flags=["phone_multi_city"], cities=["Dallas"])
    index.write_entities([newer])
    assert index.entity_count() == 1
    assert index.get_entity(PHONE) == newer
    assert rows(index, "SELECT phone, flag FROM entity_flags") == [(PHONE, "phone_multi_city")]
    assert rows(index, "SELECT ad_count, city_count FROM phone_entities") == [(3, 1)]


def test_write_entities_is_idempotent(index: SQLiteIndex) -> None:
    entity = make_entity(ads=2, flags=["posting_burst", "phone_multi_city"])
    index.write_entities([entity, entity])
    index.write_entities([entity])
    assert index.entity_count() == 1
    assert index.get_entity(PHONE) == entity
    assert rows(index, "SELECT count(*) FROM entity_flags") == [(2,)]


def test_older_record_does_not_overwrite_a_newer_one(index: SQLiteIndex) -> None:
    newer = make_entity(ads=5, updated=H, flags=["posting_burst"])
    older = make_entity(ads=2, flags=["phone_multi_persona"])
    index.write_entities([newer])
    index.write_entities([older])  # a replay after a restart
    assert index.get_entity(PHONE) == newer
    assert rows(index, "SELECT flag FROM entity_flags") == [("posting_burst",)]
    assert phones(index.entities(flags=["phone_multi_persona"])) == []


def test_guard_holds_to_the_microsecond_and_within_one_batch(index: SQLiteIndex) -> None:
    us = timedelta(microseconds=1)
    newer = make_entity(ads=4, updated=us)
    older = make_entity(ads=3)
    index.write_entities([newer, older])
    assert index.get_entity(PHONE) == newer
    same_time = make_entity(ads=6, updated=us)  # equal updated_at: the later write wins
    index.write_entities([same_time])
    assert index.get_entity(PHONE) == same_time


def test_flags_filter_is_any_of(index: SQLiteIndex) -> None:
    index.write_entities(
        [
            make_entity("+17025550101", flags=["phone_multi_city"], last=3 * H),
            make_entity("+17025550102", flags=["posting_burst", "phone_multi_city"], last=2 * H),
            make_entity("+17025550103", flags=["phone_multi_persona"], last=H),
            make_entity("+17025550104"),
        ]
    )
    assert phones(index.entities(flags=["phone_multi_city"])) == ["+17025550101", "+17025550102"]
    assert phones(index.entities(flags=["posting_burst", "phone_multi_persona"])) == [
        "+17025550102",
        "+17025550103",
    ]
    assert phones(index.entities(flags=["template_reuse"])) == []
    assert len(index.entities()) == 4


def test_min_ads(index: SQLiteIndex) -> None:
    index.write_entities(
        [make_entity("+17025550101", ads=1), make_entity("+17025550102", ads=4, last=H)]
    )
    assert phones(index.entities(min_ads=2)) == ["+17025550102"]
    assert phones(index.entities(min_ads=4)) == ["+17025550102"]
    assert phones(index.entities(min_ads=5)) == []


def test_phones_filter_and_criteria_combine(index: SQLiteIndex) -> None:
    index.write_entities(
        [
            make_entity("+17025550101", ads=3, flags=["posting_burst"]),
            make_entity("+17025550102", ads=1, flags=["posting_burst"]),
            make_entity("+17025550103", ads=3),
        ]
    )
    assert phones(index.entities(phones=["+17025550101", "+17025550103"])) == [
        "+17025550101",
        "+17025550103",
    ]
    found = index.entities(phones=["+17025550101", "+17025550102"], flags=["posting_burst"])
    assert phones(found) == ["+17025550101", "+17025550102"]
    assert phones(index.entities(flags=["posting_burst"], min_ads=2)) == ["+17025550101"]


def test_ordered_by_last_seen_newest_first_then_phone_and_limited(index: SQLiteIndex) -> None:
    index.write_entities(
        [
            make_entity("+17025550101", last=H),
            make_entity("+17025550102", last=3 * H),
            make_entity("+17025550104", last=2 * H),
            make_entity("+17025550103", last=2 * H),
        ]
    )
    assert phones(index.entities()) == [
        "+17025550102",
        "+17025550103",
        "+17025550104",
        "+17025550101",
    ]
    assert phones(index.entities(limit=2)) == ["+17025550102", "+17025550103"]
    with pytest.raises(ValueError, match="limit"):
        index.entities(limit=0)


def test_json_round_trip_of_an_entity_built_by_linking(index: SQLiteIndex) -> None:
    cfg = LinkConfig()
    entity = None
    for i, city in enumerate(["Dallas, TX", "Houston, TX", "Austin, TX"]):
        obs = Observation(
            ad_key=f"site:{i}", at=BASE + i * H, cities=[city], names=["Mia"], ages=[22]
        )
        entity = observe(entity, PHONE, obs, cfg, now=BASE + i * H)
    assert entity is not None and [f.id for f in entity.flags] == ["phone_multi_city"]
    assert entity.episodes and entity.flags[0].evidence[0].note
    index.write_entities([entity])
    stored = index.get_entity(PHONE)
    assert stored == entity
    assert stored.episodes[0].window == cfg.multi_city_window
    assert index.entities(flags=["phone_multi_city"]) == [entity]


def test_hand_built_episode_survives_the_round_trip(index: SQLiteIndex) -> None:
    episode = Episode(
        flag="posting_burst",
        basis="ads",
        start=BASE,
        end=BASE + timedelta(minutes=40),
        window=H,
        threshold=5,
        peak=6,
        values=[],
        ad_keys=[f"site:{i}" for i in range(6)],
    )
    entity = make_entity(ads=6, flags=["posting_burst"]).model_copy(update={"episodes": [episode]})
    index.write_entities([entity])
    assert index.get_entity(PHONE) == entity
    assert rows(index, "SELECT json_extract(doc, '$.phone') FROM phone_entities") == [(PHONE,)]


def test_entities_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    entity = make_entity(flags=["posting_burst"])
    with SQLiteIndex.open(path) as index:
        index.write_entities([entity])
    with SQLiteIndex.open(path, create=False) as index:
        assert index.get_entity(PHONE) == entity
        assert index.entity_count() == 1


def test_index_file_of_the_previous_version_gets_the_entity_tables(
    tmp_path: Path, enriched_ad_factory: Callable[..., EnrichedAd]
) -> None:
    path = tmp_path / "index.sqlite3"
    ad = enriched_ad_factory(phones=[PHONE])
    make_version_1_file(path, ad)
    with SQLiteIndex.open(path, create=False) as index:
        assert index.get(ad.key) == ad  # what the previous version wrote is still there
        assert index.entity_count() == 0
        index.write_entities([make_entity(flags=["posting_burst"])])
        assert phones(index.entities(flags=["posting_burst"])) == [PHONE]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    conn.close()
    with SQLiteIndex.open(path) as index:
        assert index.entity_count() == 1
        assert index.count() == 1


def make_version_1_file(path: Path, ad: EnrichedAd) -> None:
    """An index as adwatch wrote it before entity records: user_version 1, no entity tables."""
    with SQLiteIndex.open(path) as index:
        index.write([ad])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE phone_entities")
    conn.execute("DROP TABLE entity_flags")
    conn.execute("PRAGMA user_version = 1")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert not {"phone_entities", "entity_flags", "entity_flags_flag"} & tables
    conn.close()


def test_locked_database_raises_retriable_and_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    SQLiteIndex.open(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with SQLiteIndex.open(path, timeout=0.05) as index:
        with pytest.raises(RetriableError, match="busy"):
            index.write_entities([make_entity()])
        blocker.execute("ROLLBACK")
        assert index.entity_count() == 0
        index.write_entities([make_entity()])
        assert index.entity_count() == 1
    blocker.close()


def test_closed_index_refuses_entity_work(index: SQLiteIndex) -> None:
    index.close()
    with pytest.raises(RuntimeError, match="closed"):
        index.write_entities([make_entity()])
    with pytest.raises(RuntimeError, match="closed"):
        index.entities()
