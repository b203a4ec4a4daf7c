"""Read a whole topic without joining a consumer group (``assign`` + seek to beginning).

Used by tools that only read (dead-letter listing) and by tests: joining a group on
Tansu takes ~20 s, assigning partitions is immediate.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.broker import kafka_client_options
from pipeline.settings import Settings


def read_records(
    settings: Settings,
    bootstrap: str,
    name: str,
    *,
    min_count: int = 0,
    timeout: float = 30.0,
    idle: float = 1.0,
) -> list[Any]:
    """All records of logical topic ``name`` (kafka-python ``ConsumerRecord`` objects).

    Reads until at least ``min_count`` records arrived and then nothing new for ``idle``
    seconds, or until ``timeout``. Never relies on end offsets (wrong on Tansu).
    """
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topic(name)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(settings),
    )
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200)
            got = sum(len(r) for r in batch.values())
            for records in batch.values():
                out.extend(records)
            now = time.monotonic()
            if got:
                last_new = now
            elif len(out) >= min_count and now - last_new >= idle:
                break
        return out
    finally:
        consumer.close()
