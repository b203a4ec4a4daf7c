"""Run connectors on their schedules and publish what is new or changed, once.

    every connector, when due:  poll() ─> ads ─> new or changed? (state) ─> publish ─> flush
                                                                                 │
                      mark_published (state) <── all of the batch acknowledged ──┘

A batch is recorded as published only after the producer acknowledged all of it (acks=all,
idempotent producer). If delivery fails, the same batch is sent again, with backoff, before
that connector is polled again: connectors that keep a cursor advance it only once the
previous poll's ads are out, so nothing is skipped and nothing is lost. Re-sending may
duplicate a record on the topic, never in the index (it overwrites by key).

A connector that raises is reported and backed off, never allowed to stop the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from connectors.base import Connector, Problem, Report
from connectors.state import SourceState
from pipeline.deadletter import Headers, error_headers
from pipeline.errors import InvalidRecord
from schemas import RawAd

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 600.0


class Publisher(Protocol):
    """What the runner needs of a producer (`connectors.producer.AdProducer` is one)."""

    failed: int

    def publish(self, ad: RawAd) -> None:
        """Send one ad."""

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything sent is acknowledged or failed."""

    def deadletter(self, original: bytes, key: bytes | None, headers: Headers) -> None:
        """Send a bad record's original bytes to the dead-letter topic."""

    @property
    def pending(self) -> int:
        """Sent, neither acknowledged nor failed."""


@dataclass
class ConnectorStats:
    """What one connector did so far, for status panels and `adwatch connectors run`."""

    name: str
    every_seconds: float
    polls: int = 0
    returned: int = 0  # ads poll() gave
    published: int = 0  # new or changed, acknowledged by the broker
    unchanged: int = 0  # already published with this content
    problems: int = 0
    errors: int = 0  # polls or deliveries that failed
    last_problem: str | None = None
    exhausted: bool = False


@dataclass
class _Slot:
    connector: Connector
    stats: ConnectorStats
    due: float = 0.0
    failures: int = 0
    unsent: list[RawAd] = field(default_factory=list)


class ConnectorRunner:
    """Poll connectors when due, publish their new or changed ads, keep the books."""

    def __init__(
        self,
        state: SourceState,
        publisher: Publisher,
        *,
        report: Report | None = None,
        clock: Callable[[], float] = time.monotonic,
        flush_timeout: float = 30.0,
    ) -> None:
        self.state = state
        self.publisher = publisher
        self.clock = clock
        self.flush_timeout = flush_timeout
        self._report = report
        self._slots: dict[str, _Slot] = {}

    # -- set-up -------------------------------------------------------------------------
    def add(self, connector: Connector, every_seconds: float) -> None:
        """Schedule ``connector`` every ``every_seconds`` (first poll right away)."""
        if connector.name in self._slots:
            raise ValueError(f"two connectors named {connector.name!r}")
        connector.open()
        self._slots[connector.name] = _Slot(
            connector, ConnectorStats(connector.name, every_seconds)
        )

    def report(self, problem: Problem) -> None:
        """The `Report` to build connectors with: counts per connector, then passes it on."""
        slot = self._slots.get(problem.source)
        if slot is not None:
            slot.stats.problems += 1
            slot.stats.last_problem = problem.describe()
        log.warning(
            "connector %s: %s",
            problem.source,
            problem.describe(),
            extra={"stage": "connector", "source": problem.source, "reason": problem.reason},
        )
        if problem.original is not None:
            self._deadletter(problem)
        if self._report is not None:
            self._report(problem)

    def _deadletter(self, problem: Problem) -> None:
        """A bad input record goes to ads.deadletter byte for byte, with the reason."""
        assert problem.original is not None
        where = problem.where.rsplit(":", 1)[0] if problem.line >= 0 else problem.where
        headers = error_headers(
            topic=f"file:{where}" if problem.line >= 0 else problem.where,
            partition=-1,
            offset=problem.line,
            stage=f"connector:{problem.source}",
            exc=InvalidRecord(problem.reason),
            details=problem.details,
        )
        try:
            self.publisher.deadletter(problem.original, None, headers)
        except Exception as exc:  # the report still says what was wrong
            log.warning(
                "connector %s: dead-letter failed: %s",
                problem.source,
                exc,
                extra={"stage": "connector", "source": problem.source, "reason": str(exc)},
            )

    @property
    def connectors(self) -> list[Connector]:
        """The connectors, in the order they were added."""
        return [slot.connector for slot in self._slots.values()]

    @property
    def stats(self) -> list[ConnectorStats]:
        """Per-connector counts, in the order connectors were added."""
        return [slot.stats for slot in self._slots.values()]

    @property
    def active(self) -> bool:
        """True while some connector is not exhausted or still has ads to deliver."""
        return any(not s.stats.exhausted or s.unsent for s in self._slots.values())

    # -- running ------------------------------------------------------------------------
    def step(self) -> int:
        """Poll every connector that is due once; return how many ads were published."""
        published = 0
        for slot in list(self._slots.values()):
            if slot.stats.exhausted and not slot.unsent:
                continue
            if self.clock() >= slot.due:
                published += self._serve(slot)
        return published

    def seconds_to_next(self) -> float:
        """How long until some connector is due (0 when one is due now)."""
        waiting = [s.due for s in self._slots.values() if not s.stats.exhausted or s.unsent]
        return max(0.0, min(waiting) - self.clock()) if waiting else 0.0

    def run(self, stop: threading.Event, *, until_exhausted: bool = False) -> None:
        """Step until ``stop`` is set (or, with ``until_exhausted``, every source is done)."""
        while not stop.is_set():
            self.step()
            if until_exhausted and not self.active:
                return
            stop.wait(min(self.seconds_to_next(), 1.0))

    def close(self) -> None:
        """Close every connector."""
        for slot in self._slots.values():
            try:
                slot.connector.close()
            except Exception as exc:  # a broken close must not keep the others open
                log.warning(
                    "connector %s: close failed: %s",
                    slot.stats.name,
                    exc,
                    extra={"stage": "connector", "source": slot.stats.name, "reason": str(exc)},
                )

    def _serve(self, slot: _Slot) -> int:
        stats = slot.stats
        if not slot.unsent:
            try:
                ads = list(slot.connector.poll())
            except Exception as exc:
                self._fail(slot, f"poll failed: {type(exc).__name__}: {exc}")
                return 0
            stats.polls += 1
            stats.returned += len(ads)
            stats.exhausted = slot.connector.exhausted
            slot.unsent = self._changed(ads, stats)
        published = self._deliver(slot)
        if not slot.unsent:
            slot.failures = 0
            slot.due = self.clock() + (0.0 if self._has_more(slot) else stats.every_seconds)
        return published

    def _has_more(self, slot: _Slot) -> bool:
        # A connector with work ready now (more listing pages, more lines) says so with
        # `backlog` and is polled again right away instead of on its schedule.
        return not slot.stats.exhausted and bool(getattr(slot.connector, "backlog", False))

    def _changed(self, ads: Iterable[RawAd], stats: ConnectorStats) -> list[RawAd]:
        latest: dict[str, RawAd] = {}
        for ad in ads:
            latest[ad.key] = ad  # the same ad twice in a batch: the last version wins
        fresh = [ad for ad in latest.values() if self.state.is_new_or_changed(ad)]
        stats.unchanged += len(latest) - len(fresh)
        return fresh

    def _deliver(self, slot: _Slot) -> int:
        batch = slot.unsent
        if not batch:
            return 0
        failed_before = self.publisher.failed
        try:
            for ad in batch:
                self.publisher.publish(ad)
            self.publisher.flush(self.flush_timeout)
        except Exception as exc:
            self._fail(slot, f"delivery failed, will retry {len(batch)} ads: {exc}")
            return 0
        if self.publisher.failed != failed_before or self.publisher.pending:
            self._fail(slot, f"{len(batch)} ads not acknowledged by the broker; will retry")
            return 0
        self.state.mark_published(batch)
        slot.stats.published += len(batch)
        slot.unsent = []
        return len(batch)

    def _fail(self, slot: _Slot, reason: str) -> None:
        slot.failures += 1
        slot.stats.errors += 1
        backoff = min(slot.stats.every_seconds * 2 ** (slot.failures - 1), MAX_BACKOFF_SECONDS)
        slot.due = self.clock() + max(backoff, 1.0)
        self.report(Problem(source=slot.stats.name, where=slot.stats.name, reason=reason))
