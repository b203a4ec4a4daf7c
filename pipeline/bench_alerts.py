"""``adwatch bench alerts``: latency from an ad published to its alert delivered.

    publish (t0) ──> ads.raw ──> enrich ──> link hops ──> scored + match ──> alerts
                                                              notify ──> HTTP receiver (t1)

Runs the embedded stack (Tansu, one worker process) with a real local HTTP receiver on
127.0.0.1 as every subscription's webhook. ``subscriptions`` saved searches are stored:
``watched`` of them watch one phone each of the stream's phone pool, the rest watch phones,
words and flags no ad of the stream has, so matching works through a realistic index.
After a warm-up (the worker's first alert), synthetic ads are published at a fixed rate;
latency is t1 - t0 per alert, both read from this machine's wall clock.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.alerts.store import SubscriptionStore, ensure_subscription_topic
from pipeline.broker import broker_for, ensure_topics
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from schemas import RawAd, SearchQuery
from schemas.alerts import Channel, Subscription

POOL = 100  # the stream's phones: +1 702 555 01xx, fictional
WARMUP_TIMEOUT = 180.0
DRAIN_TIMEOUT = 120.0
CITIES = ("Las Vegas, NV", "Phoenix, AZ", "Denver, CO", "Reno, NV", "Tucson, AZ")
WORDS = ("quiet", "garden", "evening", "studio", "downtown", "weekend", "friendly", "calm")


@dataclass
class AlertLatency:
    """What one run measured; latencies in milliseconds."""

    rate: float
    seconds: float
    ads: int
    subscriptions: int
    watched: int
    expected: int
    delivered: int
    unexpected: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    publish_rate: float  # ads per second actually published
    machine: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self) | {"measured_at": datetime.now(UTC).isoformat(timespec="seconds")}


class TimingReceiver:
    """A webhook receiver on 127.0.0.1 that notes when each ad's alert arrived."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, str], float] = {}  # (subscription, ad key) -> time
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    for alert in json.loads(body).get("alerts", []):
                        key = (alert["subscription_id"], alert["ad_key"])
                        receiver.arrived.setdefault(key, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def count(self) -> int:
        """Alerts received so far."""
        with self.lock:
            return len(self.arrived)

    def __enter__(self) -> TimingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def phone(i: int) -> str:
    """Phone ``i`` of the stream's pool, E.164."""
    return f"+1702555{i % POOL:04d}"


def bench_subscriptions(total: int, watched: int, url: str) -> list[Subscription]:
    """``watched`` subscriptions on pool phones, the rest on things the stream never has."""
    now = datetime.now(UTC)
    channel = Channel(kind="webhook", target=url)
    subs = []
    for i in range(total):
        if i < watched:
            rule = SearchQuery(phones=[phone(i)])
        elif i % 3 == 0:
            rule = SearchQuery(phones=[f"+1213555{i % 10_000:04d}"])
        elif i % 3 == 1:
            rule = SearchQuery(text=f"lighthouse{i} harbour")
        else:
            rule = SearchQuery(flags_all=["stated_age_minor", "third_party"], min_score=0.9)
        subs.append(
            Subscription(
                id=f"bench-{i:05d}",
                owner=f"bench-owner-{i % 50}",
                name=f"bench {i}",
                rule=rule,
                channels=[channel],
                created_at=now,
                updated_at=now,
            )
        )
    return subs


def bench_ad(run: str, i: int) -> RawAd:
    """Synthetic, non-explicit ad ``i``; its phone is pool phone ``i`` spelt as people do."""
    digits = phone(i)[2:]
    spelt = (
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
        if i % 2
        else f"({digits[:3]}) {digits[3:6]} {digits[6:]}"
    )
    words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(4))
    return RawAd(
        source="bench",
        source_id=f"{run}-{i}",
        title=f"Listing {i}: {words}",
        body=f"A {words} place, new photos every week. Text {spelt} for times.",
        location=CITIES[i % len(CITIES)],
    )


@contextmanager
def embedded_worker(settings: Settings) -> Iterator[tuple[Settings, str, WorkerProcess]]:
    """The embedded broker with the topics and one worker, stopped on exit."""
    kafka = settings.kafka.model_copy(
        update={"single_record_batches": True, "fetch_max_wait_ms": 100}
    )
    settings = settings.model_copy(update={"kafka": kafka})
    with broker_for(settings) as bootstrap:
        ensure_topics(settings, bootstrap, topics.ALL)
        ensure_subscription_topic(settings, bootstrap)
        worker = WorkerProcess(settings, bootstrap)
        try:
            yield settings, bootstrap, worker
        finally:
            worker.stop()


def run_alert_bench(
    settings: Settings,
    *,
    rate: float,
    seconds: float,
    subscriptions: int,
    watched: int,
    say: Callable[[str], None] = lambda _: None,
) -> AlertLatency:
    """Run the benchmark on a fresh embedded stack under a temporary data dir."""
    with tempfile.TemporaryDirectory(prefix="adwatch-bench-") as tmp:
        fresh = settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "kafka": settings.kafka.model_copy(update={"bootstrap": None}),
            }
        )
        with TimingReceiver() as receiver, embedded_worker(fresh) as (s, bootstrap, worker):
            subs = bench_subscriptions(subscriptions, watched, receiver.url)
            with SubscriptionStore(s, bootstrap) as store:
                for sub in subs:
                    store.put(sub)
            say(f"{len(subs):,} subscriptions stored; starting the worker")
            worker.start()
            run = f"r{time.time_ns() % 10**9}"
            with AdProducer(s, bootstrap) as producer:
                _warm_up(producer, receiver, worker, run, say)
                sent, published_rate = _stream(producer, run, rate, seconds, say)
            expected = {
                (f"bench-{i % POOL:05d}", key)
                for i, (key, _) in enumerate(sent)
                if i % POOL < watched
            }
            say(
                f"published {len(sent):,} ads at {published_rate:.1f}/s; "
                f"waiting for {len(expected):,} alerts"
            )
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while time.monotonic() < deadline and not expected <= receiver.arrived.keys():
                if not worker.alive:
                    raise RuntimeError(
                        f"the worker exited ({worker.returncode}); see {worker.log_path}"
                    )
                time.sleep(0.2)
            with receiver.lock:
                arrived = dict(receiver.arrived)
    published = dict(sent)
    latencies = sorted(
        (arrived[key] - published[key[1]]) * 1000 for key in expected if key in arrived
    )
    bench_keys = set(published)
    unexpected = sum(1 for key in arrived if key[1] in bench_keys and key not in expected)
    return AlertLatency(
        rate=rate,
        seconds=seconds,
        ads=len(sent),
        subscriptions=subscriptions,
        watched=watched,
        expected=len(expected),
        delivered=len(latencies),
        unexpected=unexpected,
        p50_ms=_quantile(latencies, 0.50),
        p90_ms=_quantile(latencies, 0.90),
        p99_ms=_quantile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        publish_rate=published_rate,
    )


def _warm_up(
    producer: AdProducer,
    receiver: TimingReceiver,
    worker: WorkerProcess,
    run: str,
    say: Callable[[str], None],
) -> None:
    """Publish a watched ad every 2 s until the first alert arrives (group join, recovery)."""
    say("warming up: waiting for the worker's first alert")
    deadline = time.monotonic() + WARMUP_TIMEOUT
    i = 0
    while receiver.count() == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no alert within {WARMUP_TIMEOUT:.0f}s; see {worker.log_path}")
        if not worker.alive:
            raise RuntimeError(f"the worker exited ({worker.returncode}); see {worker.log_path}")
        producer.publish(bench_ad(f"{run}-warmup", i * POOL))  # pool phone 0: watched
        producer.flush()
        i += 1
        time.sleep(2.0)
    time.sleep(3.0)  # let the warm-up ads drain


def _stream(
    producer: AdProducer, run: str, rate: float, seconds: float, say: Callable[[str], None]
) -> tuple[list[tuple[str, float]], float]:
    """Publish ``rate`` ads per second for ``seconds``; (ad key, publish time) of each."""
    total = max(1, round(rate * seconds))
    sent: list[tuple[str, float]] = []
    start = time.monotonic()
    for i in range(total):
        pause = start + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        ad = bench_ad(run, i)
        sent.append((ad.key, time.time()))
        producer.publish(ad)
        if i and i % max(1, round(rate * 10)) == 0:
            say(f"  {i:,}/{total:,} published")
    producer.flush()
    elapsed = time.monotonic() - start
    return sent, total / elapsed if elapsed > 0 else float("nan")


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]
