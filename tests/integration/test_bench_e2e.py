"""``adwatch bench e2e`` runs end to end on a small load and its figures hang together."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.bench_stages import STAGES
from tests.integration.bench_cli import run_bench

pytestmark = pytest.mark.integration


def test_bench_e2e_short_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, figures = run_bench(
        tmp_path,
        monkeypatch,
        ["e2e", "--ads", "200", "--rate", "10", "--seconds", "2", "--stage-ads", "40"],
    )
    assert figures["ads"] == 200 and figures["latency_ads"] == 20 == figures["latency_seen"]
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert figures["sustained_ads_per_s"] > 0 and figures["searchable_seconds"] > 0
    assert figures["worker_cpu_ms_per_ad"] > 0 and figures["broker_cpu_ms_per_ad"] > 0
    assert [s["name"] for s in figures["stages"]] == list(STAGES)
    assert all(s["us_per_ad"] > 0 for s in figures["stages"])
    assert figures["stage_sum_us"] == pytest.approx(sum(s["us_per_ad"] for s in figures["stages"]))
    records = figures["records_per_ad"]
    assert records["ads.enriched"] == 1 == records["ads.scored"]
    assert records["ads.links"] >= 1  # every synthetic ad has a phone: at least one hop
    assert "publish → searchable p99 (ms)" in result.output
    assert "the rest: faust, aiokafka, Kafka protocol" in result.output
