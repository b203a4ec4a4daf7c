"""adwatch's metrics (pipeline.metrics): names, bounded labels, the connectors' collector,
faust's sensor on our registry, and the lag arithmetic of the probe (pipeline.lag_probe)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from pipeline.errors import InvalidRecord
from pipeline.lag_probe import partition_lag
from pipeline.metrics import (
    MAX_REASONS,
    STAGES,
    ConnectorStatsCollector,
    WorkerMetrics,
    exposed_names,
    install_faust_sensor,
    new_registry,
    reason_of,
)


def sample(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_every_stage_is_exposed_from_the_start_at_zero() -> None:
    m = WorkerMetrics(new_registry())
    for stage in STAGES:
        assert sample(m, "adwatch_records_in_total", stage=stage) == 0
        assert sample(m, "adwatch_records_out_total", stage=stage) == 0
    m.stage("enrich").received.inc()
    m.stage("enrich").passed.inc(2)
    assert sample(m, "adwatch_records_in_total", stage="enrich") == 1
    assert sample(m, "adwatch_records_out_total", stage="enrich") == 2


def test_reason_is_the_invalid_record_kind_or_the_class() -> None:
    assert reason_of(InvalidRecord("col 3", kind="not JSON")) == "not JSON"
    assert reason_of(KeyError("x")) == "KeyError"
    m = WorkerMetrics(new_registry())
    m.dead("validate", InvalidRecord("col 3", kind="not JSON"))
    m.dead("link", ZeroDivisionError())
    assert sample(m, "adwatch_deadlettered_total", stage="validate", reason="not JSON") == 1
    assert sample(m, "adwatch_deadlettered_total", stage="link", reason="ZeroDivisionError") == 1


def test_reasons_per_stage_are_bounded() -> None:
    m = WorkerMetrics(new_registry())
    for i in range(MAX_REASONS + 15):
        m.dead("validate", InvalidRecord("…", kind=f"invalid record: field{i}"))
    m.dead("validate", InvalidRecord("…", kind="invalid record: field0"))  # a known one
    reasons = {
        s.labels["reason"]
        for metric in m.registry.collect()
        if metric.name == "adwatch_deadlettered"
        for s in metric.samples
    }
    assert len(reasons) == MAX_REASONS + 1  # the kept ones and "other"
    assert sample(m, "adwatch_deadlettered_total", stage="validate", reason="other") == 15
    assert (
        sample(m, "adwatch_deadlettered_total", stage="validate", reason="invalid record: field0")
        == 2
    )


def test_flags_and_channels_are_fixed_label_sets() -> None:
    m = WorkerMetrics(new_registry())
    m.flag("movement")
    m.flag("a-flag-no-indicator-raises")
    m.alerts("webhook", 3, delivered=True)
    m.alerts("email", 2, delivered=False)
    assert sample(m, "adwatch_flags_total", flag="movement") == 1
    assert sample(m, "adwatch_flags_total", flag="other") == 1
    assert sample(m, "adwatch_alerts_delivered_total", channel="webhook") == 3
    assert sample(m, "adwatch_alerts_failed_total", channel="email") == 2


def test_lag_gauges_follow_the_assignment() -> None:
    m = WorkerMetrics(new_registry())
    m.set_lag({("a", 0): 5, ("a", 1): 0})
    assert sample(m, "adwatch_consumer_lag", topic="a", partition="0") == 5
    m.set_lag({("a", 1): 2})  # partition 0 moved to another worker
    assert sample(m, "adwatch_consumer_lag", topic="a", partition="0") is None
    assert sample(m, "adwatch_consumer_lag", topic="a", partition="1") == 2


@dataclass
class Stats:
    name: str
    polls: int = 0
    returned: int = 0
    published: int = 0
    unchanged: int = 0
    problems: int = 0
    errors: int = 0


def test_connector_collector_reads_the_runner_counts_at_scrape_time() -> None:
    stats = [Stats("feed", polls=3, errors=1), Stats("site", polls=1, published=9)]
    registry = new_registry()
    registry.register(ConnectorStatsCollector(lambda: stats))
    assert registry.get_sample_value("adwatch_connector_polls_total", {"source": "feed"}) == 3
    stats[0].polls += 1
    assert registry.get_sample_value("adwatch_connector_polls_total", {"source": "feed"}) == 4
    assert registry.get_sample_value("adwatch_connector_errors_total", {"source": "feed"}) == 1
    assert registry.get_sample_value("adwatch_connector_published_total", {"source": "site"}) == 9


def test_exposed_names_include_labelled_metrics_without_samples() -> None:
    registry = new_registry()
    WorkerMetrics(registry)
    registry.register(ConnectorStatsCollector(list))
    names = exposed_names(registry)
    assert {
        "adwatch_deadlettered_total",
        "adwatch_consumer_lag",
        "adwatch_sink_write_seconds_bucket",
        "adwatch_connector_errors_total",
        "process_resident_memory_bytes",
    } <= names
    assert not any(n.endswith("_created") for n in names)


def test_faust_sensor_reports_on_our_registry() -> None:
    registry = new_registry()
    app = faust.App("metrics-test", broker="kafka://127.0.0.1:1", web_enabled=False)
    install_faust_sensor(app, registry)
    assert type(app.monitor).__name__ == "PrometheusMonitor"
    assert "faust_messages_received_total" in exposed_names(registry)


def test_partition_lag_counts_from_the_start_when_never_committed() -> None:
    nexts = {("t", 0): 20, ("t", 1): 7, ("t", 2): 5}
    committed = {("t", 0): 15, ("t", 1): None, ("t", 2): 9}
    starts = {("t", 0): 0, ("t", 1): 3, ("t", 2): 0}
    assert partition_lag(nexts, committed, starts) == {("t", 0): 5, ("t", 1): 4, ("t", 2): 0}
