"""The pure parts of ``adwatch deadletter``: ids, filters, reason kinds, summaries, replay plans."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline import topics
from pipeline.deadletter import error_headers
from pipeline.deadletter_tools import (
    REPLAY_HEADER,
    SKIP_INVALID,
    SKIP_NO_TARGET,
    Entry,
    Filters,
    entry_from_record,
    entry_json,
    format_id,
    missing_ids,
    one_line,
    origin,
    original_for_json,
    parse_id,
    plan_counts,
    plan_replay,
    pretty_original,
    reason_kind,
    replay_headers,
    replay_target,
    select,
    summarize,
    summary_line,
)
from pipeline.enrich import enrich, parse_raw
from pipeline.errors import InvalidRecord

PREFIX = "adwatch."
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GOOD_AD = json.dumps(
    {"source": "demo", "source_id": "7", "title": "Hello", "body": "call 702-555-0150"}
).encode()
BAD_TYPE = json.dumps({"source": "demo", "source_id": 5, "title": "t", "price": 3}).encode()


def invalid(value: bytes) -> InvalidRecord:
    try:
        parse_raw(value)
    except InvalidRecord as exc:
        return exc
    raise AssertionError("expected InvalidRecord")


def entry(
    *,
    dl_partition: int = 0,
    dl_offset: int = 0,
    key: bytes | None = b"demo:7",
    value: bytes = GOOD_AD,
    topic: str = PREFIX + "ads.raw",
    partition: int = 1,
    offset: int = 40,
    stage: str = "validate",
    exc: BaseException | None = None,
    details: list[dict[str, Any]] | None = None,
    failed_at: datetime = T0,
) -> Entry:
    exc = exc if exc is not None else InvalidRecord("boom")
    if details is None:
        details = exc.details if isinstance(exc, InvalidRecord) else []
    headers = error_headers(
        topic=topic,
        partition=partition,
        offset=offset,
        stage=stage,
        exc=exc,
        details=details,
        failed_at=failed_at,
    )
    return entry_from_record(dl_partition, dl_offset, key, value, headers)


# ids ---------------------------------------------------------------------------------------


def test_id_round_trip() -> None:
    e = entry(dl_partition=3, dl_offset=1_234)
    assert e.id == "3:1234" == format_id(3, 1_234)
    assert parse_id(e.id) == (3, 1_234)
    assert parse_id("  0:17 ") == (0, 17)


@pytest.mark.parametrize("text", ["", "3", "3:", ":4", "a:1", "1:b", "-1:3", "1:2:3", "1.5:2"])
def test_bad_ids_say_what_an_id_is(text: str) -> None:
    with pytest.raises(ValueError, match=r"PARTITION:OFFSET.*e\.g\. 0:17"):
        parse_id(text)


def test_missing_ids() -> None:
    have = [entry(dl_partition=0, dl_offset=1), entry(dl_partition=2, dl_offset=5)]
    assert missing_ids(have, [(0, 1), (2, 5)]) == []
    assert missing_ids(have, [(0, 1), (0, 5), (9, 9)]) == ["0:5", "9:9"]


def test_entry_keeps_record_parts() -> None:
    e = entry(key=None, value=b"\xff\x00raw", stage="ingest", topic="file:/d/a.jsonl")
    assert e.key is None and e.letter.key is None
    assert e.letter.original == b"\xff\x00raw"
    assert e.headers[0] == ("__connect.errors.topic", b"file:/d/a.jsonl")
    assert dict(e.headers)["__connect.errors.stage"] == b"ingest"


# filters -----------------------------------------------------------------------------------


def test_empty_filters_select_everything() -> None:
    assert Filters().is_empty()
    assert not Filters(stages=("index",)).is_empty()
    assert not Filters(since=T0).is_empty()
    assert not Filters(ids=((0, 1),)).is_empty()
    assert not Filters(reason="x").is_empty()
    assert Filters(reason="").is_empty()
    entries = [entry(dl_offset=i) for i in range(3)]
    assert select(entries, Filters(), PREFIX) == entries


def test_stage_filter_and_connector_family() -> None:
    val = entry(dl_offset=0, stage="validate")
    idx = entry(dl_offset=1, stage="index", topic=PREFIX + "ads.scored")
    con = entry(dl_offset=2, stage="connector:site-a", topic="https://example.org/p/1")
    assert select([val, idx, con], Filters(stages=("index",)), PREFIX) == [idx]
    assert select([val, idx, con], Filters(stages=("validate", "index")), PREFIX) == [val, idx]
    assert select([val, idx, con], Filters(stages=("connector",)), PREFIX) == [con]
    assert select([val, idx, con], Filters(stages=("connector:site-a",)), PREFIX) == [con]
    assert select([val, idx, con], Filters(stages=("vaildate",)), PREFIX) == []


def test_topic_filter_logical_full_and_glob() -> None:
    raw = entry(dl_offset=0, topic=PREFIX + "ads.raw")
    scored = entry(dl_offset=1, topic=PREFIX + "ads.scored", stage="index")
    file_a = entry(dl_offset=2, topic="file:/d/a.jsonl", stage="ingest", partition=-1)
    file_b = entry(dl_offset=3, topic="file:/d/b.jsonl", stage="ingest", partition=-1)
    everything = [raw, scored, file_a, file_b]
    assert select(everything, Filters(topics=("ads.raw",)), PREFIX) == [raw]
    assert select(everything, Filters(topics=("adwatch.ads.scored",)), PREFIX) == [scored]
    assert select(everything, Filters(topics=("file:*",)), PREFIX) == [file_a, file_b]
    assert select(everything, Filters(topics=("file:/d/b.jsonl",)), PREFIX) == [file_b]
    assert select(everything, Filters(topics=("ads.*",)), PREFIX) == [raw, scored]
    assert select(everything, Filters(topics=("ads.raw",)), "other.") == []


def test_reason_filter_reads_message_class_and_kind() -> None:
    price = entry(dl_offset=0, value=BAD_TYPE, exc=invalid(BAD_TYPE))
    boom = entry(dl_offset=1, stage="enrich", exc=KeyError("phones"))
    assert select([price, boom], Filters(reason="PRICE"), PREFIX) == [price]
    assert select([price, boom], Filters(reason="keyerror"), PREFIX) == [boom]
    assert select([price, boom], Filters(reason="invalid record: price"), PREFIX) == [price]


def test_since_and_ids_filters() -> None:
    old = entry(dl_offset=0, failed_at=T0)
    new = entry(dl_offset=1, failed_at=T0 + timedelta(hours=2))
    assert select([old, new], Filters(since=T0 + timedelta(hours=1)), PREFIX) == [new]
    assert select([old, new], Filters(since=T0), PREFIX) == [old, new]
    assert select([old, new], Filters(ids=((0, 0),)), PREFIX) == [old]
    both = Filters(ids=((0, 0), (0, 1)), since=T0 + timedelta(hours=1))
    assert select([old, new], both, PREFIX) == [new]  # every criterion must hold


def test_select_orders_by_failure_and_limit_keeps_the_most_recent() -> None:
    times = [T0 + timedelta(minutes=m) for m in (5, 1, 3, 1)]
    entries = [entry(dl_partition=p, dl_offset=9, failed_at=t) for p, t in enumerate(times)]
    ordered = select(entries, Filters(), PREFIX)
    assert [e.id for e in ordered] == ["1:9", "3:9", "2:9", "0:9"]
    assert [e.id for e in select(entries, Filters(), PREFIX, limit=2)] == ["2:9", "0:9"]
    assert len(select(entries, Filters(), PREFIX, limit=10)) == 4


# reasons, summaries, display ---------------------------------------------------------------


def test_reason_kinds() -> None:
    assert reason_kind(entry(exc=invalid(BAD_TYPE)).letter) == "invalid record: price, source_id"
    assert reason_kind(entry(exc=invalid(b"{nope")).letter) == "not JSON"
    assert reason_kind(entry(exc=invalid(b"[1]")).letter) == "not a JSON object"
    assert reason_kind(entry(exc=invalid(b"\xff")).letter) == "not UTF-8"
    ingest = InvalidRecord("line 12: not JSON: Expecting value (col 1)")
    assert reason_kind(entry(exc=ingest, stage="ingest").letter) == "not JSON"
    huge = InvalidRecord("not acceptable JSON: Exceeds the limit for integer string conversion")
    assert reason_kind(entry(exc=huge).letter) == "not JSON"
    many = InvalidRecord("x", [{"loc": [name]} for name in "dcba"])
    assert reason_kind(entry(exc=many).letter) == "invalid record: a, b, c, …"
    model = InvalidRecord("x", [{"loc": []}])
    assert reason_kind(entry(exc=model).letter) == "invalid record: record"
    es = InvalidRecord(
        "elasticsearch refused index …",
        [{"action": "index", "status": 400, "error": {"type": "mapper_parsing_exception"}}],
    )
    assert reason_kind(entry(exc=es, stage="index").letter) == "refused: mapper_parsing_exception"
    assert reason_kind(entry(exc=KeyError("k"), stage="enrich").letter) == "KeyError"
    bare = entry_from_record(0, 0, None, b"", [])
    assert reason_kind(bare.letter) == "unknown"


def test_summary_counts_by_stage_and_kind() -> None:
    entries = [
        *(entry(dl_offset=i, exc=invalid(b"{x")) for i in range(3)),
        entry(dl_offset=3, exc=invalid(BAD_TYPE)),
        entry(dl_offset=4, stage="index", exc=KeyError("k")),
    ]
    summary = summarize(entries)
    assert summary.total == 5
    assert summary.by_stage == (("validate", 4), ("index", 1))
    assert summary.by_kind == (
        ("not JSON", 3),
        ("KeyError", 1),
        ("invalid record: price, source_id", 1),
    )
    line = summary_line(summary, shown=5)
    assert line == (
        "5 dead letters · by stage: validate 4, index 1 · by reason: not JSON 3, KeyError 1, "
        "invalid record: price, source_id 1"
    )
    assert summary_line(summary, shown=2).endswith(" · showing the 2 most recent")
    assert summary_line(summary, shown=5, top=1).endswith("by reason: not JSON 3, other 2")
    assert summary_line(summarize([]), shown=0) == "0 dead letters"
    assert summary_line(summarize(entries[:1]), shown=1).startswith("1 dead letter ·")


def test_origin() -> None:
    assert origin(entry(topic="adwatch.ads.raw", partition=2, offset=41).letter) == (
        "adwatch.ads.raw[2]@41"
    )
    assert origin(entry(topic="file:/d/a.jsonl", partition=-1, offset=12).letter) == (
        "file:/d/a.jsonl line 12"
    )
    assert origin(entry(topic="https://example.org/feed", partition=-1, offset=-1).letter) == (
        "https://example.org/feed"
    )


def test_one_line() -> None:
    assert one_line("a\n  b\tc", 10) == "a b c"
    assert one_line("abcdefghij", 10) == "abcdefghij"
    assert one_line("abcdefghijk", 10) == "abcdefghi…"
    assert len(one_line("x " * 100, 20)) == 20


def test_original_as_text_or_base64() -> None:
    assert original_for_json("café 🌹".encode()) == ("café 🌹", "utf-8")
    binary = b"\xff\xfe\x00garbage"
    text, encoding = original_for_json(binary)
    assert encoding == "base64"
    assert base64.b64decode(text) == binary


def test_pretty_original() -> None:
    label, text = pretty_original(GOOD_AD)
    assert label == f"JSON, {len(GOOD_AD)} bytes"
    assert json.loads(text) == json.loads(GOOD_AD)
    assert '\n  "source": "demo",' in text
    assert pretty_original(b"{nope") == ("text, 5 bytes", "{nope")
    assert pretty_original(b"\xff") == ("not UTF-8, 1 byte, base64", "/w==")
    assert pretty_original('"héllo"'.encode())[1] == '"héllo"'  # not escaped


def test_entry_json() -> None:
    e = entry(dl_partition=1, dl_offset=8, value=BAD_TYPE, exc=invalid(BAD_TYPE))
    out = entry_json(e, PREFIX)
    assert json.loads(json.dumps(out)) == out  # JSON-safe as it is
    assert out["id"] == "1:8"
    assert out["key"] == "demo:7"
    assert (out["topic"], out["partition"], out["offset"]) == ("adwatch.ads.raw", 1, 40)
    assert out["stage"] == "validate"
    assert out["exception_class"] == "pipeline.errors.InvalidRecord"
    assert out["reason_kind"] == "invalid record: price, source_id"
    assert out["details"] and out["details"][0]["loc"] == ["source_id"]
    assert datetime.fromisoformat(out["failed_at"]) == T0
    assert out["replay_topic"] == "adwatch.ads.raw"
    assert (out["original"], out["original_encoding"]) == (BAD_TYPE.decode(), "utf-8")
    binary = entry_json(entry(value=b"\x80"), PREFIX)
    assert (binary["original"], binary["original_encoding"]) == ("gA==", "base64")
    foreign = entry_json(entry(topic="other.ads.scored", stage="index"), PREFIX)
    assert foreign["replay_topic"] is None


# replay ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "topic", "expected"),
    [
        ("validate", "adwatch.ads.raw", topics.RAW),
        ("enrich", "adwatch.ads.raw", topics.RAW),
        ("ingest", "file:/d/a.jsonl", topics.RAW),
        ("connector:site-a", "https://example.org/p/1", topics.RAW),
        ("connector:files", "file:/d/b.jsonl", topics.RAW),
        ("link", "adwatch.ads.enriched", topics.ENRICHED),
        ("link", "adwatch.ads.links", topics.LINKS),
        ("index", "adwatch.ads.scored", topics.SCORED),
        ("index", "adwatch.entities.phones", topics.ENTITIES),
        ("notify", "adwatch.alerts", topics.ALERTS),
    ],
)
def test_replay_target(stage: str, topic: str, expected: str) -> None:
    target, why = replay_target(entry(stage=stage, topic=topic).letter, PREFIX)
    assert (target, why) == (expected, "")


@pytest.mark.parametrize(
    "topic", ["other.ads.scored", "adwatch.ads.deadletter", "adwatch.nonsense", ""]
)
def test_no_replay_target_outside_this_deployments_topics(topic: str) -> None:
    target, why = replay_target(entry(stage="index", topic=topic).letter, PREFIX)
    assert target is None
    assert "is not an adwatch topic with prefix 'adwatch.'" in why


def test_plan_replays_valid_records_with_their_keys() -> None:
    keyed = entry(dl_offset=0, key=b"demo:7")
    unkeyed = entry(dl_offset=1, key=None, stage="ingest", topic="file:/d/a.jsonl", partition=-1)
    plan = plan_replay([keyed, unkeyed], PREFIX)
    assert [(p.target, p.key, p.skip, p.replayed) for p in plan] == [
        (topics.RAW, b"demo:7", None, True),
        (topics.RAW, b"demo:7", None, True),  # the line's ad gives the key it lacked
    ]
    assert plan_counts(plan) == (2, {})


def test_plan_skips_what_would_fail_again_unless_forced() -> None:
    bad = entry(dl_offset=0, value=BAD_TYPE, exc=invalid(BAD_TYPE))
    garbage = entry(dl_offset=1, key=None, value=b"\xff\xfe", stage="ingest")
    foreign = entry(dl_offset=2, topic="elsewhere", stage="index")
    good = entry(dl_offset=3)
    plan = plan_replay([bad, garbage, foreign, good], PREFIX)
    assert [p.skip for p in plan] == [SKIP_INVALID, SKIP_INVALID, SKIP_NO_TARGET, None]
    assert "source_id: Input should be a valid string" in plan[0].why
    assert "not UTF-8" in plan[1].why
    assert "elsewhere is not an adwatch topic" in plan[2].why
    replayed, skipped = plan_counts(plan)
    assert (replayed, dict(skipped)) == (1, {SKIP_INVALID: 2, SKIP_NO_TARGET: 1})

    forced = plan_replay([bad, garbage, foreign], PREFIX, force=True)
    assert [(p.replayed, p.forced) for p in forced] == [(True, True), (True, True), (False, False)]
    assert forced[0].key == b"demo:7" and forced[1].key is None
    assert "source_id" in forced[0].why


def test_plan_checks_later_topics_as_their_agents_do() -> None:
    ad = enrich(parse_raw(GOOD_AD))
    scored_ok = entry(
        dl_offset=0, stage="index", topic="adwatch.ads.scored", value=ad.model_dump_json().encode()
    )
    scored_bad = entry(dl_offset=1, stage="index", topic="adwatch.ads.scored", value=GOOD_AD)
    entity_bad = entry(dl_offset=2, stage="index", topic="adwatch.entities.phones", value=b"{}")
    alert = entry(dl_offset=3, stage="notify", topic="adwatch.alerts", value=b"{}", key=b"sub")
    plan = plan_replay([scored_ok, scored_bad, entity_bad, alert], PREFIX)
    assert [p.skip for p in plan] == [None, SKIP_INVALID, SKIP_INVALID, None]
    assert [p.target for p in plan] == [
        topics.SCORED,
        topics.SCORED,
        topics.ENTITIES,
        topics.ALERTS,
    ]
    assert "key: Field required" in plan[1].why
    assert "phone: Field required" in plan[2].why
    assert plan[3].key == b"sub"


def test_replay_header_names_the_dead_letter() -> None:
    e = entry(dl_partition=2, dl_offset=41)
    assert replay_headers(e, "adwatch.ads.deadletter") == [
        (REPLAY_HEADER, b"adwatch.ads.deadletter:2:41")
    ]
    assert REPLAY_HEADER == "adwatch.replay-of"
