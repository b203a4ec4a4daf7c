"""Prometheus metrics of a worker and of the connectors: every name and label in one place.

    adwatch_records_in_total{stage}             records a stage took from its topic
    adwatch_records_out_total{stage}            records it finished without a dead letter
    adwatch_deadlettered_total{stage,reason}    reason: InvalidRecord kind or exception class
    adwatch_deadletter_window_ratio{stage}      dead-lettered share of the cap's window
    adwatch_flags_total{flag}                   flags on scored ads, by indicator id
    adwatch_sink_write_seconds{sink,kind}       one write of one batch (histogram)
    adwatch_sink_retries_total{sink,kind}       writes that failed with a RetriableError
    adwatch_alerts_delivered_total{channel}     alerts a channel took (channel kind)
    adwatch_alerts_failed_total{channel}        alerts a channel refused after its retries
    adwatch_consumer_lag{topic,partition}       this worker's partitions (lag probe)
    adwatch_worker_ready / _live / _start_time_seconds / _stalled_partitions
    adwatch_connector_{polls,ads,published,unchanged,problems,errors}_total{source}
    faust_*                                     faust's own Prometheus sensor
    process_*, python_*                         prometheus_client's default collectors

Label values stay bounded: stages, indicator ids and channel kinds are fixed sets, a
partition label is bounded by the partition count, connectors by the configuration, and
at most `MAX_REASONS` reasons are kept per stage (the rest count as ``other``). No ad key,
phone number or text ever becomes a label. Stage counters are bound once at start-up, so
counting a record is one increment, with no allocation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.errors import InvalidRecord
from pipeline.indicators.scoring import INDICATOR_IDS

# Stages as the metrics name them: one per agent, named for what it does to its topic.
STAGES = ("enrich", "route", "link", "index", "index_entities", "notify")
CHANNELS = ("webhook", "email", "slack", "file")
MAX_REASONS = 20  # distinct dead-letter reasons kept per stage
OTHER = "other"
SINK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def new_registry() -> CollectorRegistry:
    """A registry with the process and platform collectors (CPU, memory, open files).

    Also turns off the ``*_created`` series process-wide: a timestamp per labelled child
    doubles the output and no panel or alert needs it.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def reason_of(exc: BaseException) -> str:
    """The ``reason`` label: an `InvalidRecord`'s kind, else the exception's class name."""
    if isinstance(exc, InvalidRecord):
        return exc.kind
    return type(exc).__name__


class StageMetrics:
    """The two counters of one stage, bound once."""

    __slots__ = ("passed", "received")

    def __init__(self, received: Any, passed: Any) -> None:
        self.received = received
        self.passed = passed


class WorkerMetrics:
    """adwatch's own metrics of one worker process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        records_in = Counter(
            "adwatch_records_in", "Records a stage took from its topic", ["stage"],
            registry=registry,
        )  # fmt: skip
        records_out = Counter(
            "adwatch_records_out", "Records a stage finished without a dead letter", ["stage"],
            registry=registry,
        )  # fmt: skip
        self.stages = {s: StageMetrics(records_in.labels(s), records_out.labels(s)) for s in STAGES}
        self.deadlettered = Counter(
            "adwatch_deadlettered",
            "Records sent to the dead-letter topic, by the stage that failed and why",
            ["stage", "reason"],
            registry=registry,
        )
        self.window_ratio = Gauge(
            "adwatch_deadletter_window_ratio",
            "Dead-lettered share of the last records of a stage (the dead-letter cap's window)",
            ["stage"],
            registry=registry,
        )
        flags = Counter(
            "adwatch_flags", "Flags on scored ads, by indicator id", ["flag"], registry=registry
        )
        self.flags = {f: flags.labels(f) for f in (*sorted(INDICATOR_IDS), OTHER)}
        self.sink_seconds = Histogram(
            "adwatch_sink_write_seconds",
            "Time to write one batch to the index",
            ["sink", "kind"],
            buckets=SINK_BUCKETS,
            registry=registry,
        )
        self.sink_retries = Counter(
            "adwatch_sink_retries",
            "Batch writes that failed with a retriable error and were retried",
            ["sink", "kind"],
            registry=registry,
        )
        delivered = Counter(
            "adwatch_alerts_delivered", "Alerts a channel took", ["channel"], registry=registry
        )
        failed = Counter(
            "adwatch_alerts_failed",
            "Alerts a channel did not take after all retries (dead-lettered)",
            ["channel"],
            registry=registry,
        )
        self.delivered = {c: delivered.labels(c) for c in CHANNELS}
        self.failed = {c: failed.labels(c) for c in CHANNELS}
        self.lag = Gauge(
            "adwatch_consumer_lag",
            "Records of a partition this worker owns not yet committed (the lag probe's count)",
            ["topic", "partition"],
            registry=registry,
        )
        self.ready = Gauge(
            "adwatch_worker_ready", "1 when the worker has joined and recovered its tables",
            registry=registry,
        )  # fmt: skip
        self.live = Gauge(
            "adwatch_worker_live", "1 unless the liveness rule fails (a stall)", registry=registry
        )
        self.stalled = Gauge(
            "adwatch_worker_stalled_partitions",
            "Partitions with lag and no commit progress for monitoring.stall_seconds",
            registry=registry,
        )
        self.start_time = Gauge(
            "adwatch_worker_start_time_seconds", "Unix time the worker started",
            registry=registry,
        )  # fmt: skip
        self.start_time.set_to_current_time()
        self._reasons: dict[str, set[str]] = {}
        self._lag_labels: set[tuple[str, str]] = set()

    def stage(self, name: str) -> StageMetrics:
        """The bound counters of stage ``name`` (one of `STAGES`)."""
        return self.stages[name]

    def dead(self, stage: str, exc: BaseException) -> None:
        """Count one dead letter of ``stage``, keeping the reasons per stage bounded."""
        reason = reason_of(exc)
        seen = self._reasons.setdefault(stage, set())
        if reason not in seen:
            if len(seen) >= MAX_REASONS:
                reason = OTHER
            else:
                seen.add(reason)
        self.deadlettered.labels(stage, reason).inc()

    def flag(self, flag_id: str) -> None:
        """Count one flag raised on a scored ad."""
        (self.flags.get(flag_id) or self.flags[OTHER]).inc()

    def alerts(self, channel: str, count: int, delivered: bool) -> None:
        """Count ``count`` alerts a channel took (or refused)."""
        counters = self.delivered if delivered else self.failed
        counters[channel if channel in counters else "file"].inc(count)

    def set_lag(self, lag: dict[tuple[str, int], int]) -> None:
        """Replace the lag gauges by ``lag`` (partitions no longer owned disappear)."""
        wanted = {(t, str(p)): n for (t, p), n in lag.items()}
        for labels in self._lag_labels - wanted.keys():
            self.lag.remove(*labels)
        for (topic, partition), n in wanted.items():
            self.lag.labels(topic, partition).set(n)
        self._lag_labels = set(wanted)


# --- the connectors -------------------------------------------------------------------

CONNECTOR_COUNTERS = {  # metric suffix -> (ConnectorStats field, help)
    "polls": ("polls", "Polls of a connector (fetches of its source)"),
    "ads": ("returned", "Ads a connector's polls returned"),
    "published": ("published", "New or changed ads published and acknowledged"),
    "unchanged": ("unchanged", "Ads skipped: already published with this content"),
    "problems": ("problems", "Problems a connector reported (bad records, pages, feeds)"),
    "errors": ("errors", "Polls or deliveries of a connector that failed"),
}


class ConnectorStatsCollector(Collector):
    """Reads the runner's per-connector counts at scrape time (nothing counted twice)."""

    def __init__(self, stats: Callable[[], Iterable[Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """One counter family per `CONNECTOR_COUNTERS` entry, a sample per connector."""
        stats = list(self._stats())
        for suffix, (attr, help_text) in CONNECTOR_COUNTERS.items():
            family = CounterMetricFamily(
                f"adwatch_connector_{suffix}", help_text, labels=["source"]
            )
            for s in stats:
                family.add_metric([s.name], getattr(s, attr))
            yield family

    def describe(self) -> Iterator[Metric]:
        """The families, without samples (the registry learns the names)."""
        for suffix, (_, help_text) in CONNECTOR_COUNTERS.items():
            yield _connector_family(suffix, help_text)


def _connector_family(suffix: str, help_text: str) -> CounterMetricFamily:
    return CounterMetricFamily(f"adwatch_connector_{suffix}", help_text, labels=["source"])


# --- faust's sensor -------------------------------------------------------------------


def install_faust_sensor(app: Any, registry: CollectorRegistry) -> None:
    """Install faust's Prometheus monitor as the app's monitor, on ``registry``, names ``faust_*``.

    Not `setup_prometheus_sensors`: that also adds a page to faust's web server, which
    adwatch does not run (the worker serves its own endpoints, `pipeline.worker_http`).
    """
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))


# --- names, for the dashboard test and the docs ---------------------------------------

_SUFFIXES = {  # `new_registry` turns the *_created series off
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name ``registry`` can expose, labelled metrics without samples included."""
    names: set[str] = set()
    for metric in registry.collect():
        names.update(metric.name + s for s in _SUFFIXES.get(metric.type, ("",)))
        names.update(sample.name for sample in metric.samples)
    return names
