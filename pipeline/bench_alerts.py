"""``adwatch bench alerts``: latency from an ad published to its alert delivered.

    publish (t0) ──> ads.raw ──> enrich ──> link hops ──> scored + match ──> alerts
                                                              notify ──> HTTP receiver (t1)

Runs a fresh embedded stack (`pipeline.bench_stack`: Tansu, one worker process) with a
real local HTTP receiver on 127.0.0.1 as every subscription's webhook. ``subscriptions``
saved searches are stored: ``watched`` of them watch one phone each of the stream's phone
pool, the rest watch phones, words and flags no ad of the stream has, so matching works
through a realistic index.
After a warm-up (the worker's first alert), synthetic ads are published at a fixed rate;
latency is t1 - t0 per alert, both read from this machine's wall clock.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from connectors.producer import AdProducer
from pipeline.alerts.store import SubscriptionStore
from pipeline.bench_stack import Percentiles, Say, fresh_stack, pace, quiet, wait_until, warm_up
from pipeline.settings import Settings
from schemas import RawAd, SearchQuery
from schemas.alerts import Channel, Subscription

POOL = 100  # the stream's phones: +1 702 555 01xx, fictional
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


def run_alert_bench(
    settings: Settings,
    *,
    rate: float,
    seconds: float,
    subscriptions: int,
    watched: int,
    say: Say = quiet,
) -> AlertLatency:
    """Run the benchmark on a fresh embedded stack under a temporary data dir."""
    total = max(1, round(rate * seconds))
    run = f"r{time.time_ns() % 10**9}"
    with TimingReceiver() as receiver, fresh_stack(settings) as stack:
        subs = bench_subscriptions(subscriptions, watched, receiver.url)
        with SubscriptionStore(stack.settings, stack.bootstrap) as store:
            for sub in subs:
                store.put(sub)
        say(f"{len(subs):,} subscriptions stored; starting the worker")
        stack.worker.start()
        with AdProducer(stack.settings, stack.bootstrap) as producer:

            def publish_watched(i: int) -> None:
                producer.publish(bench_ad(f"{run}-warmup", i * POOL))  # pool phone 0: watched
                producer.flush()

            say("warming up: waiting for the worker's first alert")
            warm_up(stack, publish_watched, lambda: receiver.count() > 0, "alert", settle=3.0)
            ads = (bench_ad(run, i) for i in range(total))
            paced = pace(producer, ads, rate, total, say)
        expected = {
            (f"bench-{i % POOL:05d}", key)
            for i, (key, _) in enumerate(paced.sent)
            if i % POOL < watched
        }
        say(
            f"published {len(paced.sent):,} ads at {paced.rate:.1f}/s; "
            f"waiting for {len(expected):,} alerts"
        )

        def all_arrived() -> bool:
            with receiver.lock:
                return expected <= receiver.arrived.keys()

        try:
            wait_until(all_arrived, stack, DRAIN_TIMEOUT, "alerts")
        except RuntimeError:
            if not stack.worker.alive:
                raise  # else report what arrived: the figures show what is missing
        with receiver.lock:
            arrived = dict(receiver.arrived)
    published = dict(paced.sent)
    latency = Percentiles.of(
        (arrived[key] - published[key[1]]) * 1000 for key in expected if key in arrived
    )
    unexpected = sum(1 for key in arrived if key[1] in published and key not in expected)
    return AlertLatency(
        rate=rate,
        seconds=seconds,
        ads=len(paced.sent),
        subscriptions=subscriptions,
        watched=watched,
        expected=len(expected),
        delivered=sum(1 for key in expected if key in arrived),
        unexpected=unexpected,
        p50_ms=latency.p50,
        p90_ms=latency.p90,
        p99_ms=latency.p99,
        max_ms=latency.max,
        publish_rate=paced.rate,
    )
