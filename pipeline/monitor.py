"""Progress of the embedded stack, computed so that it is right on Tansu and on Kafka.

Tansu's high watermark counts batches, not records, so "end offset − committed offset"
is wrong there. Instead a read-only consumer (``assign``, never joins the group) tails
the topics and counts records, remembering the highest offset seen per partition; lag
is ``highest seen + 1 − committed`` for the worker group. That reads every record once
more, which is fine for the embedded default; production uses its own metrics.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline import topics
from pipeline.broker import kafka_client_options
from pipeline.settings import Settings


@dataclass(frozen=True)
class Progress:
    """A snapshot: records per logical topic, and lag per consumed topic."""

    records: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def total_lag(self) -> int:
        """Records published but not yet committed by the worker group."""
        return sum(self.lag.values())


class TopicMonitor:
    """Counts records on the pipeline's topics in a background thread."""

    def __init__(self, settings: Settings, bootstrap: str, poll_ms: int = 500) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.poll_ms = poll_ms
        self._names = {settings.topic(n): n for n in topics.ALL}
        self._counts: Counter[str] = Counter()
        self._next_offset: dict[Any, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: str | None = None
        self._lag_consumer: Any = None  # group-bound, for committed offsets; made on demand
        self._thread = threading.Thread(target=self._run, name="adwatch-monitor", daemon=True)

    def start(self) -> TopicMonitor:
        """Start tailing."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop tailing and close the consumer."""
        self._stop.set()
        self._thread.join(timeout=5)

    def snapshot(self) -> Progress:
        """Counts so far, and lag against the worker group's committed offsets."""
        with self._lock:
            records = {self._names[t]: n for t, n in self._counts.items()}
            next_offsets = dict(self._next_offset)
            error = self._error
        return Progress(records=records, lag=self._lag(next_offsets), error=error)

    def _consumer(self, group: str | None = None) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_client_options(self.settings),
        )

    def _run(self) -> None:
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        consumer = None
        try:
            consumer = self._consumer()
            tps = [
                TopicPartition(name, p)
                for name in self._names
                for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=self.poll_ms)
                with self._lock:
                    for tp, records in batch.items():
                        if records:
                            self._counts[tp.topic] += len(records)
                            self._next_offset[tp] = records[-1].offset + 1
        except KafkaError as exc:
            with self._lock:
                self._error = f"monitor: {exc}"
        finally:
            if consumer is not None:
                consumer.close()

    def _lag(self, next_offsets: dict[Any, int]) -> dict[str, int]:
        from kafka.errors import KafkaError

        consumed = {self.settings.topic(name) for name in topics.CONSUMED}
        lag: Counter[str] = Counter()
        try:
            if self._lag_consumer is None:
                self._lag_consumer = self._consumer(self.settings.kafka.consumer_group)
            for tp, next_offset in next_offsets.items():
                if tp.topic not in consumed:
                    continue
                committed = self._lag_consumer.committed(tp) or 0
                lag[self._names[tp.topic]] += max(0, next_offset - committed)
        except KafkaError:
            return {}
        return dict(lag)

    def close(self) -> None:
        """Stop tailing and release both consumers."""
        self.stop()
        if self._lag_consumer is not None:
            self._lag_consumer.close()
            self._lag_consumer = None
