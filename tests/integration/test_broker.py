"""The embedded Tansu broker, topic creation, reading topics and the progress monitor.

Tansu's high watermark counts batches, not records, so every test that reads or counts
records produces them in batches of different sizes: that is where end-offset arithmetic
goes wrong.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline import topics
from pipeline.broker import BrokerError, EmbeddedBroker, ensure_topics
from pipeline.monitor import TopicMonitor
from pipeline.settings import Settings
from pipeline.topic_reader import read_records
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
SettingsFactory = Callable[..., Settings]


def produce_batches(
    bootstrap: str, topic: str, batches: list[tuple[int, int]], tag: str = "r"
) -> list[bytes]:
    """Produce one producer batch per ``(partition, size)``; return the values sent.

    A long linger keeps the records of one batch together until ``flush()`` sends them as
    one record batch.
    """
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=60_000, acks="all")
    sent: list[bytes] = []
    try:
        for b, (partition, size) in enumerate(batches):
            futures = []
            for i in range(size):
                value = f"{tag}-{partition}-{b}-{i}".encode()
                futures.append(producer.send(topic, value=value, key=b"k", partition=partition))
                sent.append(value)
            producer.flush(timeout=10)
            for f in futures:
                assert f.get(timeout=10).partition == partition
    finally:
        producer.close(timeout=5)
    return sent


def partition_offsets(records: list[Any]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r.offset)
    return {p: sorted(o) for p, o in out.items()}


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


# --- EmbeddedBroker ----------------------------------------------------------------------


def test_broker_answers(broker: EmbeddedBroker) -> None:
    assert broker.port > 0
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.pid is not None and pid_exists(broker.pid)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=5000)
    try:
        assert isinstance(admin.list_topics(), list)
    finally:
        admin.close()


def test_stop_ends_process_with_client_connected(tmp_path: Path) -> None:
    b = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, request_timeout_ms=5000)
    try:
        assert isinstance(consumer.topics(), set)  # an open, used connection
        pid = b.pid
        assert pid is not None and pid_exists(pid)
        b.stop()
        assert b.pid is None
        assert not pid_exists(pid)
        assert not listening(b.port)
        b.stop()  # idempotent
    finally:
        consumer.close()
        b.stop()


@contextlib.contextmanager
def occupied_port(listen: bool) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        if listen:
            sock.listen()
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("listen", [True, False], ids=["port-listening", "port-bound"])
def test_start_on_occupied_port_fails_clearly(tmp_path: Path, listen: bool) -> None:
    with occupied_port(listen) as port:
        b = EmbeddedBroker(port, log_path=tmp_path / "broker.log")
        with pytest.raises(BrokerError) as exc:
            # A listener on the port would answer Kafka-less; only the pre-check can tell.
            b.start(timeout=60)
        message = str(exc.value)
        assert b.pid is None  # nothing left running
        assert f"port {port}" in message
        assert "in use" in message.lower(), message


# --- ensure_topics -----------------------------------------------------------------------


def test_ensure_topics_idempotent_with_partitions(
    broker: EmbeddedBroker, settings_factory: SettingsFactory
) -> None:
    s = settings_factory(kafka={"bootstrap": broker.bootstrap, "partitions": 3})
    ensure_topics(s, broker.bootstrap, topics.ALL)  # second call (the fixture made the first)
    ensure_topics(s, broker.bootstrap, (topics.RAW, "ads.extra"))
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        names = consumer.topics()
        for name in (*topics.ALL, "ads.extra"):
            assert s.topic(name) in names
            assert consumer.partitions_for_topic(s.topic(name)) == {0, 1, 2}
    finally:
        consumer.close()


# --- read_records ------------------------------------------------------------------------

MIXED = [(0, 1), (0, 1), (0, 1), (0, 10), (0, 3), (0, 7), (1, 5), (1, 1), (1, 2), (3, 25)]


def test_read_records_returns_every_record_of_mixed_batches(
    broker: EmbeddedBroker, settings_factory: SettingsFactory
) -> None:
    s = settings_factory()
    sent = produce_batches(broker.bootstrap, s.topic(topics.RAW), MIXED)
    records = read_records(s, broker.bootstrap, topics.RAW, min_count=len(sent), timeout=20)
    assert sorted(r.value for r in records) == sorted(sent)
    assert len(records) == len(sent)
    expected = {0: 23, 1: 8, 3: 25}
    assert partition_offsets(records) == {p: list(range(n)) for p, n in expected.items()}


def test_read_records_without_min_count(
    broker: EmbeddedBroker, settings_factory: SettingsFactory
) -> None:
    s = settings_factory()
    sent = produce_batches(broker.bootstrap, s.topic(topics.DEADLETTER), [(2, 1), (2, 9), (2, 1)])
    records = read_records(s, broker.bootstrap, topics.DEADLETTER, timeout=20)
    assert [r.value for r in records] == sent
    # Other topics of the same settings stay empty.
    assert read_records(s, broker.bootstrap, topics.ENRICHED, timeout=5, idle=0.5) == []


# --- TopicMonitor ------------------------------------------------------------------------


def commit(settings: Settings, bootstrap: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit offsets for the worker group without joining it (assign + commit)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.kafka.consumer_group,
        enable_auto_commit=False,
    )
    try:
        consumer.assign(list(offsets))
        consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        for tp, o in offsets.items():
            assert consumer.committed(tp) == o
    finally:
        consumer.close()


def test_monitor_counts_records_and_lag(
    broker: EmbeddedBroker, settings_factory: SettingsFactory
) -> None:
    s = settings_factory()
    raw, enriched = s.topic(topics.RAW), s.topic(topics.ENRICHED)
    n_raw = len(produce_batches(broker.bootstrap, raw, MIXED))  # 56 = 23 + 8 + 25
    enriched_batches = [(0, 4), (0, 1), (2, 1), (2, 6)]
    n_enriched = len(produce_batches(broker.bootstrap, enriched, enriched_batches))  # 12
    n_dead = len(produce_batches(broker.bootstrap, s.topic(topics.DEADLETTER), [(1, 1), (1, 2)]))

    monitor = TopicMonitor(s, broker.bootstrap, poll_ms=100).start()
    try:
        expected = {"ads.raw": n_raw, "ads.enriched": n_enriched, "ads.deadletter": n_dead}
        wait_for(lambda: monitor.snapshot().records == expected, 20, f"counts {expected}")
        snap = monitor.snapshot()
        assert snap.error is None
        # Nothing committed yet: every record on the consumed topics is lag.
        assert snap.lag == {"ads.raw": n_raw, "ads.enriched": n_enriched}
        assert snap.total_lag == n_raw + n_enriched

        # The worker group commits part of ads.raw: 5 of 23 on p0, all 8 on p1, 20 of 25 on p3.
        commit(
            s,
            broker.bootstrap,
            {TopicPartition(raw, 0): 5, TopicPartition(raw, 1): 8, TopicPartition(raw, 3): 20},
        )
        want_raw_lag = (23 - 5) + 0 + (25 - 20)
        wait_for(
            lambda: monitor.snapshot().lag.get("ads.raw") == want_raw_lag,
            20,
            f"raw lag {want_raw_lag}, last {monitor.snapshot().lag}",
        )
        assert monitor.snapshot().lag["ads.enriched"] == n_enriched

        # All of ads.enriched committed.
        commit(
            s, broker.bootstrap, {TopicPartition(enriched, 0): 5, TopicPartition(enriched, 2): 7}
        )
        wait_for(
            lambda: monitor.snapshot().lag.get("ads.enriched") == 0,
            20,
            f"enriched lag 0, last {monitor.snapshot().lag}",
        )
        assert monitor.snapshot().total_lag == want_raw_lag

        # New records while tailing raise both the count and the lag.
        more = len(produce_batches(broker.bootstrap, raw, [(1, 1), (1, 4)], tag="more"))
        wait_for(
            lambda: monitor.snapshot().records.get("ads.raw") == n_raw + more,
            20,
            "new records counted",
        )
        wait_for(
            lambda: monitor.snapshot().lag.get("ads.raw") == want_raw_lag + more,
            20,
            f"raw lag {want_raw_lag + more}, last {monitor.snapshot().lag}",
        )
    finally:
        monitor.close()
