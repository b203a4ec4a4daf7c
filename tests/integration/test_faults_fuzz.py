"""A fuzzed stream of malformed records on the real broker: all dead-lettered, the rest indexed.

Hypothesis generates batches of malformed ``ads.raw`` records (`tests/fixtures/malformed.py`:
bad JSON, JSON that is not an object or nests beyond any limit, wrong types, fields past
their limits up to 750 KB, invalid UTF-8) mixed with valid ads, some of them long. One
worker takes every batch. Each malformed record must come out on ``ads.deadletter`` once,
byte for byte, with stage ``validate`` and the reason `parse_raw` gives for it; each valid
ad must be indexed; and the worker must still be the process it was at the start.

Few examples and no shrinking: each one goes through the broker and a worker (seconds), and
a failure names the record. The stream stays under the dead-letter cap's window (1,000
records per stage), so the cap cannot halt the worker here; the cap has its own tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.broker import kafka_client_options
from pipeline.enrich import parse_raw
from pipeline.errors import InvalidRecord
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from schemas import SearchQuery
from tests.fixtures.malformed import FAMILIES, malformed_records, valid_ad
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

H_STAGE = "__connect.errors.stage"
H_CLASS = "__connect.errors.exception.class.name"
H_MESSAGE = "__connect.errors.exception.message"
H_TOPIC = "__connect.errors.topic"


class DeadLetters:
    """Tails ``ads.deadletter`` with assigned partitions: every record so far, by key."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer, TopicPartition

        assert settings.kafka.bootstrap
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **kafka_client_options(settings),
        )
        name = settings.topic(topics.DEADLETTER)
        tps = [TopicPartition(name, p) for p in range(settings.kafka.partitions)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.by_key: dict[bytes, list[Any]] = {}

    def poll(self) -> dict[bytes, list[Any]]:
        for records in self.consumer.poll(timeout_ms=200).values():
            for r in records:
                self.by_key.setdefault(r.key or b"", []).append(r)
        return self.by_key

    def close(self) -> None:
        self.consumer.close()


def test_fuzzed_malformed_records_are_dead_lettered_and_the_worker_lives(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    settings = settings_factory(pipeline={"sink_batch_size": 50, "sink_batch_seconds": 0.2})
    assert settings.kafka.bootstrap
    bootstrap = settings.kafka.bootstrap
    worker = worker_factory(settings)
    pid = worker.pid
    dead = DeadLetters(settings)
    examples = itertools.count()
    totals = {"malformed": 0, "valid": 0}
    families: set[str] = set()

    @hsettings(
        max_examples=4,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(malformed_records(), min_size=40, max_size=70))
    def run(batch: list[tuple[str, bytes]]) -> None:
        n = next(examples)
        expected: dict[bytes, tuple[bytes, str, str]] = {}  # key -> (original, reason, family)
        valid = []
        with AdProducer(settings, bootstrap, client_id="fuzz") as producer:
            for i, (family, data) in enumerate(batch):
                with pytest.raises(InvalidRecord) as refused:
                    parse_raw(data)  # the strategy must make malformed records only
                key = f"fuzz-{n}-{i}".encode()
                expected[key] = (data, str(refused.value), family)
                families.add(family)
                producer.publish_raw(topics.RAW, key, data)
                if i % 2:
                    ad = valid_ad(f"e{n}", i)
                    valid.append(ad.key)
                    producer.publish(ad)
        totals["malformed"] += len(expected)
        totals["valid"] += len(valid)

        def all_dead_lettered() -> bool:
            assert worker.alive, f"the worker exited ({worker.returncode})"
            return expected.keys() <= dead.poll().keys()

        wait_for(all_dead_lettered, 180, f"{len(expected)} dead letters of example {n}")
        for key, (original, reason, family) in expected.items():
            [record] = dead.by_key[key]  # once, not twice
            headers = {k: v.decode("utf-8", errors="replace") for k, v in record.headers}
            assert record.value == original, (key, family)
            assert headers[H_STAGE] == "validate", (key, headers)
            assert headers[H_TOPIC] == settings.topic(topics.RAW)
            assert headers[H_CLASS] == "pipeline.errors.InvalidRecord"
            assert headers[H_MESSAGE] == reason[:2000] and reason, (key, headers[H_MESSAGE])

        def all_indexed() -> bool:
            if not settings.index_path.exists():
                return False
            with SQLiteIndex.open(settings.index_path, create=False) as idx:
                return all(idx.get(k) is not None for k in valid)

        wait_for(all_indexed, 180, f"{len(valid)} valid ads of example {n} indexed")

    try:
        run()
    finally:
        dead.close()
    assert totals["malformed"] >= 4 * 40 and totals["valid"] >= 4 * 20
    assert families == set(FAMILIES)
    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        fuzz = idx.search(SearchQuery(sources=["fuzz"], limit=10_000))
    assert len(fuzz) == totals["valid"]  # nothing malformed reached the index
    assert worker.alive and worker.pid == pid and worker.starts == 1
