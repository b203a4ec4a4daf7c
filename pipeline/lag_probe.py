"""Consumer lag that is right on Tansu and on Kafka: for a worker's partitions and for `status`.

    lag(partition) = next offset − committed offset of the group
    next offset    = one past the highest offset that exists

End offsets are only a lower bound of the next offset: exact on Apache Kafka, lower on
Tansu, whose high watermark counts batches (docs/architecture.md). So `OffsetReader` asks
for the end offsets, then reads on from ``max(end offset, highest seen + 1)`` until nothing
comes, remembering the highest offset it saw. On Kafka that is one empty fetch; on Tansu
it reads each record past the watermark once. (`pipeline.monitor` gets the same numbers
for the live panel by tailing whole topics.) Committed offsets come from the broker, one
OffsetFetch request for all partitions.

`LagProbe` runs that in a thread of the worker every ``monitoring.lag_interval_seconds``
for the partitions the worker owns, and feeds `pipeline.health`'s stall rule and the
``adwatch_consumer_lag`` gauges. A thread, so a blocked event loop cannot stop it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pipeline.broker import kafka_client_options
from pipeline.health import TP, WorkerState, liveness, stalled, track_commits
from pipeline.metrics import WorkerMetrics
from pipeline.settings import Settings

log = logging.getLogger("adwatch.lag")
READ_BUDGET_SECONDS = 2.0  # per measurement, for reading past the end offsets


def partition_lag(
    next_offsets: Mapping[TP, int], committed: Mapping[TP, int | None], start: Mapping[TP, int]
) -> dict[TP, int]:
    """Lag per partition; a partition the group never committed counts from its start."""
    out: dict[TP, int] = {}
    for tp, end in next_offsets.items():
        done = committed.get(tp)
        base = done if done is not None and done >= 0 else start.get(tp, 0)
        out[tp] = max(0, end - base)
    return out


class OffsetReader:
    """Committed offsets of a group and true next offsets of partitions (kafka-python)."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        from kafka import KafkaAdminClient, KafkaConsumer

        options = kafka_client_options(settings)
        self.group = settings.kafka.consumer_group
        self._admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=5000, **options
        )
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
            request_timeout_ms=10_000,
            **options,
        )
        self._seen: dict[TP, int] = {}  # one past the highest offset read, per partition
        self._assigned: set[TP] = set()

    def partitions(self, topics: Collection[str]) -> list[TP]:
        """Every partition of ``topics`` (those that exist)."""
        found: list[TP] = []
        for topic in topics:
            found.extend(
                (topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            )
        return found

    def committed(self, tps: Collection[TP]) -> dict[TP, int | None]:
        """The group's committed offset of each partition (None: never committed)."""
        from kafka import TopicPartition

        wanted = [TopicPartition(t, p) for t, p in tps]
        answer = self._admin.list_group_offsets({self.group: wanted}).get(self.group, {})
        out: dict[TP, int | None] = {tp: None for tp in tps}
        for tp, meta in answer.items():
            out[(tp.topic, tp.partition)] = meta.offset if meta.offset >= 0 else None
        return out

    def next_offsets(
        self, tps: Collection[TP], budget: float = READ_BUDGET_SECONDS
    ) -> tuple[dict[TP, int], dict[TP, int]]:
        """(next offset, first offset) of each partition; see the module doc."""
        from kafka import TopicPartition

        parts = {TopicPartition(t, p): (t, p) for t, p in tps}
        if not parts:
            return {}, {}
        if set(parts.values()) != self._assigned:
            self._consumer.assign(list(parts))
            self._assigned = set(parts.values())
        ends = self._consumer.end_offsets(list(parts))
        starts = self._consumer.beginning_offsets(list(parts))
        for kp, tp in parts.items():
            self._consumer.seek(kp, max(ends.get(kp, 0), self._seen.get(tp, 0)))
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            batch = self._consumer.poll(timeout_ms=100, max_records=5000)
            if not batch:
                break
            for kp, records in batch.items():
                if records:
                    tp = (kp.topic, kp.partition)
                    self._seen[tp] = max(self._seen.get(tp, 0), records[-1].offset + 1)
        nexts = {tp: max(ends.get(kp, 0), self._seen.get(tp, 0)) for kp, tp in parts.items()}
        return nexts, {tp: starts.get(kp, 0) for kp, tp in parts.items()}

    def last_records(self, tps: Collection[TP], budget: float = READ_BUDGET_SECONDS) -> list[Any]:
        """The last record of each partition that has one (kafka-python records).

        Reads from one before the end offset on to the real end (past it on Tansu).
        """
        from kafka import TopicPartition

        parts = {TopicPartition(t, p): (t, p) for t, p in tps}
        if not parts:
            return []
        self._consumer.assign(list(parts))
        self._assigned = set(parts.values())
        ends = self._consumer.end_offsets(list(parts))
        starts = self._consumer.beginning_offsets(list(parts))
        for kp in parts:
            self._consumer.seek(kp, max(ends.get(kp, 0) - 1, starts.get(kp, 0)))
        last: dict[TP, Any] = {}
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            batch = self._consumer.poll(timeout_ms=200, max_records=5000)
            if not batch:
                break
            for kp, records in batch.items():
                if records:
                    last[(kp.topic, kp.partition)] = records[-1]
        return list(last.values())

    def lag(self, tps: Collection[TP]) -> tuple[dict[TP, int], dict[TP, int]]:
        """(effective committed offset, lag) of each partition."""
        committed = self.committed(tps)
        nexts, starts = self.next_offsets(tps)
        effective = {tp: c if c is not None else starts.get(tp, 0) for tp, c in committed.items()}
        return effective, partition_lag(nexts, committed, starts)

    def close(self) -> None:
        """Close both clients."""
        self._consumer.close()
        self._admin.close()


class LagProbe(threading.Thread):
    """Measures the lag of the worker's partitions and judges liveness, every interval."""

    def __init__(
        self,
        settings: Settings,
        state: WorkerState,
        metrics: WorkerMetrics,
        reader: Callable[[], OffsetReader],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="adwatch-lag-probe", daemon=True)
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self._reader_factory = reader
        self._clock = clock
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Stop after the current measurement."""
        self._stop_event.set()

    def run(self) -> None:
        """Measure until stopped; a failure is recorded in the state and retried."""
        cfg = self.settings.monitoring
        reader: OffsetReader | None = None
        progress: dict[TP, Any] = {}
        try:
            while not self._stop_event.wait(cfg.lag_interval_seconds):
                try:
                    if reader is None:
                        reader = self._reader_factory()
                    progress = self.measure(reader, progress)
                except Exception as exc:  # the broker away, a timeout: say so, go on
                    log.warning("lag probe: %s", exc)
                    self.state.update(probe_error=f"{type(exc).__name__}: {exc}"[:300])
                    if reader is not None:
                        reader.close()
                        reader = None
                self.judge()
        finally:
            if reader is not None:
                reader.close()

    def measure(self, reader: OffsetReader, progress: dict[TP, Any]) -> dict[TP, Any]:
        """One measurement of the assigned partitions; returns the new progress map."""
        assigned = self.state.snapshot(self._clock()).assigned
        committed, lag = reader.lag(sorted(assigned)) if assigned else ({}, {})
        now = self._clock()
        progress = track_commits(progress, committed, lag, now)
        self.state.update(lag=lag, progress=progress, probe_at=now, probe_error=None)
        self.metrics.set_lag(lag)
        return progress

    def judge(self) -> None:
        """Update the health gauges from the current state."""
        s = self.state.snapshot(self._clock())
        stall = self.settings.monitoring.stall_seconds
        self.metrics.live.set(1 if liveness(s, stall).ok else 0)
        self.metrics.ready.set(1 if s.ready and not s.stopping and not s.halted else 0)
        resumed = max(s.ready_since or s.now, s.sink_resumed_at)
        count = len(stalled(s.progress, s.lag, s.now, stall, resumed)) if s.ready else 0
        self.metrics.stalled.set(count)
