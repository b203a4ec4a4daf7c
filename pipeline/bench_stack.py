"""What the end-to-end benchmarks share: a fresh embedded stack, paced publishing, percentiles.

    fresh_stack(settings) ──> temporary data dir ──> Tansu, as `adwatch up` runs it ──> topics
                                                                    └──> WorkerProcess (not started)
    warm_up(publish, ready)   an ad every few seconds until the worker shows it took one
    pace(producer, ads, rate) ads published on a schedule: (key, publish time) of each
    wait_until(done)          poll, failing early with the worker's log when it exits
    Percentiles.of(values)    p50, p90, p99, max

`adwatch bench alerts` (`pipeline.bench_alerts`) and `adwatch bench e2e`
(`pipeline.bench_e2e`) both run on a stack of their own under a temporary data dir on a
free port, so neither touches a running ``adwatch up``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.alerts.store import ensure_subscription_topic
from pipeline.broker import EmbeddedBroker, ensure_topics
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from schemas import RawAd

Say = Callable[[str], None]
WARMUP_TIMEOUT = 180.0


def quiet(_: str) -> None:
    """A `Say` that says nothing."""


@dataclass
class Stack:
    """The embedded broker, with the topics created, and one worker process."""

    settings: Settings  # bootstrap set to the broker's address
    broker: EmbeddedBroker
    worker: WorkerProcess

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return self.broker.bootstrap

    def check_worker(self) -> None:
        """Raise `RuntimeError`, naming its log, when the worker has exited."""
        if not self.worker.alive:
            raise RuntimeError(
                f"the worker exited ({self.worker.returncode}); see {self.worker.log_path}"
            )


@contextmanager
def fresh_stack(settings: Settings) -> Iterator[Stack]:
    """Tansu, the topics and one worker (not started) under a temporary data dir.

    Kafka settings as `adwatch up` runs Tansu: one record per produce batch and a 100 ms
    fetch wait. Everything is stopped, and the data dir removed, on exit.
    """
    with tempfile.TemporaryDirectory(prefix="adwatch-bench-") as tmp:
        data_dir = Path(tmp)
        with EmbeddedBroker(
            settings.kafka.embedded_port, log_path=data_dir / "logs" / "broker.log"
        ) as broker:
            kafka = settings.kafka.model_copy(
                update={
                    "bootstrap": broker.bootstrap,
                    "single_record_batches": True,
                    "fetch_max_wait_ms": 100,
                }
            )
            fresh = settings.model_copy(update={"data_dir": data_dir, "kafka": kafka})
            ensure_topics(fresh, broker.bootstrap, topics.ALL)
            ensure_subscription_topic(fresh, broker.bootstrap)
            worker = WorkerProcess(fresh, broker.bootstrap)
            try:
                yield Stack(fresh, broker, worker)
            finally:
                worker.stop()


def wait_until(
    done: Callable[[], bool],
    stack: Stack,
    timeout: float,
    what: str,
    progress: Callable[[], str] | None = None,
    say: Say = quiet,
) -> None:
    """Poll ``done`` until true; `RuntimeError` when the worker exits or ``timeout`` passes.

    ``progress`` (e.g. "120/300 searchable") is said every 10 s while waiting.
    """
    deadline = time.monotonic() + timeout
    last_said = time.monotonic()
    while not done():
        stack.check_worker()
        if time.monotonic() > deadline:
            where = f" ({progress()})" if progress else ""
            raise RuntimeError(
                f"{what}: not done after {timeout:.0f}s{where}; see {stack.worker.log_path}"
            )
        if progress is not None and time.monotonic() - last_said > 10:
            say(f"  {progress()}")
            last_said = time.monotonic()
        time.sleep(0.2)


def warm_up(
    stack: Stack,
    publish: Callable[[int], None],
    ready: Callable[[], bool],
    what: str,
    every: float = 2.0,
    settle: float = 2.0,
) -> None:
    """Call ``publish(i)`` every ``every`` s until ``ready()`` (group join, table recovery).

    Then wait ``settle`` s more, so the warm-up ads are through before anything is timed.
    """
    deadline = time.monotonic() + WARMUP_TIMEOUT
    i = 0
    next_at = time.monotonic()
    while not ready():
        stack.check_worker()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no {what} within {WARMUP_TIMEOUT:.0f}s; see {stack.worker.log_path}"
            )
        if time.monotonic() >= next_at:
            publish(i)
            i += 1
            next_at += every
        time.sleep(0.1)
    time.sleep(settle)


@dataclass
class Paced:
    """What `pace` published: (ad key, publish time on the wall clock) of each, and the rate."""

    sent: list[tuple[str, float]]
    rate: float  # ads per second actually published


def pace(
    producer: AdProducer,
    ads: Iterable[RawAd],
    rate: float,
    total: int,
    say: Say = quiet,
) -> Paced:
    """Publish ``total`` of ``ads`` at ``rate`` per second, each on its own schedule slot."""
    sent: list[tuple[str, float]] = []
    report_every = max(1, round(rate * 10))
    start = time.monotonic()
    for i, ad in zip(range(total), ads, strict=False):
        pause = start + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent.append((ad.key, time.time()))
        producer.publish(ad)
        if i and i % report_every == 0:
            say(f"  {i:,}/{total:,} published")
    producer.flush()
    elapsed = time.monotonic() - start
    return Paced(sent, len(sent) / elapsed if elapsed > 0 else float("nan"))


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (inclusive method); NaN when empty."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


@dataclass
class Percentiles:
    """p50, p90, p99 and max of some latencies, in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Percentiles:
        """The percentiles of ``values`` (NaN for none)."""
        ordered = sorted(values)
        return cls(
            p50=quantile(ordered, 0.50),
            p90=quantile(ordered, 0.90),
            p99=quantile(ordered, 0.99),
            max=ordered[-1] if ordered else float("nan"),
        )
