"""Keyed records land where `key_partition` says, and a worker refuses mismatched topics.

The link agent passes a trip's next keys in the same event when `key_partition` puts them
on the partition in hand, so it must agree with the producer faust uses (aiokafka's default
partitioner) on a real broker; and that holds only while the keyed topics have
``kafka.partitions`` partitions, which the worker checks before it starts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from pipeline import topics
from pipeline.broker import EmbeddedBroker
from pipeline.partitioning import check_copartitioned, key_partition, partition_counts
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from tests.integration.conftest import wait_for

KEYS = [f"phone:+1702555{n:04d}" for n in range(0, 200, 7)] + [
    f"t{band}:{band * 7919 + n:016x}" for band in range(16) for n in range(3)
]


async def _produce(bootstrap: str, topic: str, keys: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)  # its default partitioner
    await producer.start()
    try:
        for key in keys:
            await producer.send_and_wait(topic, b"{}", key=key.encode())
    finally:
        await producer.stop()


def test_records_land_on_the_partition_key_partition_gives(
    settings_factory: Callable[..., Settings],
) -> None:
    s = settings_factory()
    assert s.kafka.bootstrap
    asyncio.run(_produce(s.kafka.bootstrap, s.topic(topics.LINKS), KEYS))
    records = read_records(s, s.kafka.bootstrap, topics.LINKS, min_count=len(KEYS))
    assert len(records) == len(KEYS)
    landed = {r.key.decode(): r.partition for r in records}
    assert landed == {k: key_partition(k.encode(), 4) for k in KEYS}
    assert len(set(landed.values())) == 4  # the keys spread: the test can tell partitions apart


def test_matching_or_missing_topics_pass_the_check(
    settings_factory: Callable[..., Settings],
) -> None:
    s = settings_factory()
    assert s.kafka.bootstrap
    counts = partition_counts(s, s.kafka.bootstrap, [s.topic(topics.LINKS), "no-such-topic"])
    assert counts == {s.topic(topics.LINKS): 4, "no-such-topic": None}
    check_copartitioned(s, s.kafka.bootstrap)  # the changelogs do not exist yet: fine


def test_a_worker_refuses_to_start_when_ads_links_has_another_partition_count(
    broker: EmbeddedBroker,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    kafka = {"bootstrap": broker.bootstrap, "consumer_group": f"adwatch-2p-{time.time_ns()}"}
    created = settings_factory(kafka={**kafka, "partitions": 2, "single_record_batches": True})
    # the same topics and group, but settings that say 4
    s = created.model_copy(update={"kafka": created.kafka.model_copy(update={"partitions": 4})})
    worker = worker_factory(s)
    wait_for(lambda: worker.returncode is not None, 120, "the worker to exit")
    assert worker.returncode == 2
    lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line]
    critical = [line for line in lines if line["level"] == "CRITICAL"]
    assert len(critical) == 1, lines
    event = critical[0]["event"]
    assert f"{s.topic(topics.LINKS)} has 2 partitions" in event
    assert f"{s.topic(topics.ALERTS)} has 2 partitions" in event
    assert "kafka.partitions is 4" in event
    assert "Traceback" not in worker.log_path.read_text()
    with pytest.raises(ValueError, match="has 2 partitions"):
        assert s.kafka.bootstrap
        check_copartitioned(s, s.kafka.bootstrap)
