"""``adwatch bench e2e``: sustained ads/s, publish → searchable latency and CPU per ad per stage.

    synthetic ads ──publish (t0)──> ads.raw ──[enrich]──> ads.enriched ──[route]──> ads.links
                                                                   a hop per link key ⟲ [link]
    SQLite index <──[index]── ads.scored <─────────────────────────── scored after the last key
       └── searchable (t1): a reader polling the index file sees the ad

Runs a fresh embedded stack (`pipeline.bench_stack`: Tansu, one worker process, the SQLite
index) under a temporary data dir, with ads of the synthetic demo source
(`connectors.synthetic`), in four steps:

1. warm-up: an ad every 2 s until one is searchable (group join, table recovery);
2. latency: ``rate`` ads/s for ``seconds``; latency is t1 - t0 per ad, both on this machine's
   wall clock, t1 to within the reader's poll interval (`POLL_SECONDS`);
3. throughput: ``ads`` ads published at once (a backlog, as after an outage); sustained
   ads/s is ``ads`` over the time from the first publish to the last ad searchable; the
   worker's and the broker's CPU seconds over the phase (from /proc) divided by ``ads``;
4. stages: the stage functions in this process over ``stage_ads`` of the same ads
   (`pipeline.bench_stages`), after the ads of the latency step untimed, so caches (phone
   validation, lexicons) are as warm as the worker's were. The worker's CPU per ad minus
   their sum is what faust, aiokafka and the Kafka protocol cost.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.producer import AdProducer
from connectors.synthetic import generate_ads
from pipeline.bench_stack import (
    Percentiles,
    Say,
    Stack,
    fresh_stack,
    pace,
    quiet,
    wait_until,
    warm_up,
)
from pipeline.bench_stages import StageCost, stage_costs
from pipeline.settings import Settings

POLL_SECONDS = 0.02


@dataclass
class E2EResult:
    """What one run measured; times in milliseconds unless named otherwise."""

    ads: int
    publish_seconds: float
    searchable_seconds: float  # first publish -> last ad searchable
    sustained_ads_per_s: float  # ads / searchable_seconds
    worker_cpu_ms_per_ad: float
    broker_cpu_ms_per_ad: float
    rate: float
    seconds: float
    latency_ads: int
    latency_seen: int
    publish_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    stage_ads: int
    stages: list[StageCost]
    records_per_ad: dict[str, float]  # Kafka records the worker produces per ad, by topic
    bytes_per_ad: dict[str, float]  # and their value bytes
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def stage_sum_us(self) -> float:
        """Sum of the in-process stage costs per ad."""
        return sum(s.us_per_ad for s in self.stages)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self) | {
            "stage_sum_us": self.stage_sum_us,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc); NaN elsewhere."""
    if pid is None:
        return float("nan")
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SearchableWatcher:
    """A reader that polls the SQLite index and notes when each ad key first shows up."""

    def __init__(self, path: Path, interval: float = POLL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="searchable-watcher", daemon=True)

    def __enter__(self) -> SearchableWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def count(self, keys: set[str]) -> int:
        """How many of ``keys`` are searchable."""
        with self.lock:
            return sum(1 for k in keys if k in self.seen)

    def times(self, keys: list[str]) -> list[float]:
        """When each of ``keys`` became searchable (NaN: not yet)."""
        with self.lock:
            return [self.seen.get(k, float("nan")) for k in keys]

    def _run(self) -> None:
        last_id = 0
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self.interval):
            if conn is None:
                if not self.path.exists():
                    continue
                conn = sqlite3.connect(self.path, timeout=1.0)
            try:
                rows = conn.execute(
                    "SELECT id, key FROM ads WHERE id > ? ORDER BY id", (last_id,)
                ).fetchall()
            except sqlite3.OperationalError:  # no table yet, or busy: try again
                continue
            now = time.time()
            with self.lock:
                for _id, key in rows:
                    self.seen.setdefault(key, now)
            if rows:
                last_id = rows[-1][0]
        if conn is not None:
            conn.close()


def run_e2e_bench(
    settings: Settings,
    *,
    ads: int,
    rate: float,
    seconds: float,
    stage_ads: int,
    seed: int = 7,
    say: Say = quiet,
) -> E2EResult:
    """Run the benchmark on a fresh embedded stack under a temporary data dir."""
    run = f"e2e{time.time_ns() % 10**9}"
    stream = list(generate_ads(ads, seed, source=f"{run}-load"))
    total = max(1, round(rate * seconds))
    paced_ads = list(generate_ads(total, seed + 1, source=f"{run}-rate"))
    warm_ads = list(generate_ads(200, 99, source=f"{run}-warmup"))
    with fresh_stack(settings) as stack, SearchableWatcher(stack.settings.index_path) as watcher:
        stack.worker.start()
        with AdProducer(stack.settings, stack.bootstrap) as producer:

            def publish_warm(i: int) -> None:
                producer.publish(warm_ads[i % len(warm_ads)])
                producer.flush()

            say("warming up: waiting for the worker's first indexed ad")
            warm = {ad.key for ad in warm_ads}
            warm_up(stack, publish_warm, lambda: watcher.count(warm) > 0, "ad indexed")
            say(f"latency: {total:,} ads at {rate:g}/s")
            paced = pace(producer, paced_ads, rate, total, say)
            keys = [k for k, _ in paced.sent]
            _drain(watcher, stack, keys, 60.0 + seconds, say)
            latency = Percentiles.of(
                (t1 - t0) * 1000
                for (_, t0), t1 in zip(paced.sent, watcher.times(keys), strict=True)
                if t1 == t1  # not NaN
            )
            say(f"throughput: {len(stream):,} ads at once")
            cpu0, broker0 = cpu_seconds(stack.worker.pid), cpu_seconds(stack.broker.pid)
            start = time.time()
            for ad in stream:
                producer.publish(ad)
            producer.flush()
            published = time.time() - start
        load = [ad.key for ad in stream]
        _drain(watcher, stack, load, 120.0 + len(stream) / 20, say)
        cpu1, broker1 = cpu_seconds(stack.worker.pid), cpu_seconds(stack.broker.pid)
        last = max(watcher.times(load))
    say(f"stages: {stage_ads:,} ads in this process")
    sample = stream[:stage_ads]
    # untimed first: what the worker saw before the throughput phase, so caches are as warm
    costs, traffic = stage_costs(sample, settings, warm_up=warm_ads[:10] + paced_ads)
    return E2EResult(
        ads=len(stream),
        publish_seconds=published,
        searchable_seconds=last - start,
        sustained_ads_per_s=len(stream) / (last - start),
        worker_cpu_ms_per_ad=(cpu1 - cpu0) / len(stream) * 1000,
        broker_cpu_ms_per_ad=(broker1 - broker0) / len(stream) * 1000,
        rate=rate,
        seconds=seconds,
        latency_ads=len(paced.sent),
        latency_seen=sum(1 for t in watcher.times(keys) if t == t),  # not NaN
        publish_rate=paced.rate,
        p50_ms=latency.p50,
        p90_ms=latency.p90,
        p99_ms=latency.p99,
        max_ms=latency.max,
        stage_ads=len(sample),
        stages=costs,
        records_per_ad=traffic.per_ad(traffic.records, len(sample)),
        bytes_per_ad=traffic.per_ad(traffic.bytes, len(sample)),
    )


def _drain(
    watcher: SearchableWatcher, stack: Stack, keys: list[str], timeout: float, say: Say
) -> None:
    """Wait until every key is searchable; `RuntimeError` if the worker dies or time runs out."""
    wanted = set(keys)
    wait_until(
        lambda: watcher.count(wanted) == len(wanted),
        stack,
        timeout,
        f"{len(wanted):,} ads searchable",
        progress=lambda: f"{watcher.count(wanted):,}/{len(wanted):,} searchable",
        say=say,
    )
