"""``adwatch deadletter list|show|replay`` on a real broker with a real worker.

Dead letters come from the worker (records that fail validation), from ingest (a bad line)
and, as a failed index write or an enrichment bug would leave them, records whose original
bytes are valid now. Replay must index those exactly once, skip the still-invalid ones,
and change nothing when run a second time.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.broker import settings_env
from pipeline.cli.ingest_cmd import ingest_files
from pipeline.cli.main import _register, app
from pipeline.deadletter import error_headers
from pipeline.deadletter_tools import REPLAY_HEADER
from pipeline.enrich import enrich
from pipeline.errors import InvalidRecord
from pipeline.monitor import TopicMonitor
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from schemas import RawAd, SearchQuery
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

ITEMS = ["Oak bookshelf", "Road bike", "Piano lessons", "Garden chairs", "Desk lamp"]


def raw_ad(source: str, i: int) -> RawAd:
    return RawAd(
        source=source,
        source_id=str(i),
        title=f"{ITEMS[i % len(ITEMS)]} {i}",
        body=f"Good condition, pick up this weekend. Call 213-555-01{i % 100:02d}.",
        region="US",
    )


# Put on ads.raw directly by a producer that skipped validation: the worker refuses them.
DIRECT_BAD: list[tuple[bytes, bytes]] = [
    (b"direct:0", b"{not json"),
    (b"direct:1", json.dumps({"source": "direct", "source_id": 1, "title": "t"}).encode()),
    (b"direct:2", b"\xff\xfe\x00not utf-8"),
]
INGEST_BAD_LINE = json.dumps({"source": "file", "source_id": "9", "title": "x", "price": 3})


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["deadletter", *args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def replayed_records(settings: Settings, bootstrap: str, name: str, in_topic: int) -> list[Any]:
    """Records of topic ``name`` that carry the replay header; ``in_topic`` records expected."""
    records = read_records(settings, bootstrap, name, min_count=in_topic, timeout=60)
    assert len(records) >= in_topic
    return [r for r in records if any(h == REPLAY_HEADER for h, _ in r.headers)]


def indexed_keys(settings: Settings, source: str) -> list[str]:
    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        return sorted(a.key for a in idx.search(SearchQuery(sources=[source], limit=1_000)))


def test_list_show_and_replay_dead_letters(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_factory()
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    worker_factory(settings)

    # Good ads straight to ads.raw, and two from a file that also holds one bad line.
    good = [raw_ad("good", i) for i in range(6)]
    path = tmp_path / "ads.jsonl"
    from_file = [raw_ad("file", i) for i in range(2)]
    path.write_text(
        "\n".join([from_file[0].model_dump_json(), INGEST_BAD_LINE, from_file[1].model_dump_json()])
        + "\n"
    )
    summary = ingest_files([path], settings, bootstrap)
    assert (summary.published, summary.rejected) == (2, 1)

    # Dead letters whose original bytes are valid now: three scored ads the index refused
    # (stage index, ads.scored) and two raw ads an enrichment bug refused (stage enrich).
    refused = [enrich(raw_ad("refused", i)) for i in range(3)]
    buggy = [raw_ad("buggy", i) for i in range(2)]
    with AdProducer(settings, bootstrap) as producer:
        for ad in good:
            producer.publish(ad)
        for key, value in DIRECT_BAD:
            producer.publish_raw(topics.RAW, key, value)
        for i, scored in enumerate(refused):
            exc = InvalidRecord(
                f"elasticsearch refused index adwatch-ads-raw/{scored.key} → 400",
                [{"action": "index", "status": 400, "error": {"type": "strict_dynamic_mapping"}}],
            )
            producer.deadletter(
                scored.model_dump_json().encode(),
                scored.key.encode(),
                error_headers(
                    topic=settings.topic(topics.SCORED),
                    partition=i % 4,
                    offset=100 + i,
                    stage="index",
                    exc=exc,
                    details=exc.details,
                ),
            )
        for i, raw in enumerate(buggy):
            producer.deadletter(
                raw.model_dump_json().encode(),
                raw.key.encode(),
                error_headers(
                    topic=settings.topic(topics.RAW),
                    partition=i % 4,
                    offset=200 + i,
                    stage="enrich",
                    exc=RuntimeError("enrichment bug, fixed since"),
                ),
            )

    n_good = len(good) + len(from_file)
    n_dead = len(DIRECT_BAD) + 1 + len(refused) + len(buggy)
    wait_for(lambda: index_count(settings) >= n_good, 120, f"{n_good} indexed ads")
    dead = read_records(settings, bootstrap, topics.DEADLETTER, min_count=n_dead, timeout=120)
    assert len(dead) == n_dead

    for name, setting in settings_env(settings).items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("COLUMNS", "200")
    _register()

    # list: a table of every dead letter and counts by stage and reason kind.
    out = cli("list")
    assert "9 dead letters · by stage: index 3, validate 3, enrich 2, ingest 1 · by reason: " in out
    assert "refused: strict_dynamic_mapping 3" in out
    assert "RuntimeError 2" in out and "not JSON 1" in out and "not UTF-8 1" in out
    assert "/ads.jsonl line 2" in out  # the path may fold over two lines
    assert f"{settings.topic(topics.SCORED)}[0]@100" in out

    listed = json_lines(cli("list", "--json"))
    assert len(listed) == n_dead
    assert Counter(d["stage"] for d in listed) == {
        "validate": 3,
        "index": 3,
        "enrich": 2,
        "ingest": 1,
    }
    by_key = {d["key"]: d for d in listed}
    assert by_key["direct:2"]["original_encoding"] == "base64"
    assert by_key["direct:0"]["original"] == "{not json"
    assert by_key["direct:0"]["topic"] == settings.topic(topics.RAW)
    assert by_key[refused[0].key]["replay_topic"] == settings.topic(topics.SCORED)
    assert {d["id"] for d in listed} == {f"{r.partition}:{r.offset}" for r in dead}
    assert len(json_lines(cli("list", "--json", "--stage", "index"))) == 3
    assert len(json_lines(cli("list", "--json", "--limit", "2"))) == 2
    assert len(json_lines(cli("list", "--json", "--topic", "file:*"))) == 1
    assert len(json_lines(cli("list", "--json", "--reason", "utf-8"))) == 1
    assert json_lines(cli("list", "--json", "--since", "2999-01-01")) == []
    assert "no dead letters match (9 in " in cli("list", "--stage", "link")

    # show: one dead letter in full, the original pretty-printed.
    shown = cli("show", by_key["direct:1"]["id"])
    assert f"dead letter {by_key['direct:1']['id']} of {settings.topic(topics.DEADLETTER)}" in shown
    assert "__connect.errors.exception.class.name: pipeline.errors.InvalidRecord" in shown
    assert "skipped: still invalid: source_id: Input should be a valid string" in shown
    assert '\n  {\n    "source": "direct",\n    "source_id": 1,' in shown
    binary = cli("show", by_key["direct:2"]["id"])
    garbage = DIRECT_BAD[2][1]
    assert f"original (not UTF-8, {len(garbage)} bytes, base64)" in binary
    assert f"\n  {base64.b64encode(garbage).decode()}\n" in binary
    assert "no dead letter 3:999999 in " in cli("show", "3:999999", code=1)
    assert "is not a dead-letter id" in cli("show", "nope", code=2)

    # replay refuses to take everything without --all, and unknown ids replay nothing.
    assert "replay needs a filter" in cli("replay", code=2)
    assert "nothing replayed" in cli("replay", "--id", "0:999999", code=1)

    # --dry-run says what it would do and sends nothing.
    plan = cli("replay", "--all", "--dry-run")
    assert "would replay 5, skipped 4 (still invalid 4) (dry run: nothing sent)" in plan
    for direct in ("direct:0", "direct:1", "direct:2"):
        assert f"skip         {by_key[direct]['id']}  " in plan
    assert f"skip         {by_key[None]['id']}  file:{path} line 2  still invalid: " in plan
    n_raw = len(good) + len(from_file) + len(DIRECT_BAD)
    assert replayed_records(settings, bootstrap, topics.RAW, n_raw) == []
    assert replayed_records(settings, bootstrap, topics.SCORED, n_good) == []

    # Replay: the five valid records are indexed, each exactly once.
    out = cli("replay", "--stage", "index", "--stage", "enrich")
    assert "replayed 5, skipped 0" in out
    n_replayed = len(refused) + len(buggy)
    wait_for(lambda: index_count(settings) >= n_good + n_replayed, 120, "the replayed ads indexed")
    assert indexed_keys(settings, "refused") == sorted(a.key for a in refused)
    assert indexed_keys(settings, "buggy") == sorted(a.key for a in buggy)
    assert index_count(settings) == n_good + n_replayed
    on_scored = replayed_records(settings, bootstrap, topics.SCORED, n_good + n_replayed)
    on_raw = replayed_records(settings, bootstrap, topics.RAW, n_raw + len(buggy))
    assert sorted(r.key for r in on_scored) == sorted(a.key.encode() for a in refused)
    assert sorted(r.key for r in on_raw) == sorted(a.key.encode() for a in buggy)
    ids = {by_key[r.key.decode()]["id"] for r in on_scored + on_raw}
    headers = {dict(r.headers)[REPLAY_HEADER].decode() for r in on_scored + on_raw}
    assert headers == {f"{settings.topic(topics.DEADLETTER)}:{i}" for i in ids}

    # A second replay, of everything: still invalid ones skipped again, nothing changes.
    # Each replayed ad reaches ads.scored once more; then the group has committed all.
    scored_before = read_records(settings, bootstrap, topics.SCORED, min_count=n_good + n_replayed)
    n_scored = len(scored_before) + n_replayed
    monitor = TopicMonitor(settings, bootstrap, poll_ms=100).start()
    try:
        out = cli("replay", "--all")
        assert "replayed 5, skipped 4 (still invalid 4)" in out

        def settled() -> bool:
            snap = monitor.snapshot()
            return snap.records.get(topics.SCORED, 0) >= n_scored and snap.total_lag == 0

        wait_for(settled, 120, "the second replay processed and committed")
    finally:
        monitor.close()
    assert index_count(settings) == n_good + n_replayed
    assert len(read_records(settings, bootstrap, topics.DEADLETTER, min_count=n_dead)) == n_dead
    again = replayed_records(settings, bootstrap, topics.SCORED, n_scored)
    assert len(again) == 2 * len(refused)
