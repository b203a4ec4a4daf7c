"""End to end on a real broker: ingest a file with bad lines, every ad lands exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import phonenumbers
import pytest
from typer.testing import CliRunner

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.cli.ingest_cmd import ingest_files
from pipeline.cli.main import _register, app
from pipeline.deadletter import read_deadletter
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from schemas import SearchQuery
from tests.fixtures.ingest_fixture import write_ingest_fixture
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

# What a non-Python producer might put on ads.raw directly, bypassing ingest's checks.
DIRECT_BAD: list[tuple[bytes, str]] = [
    (b"{not json", "not JSON"),
    (b'"just a string"', "not a JSON object: got a JSON string"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (json.dumps({"source": "x", "source_id": 5, "title": "t"}).encode(), "source_id"),
    (json.dumps({"source": "x", "source_id": "1", "title": "t", "price": 3}).encode(), "price"),
    (
        json.dumps(
            {"source": "x", "source_id": "2", "title": "t", "posted_at": "yesterday"}
        ).encode(),
        "posted_at",
    ),
]


def test_ingest_to_index_with_bad_input(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_factory()
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    fixture = write_ingest_fixture(tmp_path / "ads.jsonl", n_valid=1_200)
    assert len(fixture.valid_keys) + len(fixture.bad_lines) >= 1_000
    worker_factory(settings)

    summary = ingest_files([fixture.path], settings, bootstrap)
    assert summary.published == len(fixture.valid_keys)
    assert summary.rejected == len(fixture.bad_lines)
    assert summary.delivery_failed == 0

    with AdProducer(settings, bootstrap) as producer:
        for i, (value, _) in enumerate(DIRECT_BAD):
            producer.publish_raw(topics.RAW, f"direct:{i}".encode(), value, [])

    n_valid, n_rejected, n_direct = len(fixture.valid_keys), len(fixture.bad_lines), len(DIRECT_BAD)
    wait_for(lambda: index_count(settings) >= n_valid, 300, f"{n_valid} indexed ads")
    dead = [
        read_deadletter(r.value, r.headers, r.key)
        for r in read_records(
            settings, bootstrap, topics.DEADLETTER, min_count=n_rejected + n_direct
        )
    ]

    # Counts add up: every record published to ads.raw was indexed or dead-lettered once.
    published = summary.published + n_direct
    at_worker = [d for d in dead if d.stage == "validate"]
    at_ingest = [d for d in dead if d.stage == "ingest"]
    assert len(dead) == n_rejected + n_direct
    assert published == index_count(settings) + len(at_worker)
    assert fixture.total_lines == n_valid + n_rejected + len(fixture.blank_lines)

    # Bad lines: dead-lettered by ingest with file, line number, reason and original bytes.
    assert {d.offset: d.original for d in at_ingest} == fixture.bad_bytes
    for d in at_ingest:
        assert d.topic == f"file:{fixture.path}"
        assert d.message and d.exception_class.endswith("InvalidRecord")

    # Records that bypassed ingest: dead-lettered by the worker with Connect-style headers.
    by_key = {d.key: d for d in at_worker}
    for i, (value, reason) in enumerate(DIRECT_BAD):
        d = by_key[f"direct:{i}"]
        assert d.original == value
        assert d.topic == settings.topic(topics.RAW)
        assert d.partition >= 0 and d.offset >= 0
        assert reason in d.message, (reason, d.message)

    # Every valid ad is searchable exactly once, by key and by phone.
    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        stored = idx.search(SearchQuery(sources=["fixture"], limit=10_000))
        assert sorted(a.key for a in stored) == sorted(fixture.valid_keys)
        with_phone = [a for a in stored if a.phones]
        assert len(with_phone) > n_valid // 2
        sample = with_phone[:: max(1, len(with_phone) // 25)]
        for ad in sample:
            hits = idx.search(SearchQuery(phones=[ad.phones[0].e164], limit=1_000))
            assert [h.key for h in hits].count(ad.key) == 1

    # The CLI finds an ad by the phone written as a person would type it.
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(settings.data_dir))
    ad = sample[0]
    national = phonenumbers.format_number(
        phonenumbers.parse(ad.phones[0].e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    _register()
    result = CliRunner().invoke(app, ["search", "--phone", national, "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    keys = [json.loads(line)["key"] for line in result.stdout.splitlines() if line.strip()]
    assert keys.count(ad.key) == 1
