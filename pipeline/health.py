"""Liveness and readiness of a worker, judged from a snapshot of its state. Pure but `WorkerState`.

    event loop (every second) ──> assigned partitions, recovery done?, loop heartbeat ─┐
    lag probe (a thread)       ──> committed offsets, lag per partition, progress ─────┤
    sink retry loop            ──> waiting for the sink since …  ──────────────────────┤
                                                                          WorkerState ─┘
    GET /healthz ── liveness(snapshot) ── 200, or 503 with the reasons
    GET /readyz  ── readiness(snapshot) ─ 200, or 503 with the reasons

**Liveness** fails when the worker is alive but not working, the silent stalls faust is
known for (a consumer that stops fetching or committing after a rebalance, an agent stuck
on a call that never returns): an assigned partition has lag and its committed offset has
not moved for ``stall_seconds``, or the event loop has not run for that long. The rule is
suspended while tables recover (which can take long and commits nothing) and while the
sink is known to be retrying (back-pressure, logged; a restart would not help), and its
clock restarts when either ends. **Readiness** is: the worker joined the group, its tables
are recovered, it is not stopping and not halted.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

TP = tuple[str, int]  # (topic, partition)
MAX_LISTED = 5  # stalled partitions named in a reason


@dataclass(frozen=True)
class Progress:
    """A partition's committed offset and since when it has been making progress."""

    committed: int
    since: float


@dataclass(frozen=True)
class Verdict:
    """The answer of an endpoint: ok or not, a one-word state, and why."""

    ok: bool
    state: str
    reasons: tuple[str, ...] = ()


def track_commits(
    before: Mapping[TP, Progress],
    committed: Mapping[TP, int],
    lag: Mapping[TP, int],
    now: float,
) -> dict[TP, Progress]:
    """Progress after one observation of ``committed`` offsets (the assigned partitions).

    A partition seen for the first time, whose committed offset moved, or that has no lag
    is progressing as of ``now``; one no longer assigned is forgotten.
    """
    out: dict[TP, Progress] = {}
    for tp, offset in committed.items():
        old = before.get(tp)
        if old is None or old.committed != offset or lag.get(tp, 0) <= 0:
            out[tp] = Progress(offset, now)
        else:
            out[tp] = old
    return out


def stalled(
    progress: Mapping[TP, Progress],
    lag: Mapping[TP, int],
    now: float,
    stall_seconds: float,
    resumed_at: float = 0.0,
) -> list[TP]:
    """Partitions with lag whose committed offset has not moved for ``stall_seconds``.

    ``resumed_at`` is when the rule last came back into force (recovery done, sink back):
    no partition has been stalled for longer than that.
    """
    return sorted(
        tp
        for tp, p in progress.items()
        if lag.get(tp, 0) > 0 and now - max(p.since, resumed_at) > stall_seconds
    )


@dataclass(frozen=True)
class Snapshot:
    """What the endpoints judge; times are `time.monotonic` seconds."""

    now: float
    started_at: float
    loop_seen_at: float
    ready: bool = False  # joined, tables recovered, not rebalancing
    ready_since: float | None = None
    assigned: frozenset[TP] = frozenset()
    stopping: bool = False
    halted: str | None = None
    sink_waiting: str | None = None
    sink_resumed_at: float = 0.0
    lag: Mapping[TP, int] = field(default_factory=dict)
    progress: Mapping[TP, Progress] = field(default_factory=dict)
    probe_error: str | None = None
    probe_at: float | None = None


def liveness(s: Snapshot, stall_seconds: float) -> Verdict:
    """Whether the worker is doing its work (or knowingly waiting); see the module doc."""
    if s.halted:
        return Verdict(False, "halted", (s.halted,))
    blocked = s.now - s.loop_seen_at
    if blocked > stall_seconds:
        return Verdict(False, "stalled", (f"event loop has not run for {blocked:.0f}s",))
    if s.stopping:
        return Verdict(True, "stopping")
    if not s.ready or s.ready_since is None:
        return Verdict(True, "starting")
    if s.sink_waiting:
        return Verdict(True, "waiting", (f"waiting for the sink: {s.sink_waiting}",))
    resumed = max(s.ready_since, s.sink_resumed_at)
    stuck = stalled(s.progress, s.lag, s.now, stall_seconds, resumed)
    if stuck:
        named = ", ".join(
            f"{t}[{p}] lag {s.lag.get((t, p), 0)}, no commit for "
            f"{s.now - max(s.progress[(t, p)].since, resumed):.0f}s"
            for t, p in stuck[:MAX_LISTED]
        )
        more = f" and {len(stuck) - MAX_LISTED} more" if len(stuck) > MAX_LISTED else ""
        return Verdict(False, "stalled", (f"no commit progress while lag grows: {named}{more}",))
    return Verdict(True, "ok")


def readiness(s: Snapshot) -> Verdict:
    """Whether the worker has joined the group and recovered its tables."""
    if s.halted:
        return Verdict(False, "halted", (s.halted,))
    if s.stopping:
        return Verdict(False, "stopping", ("shutting down",))
    if not s.ready:
        return Verdict(False, "recovering", ("joining the group or recovering tables",))
    return Verdict(True, "ready")


def verdict_body(v: Verdict) -> dict[str, Any]:
    """The JSON of ``/healthz`` and ``/readyz``."""
    return {"ok": v.ok, "state": v.state, "reasons": list(v.reasons)}


def status_body(s: Snapshot, stall_seconds: float, about: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of ``GET /status``: both verdicts, uptime, partitions and lag."""
    live, ready = liveness(s, stall_seconds), readiness(s)
    lag_by_topic: dict[str, int] = {}
    for (topic, _), n in s.lag.items():
        lag_by_topic[topic] = lag_by_topic.get(topic, 0) + n
    return {
        **about,
        "uptime_seconds": round(s.now - s.started_at, 1),
        "live": verdict_body(live),
        "ready": verdict_body(ready),
        "assigned_partitions": len(s.assigned),
        "lag": dict(sorted(lag_by_topic.items())),
        "lag_measured_seconds_ago": None if s.probe_at is None else round(s.now - s.probe_at, 1),
        "lag_error": s.probe_error,
        "sink_waiting": s.sink_waiting,
        "halted": s.halted,
    }


class WorkerState:
    """The mutable state behind `Snapshot`, shared by the event loop and two threads."""

    def __init__(self, now: float) -> None:
        self._lock = threading.Lock()
        self._s = Snapshot(now=now, started_at=now, loop_seen_at=now)

    def update(self, **changes: Any) -> None:
        """Set fields of the snapshot (names as in `Snapshot`)."""
        with self._lock:
            self._s = replace(self._s, **changes)

    def heartbeat(self, now: float, ready: bool, assigned: frozenset[TP]) -> None:
        """The event loop ran at ``now``; ``ready`` and ``assigned`` as it sees them."""
        with self._lock:
            s = self._s
            since = s.ready_since if (ready and s.ready) else (now if ready else None)
            self._s = replace(
                s, loop_seen_at=now, ready=ready, ready_since=since, assigned=assigned
            )

    def sink_waiting(self, reason: str | None, now: float) -> None:
        """The sink is retrying (``reason``), or back (None)."""
        with self._lock:
            s = self._s
            if reason is None and s.sink_waiting is not None:
                self._s = replace(s, sink_waiting=None, sink_resumed_at=now)
            elif reason is not None:
                self._s = replace(s, sink_waiting=reason)

    def snapshot(self, now: float) -> Snapshot:
        """The state as of ``now``."""
        with self._lock:
            return replace(self._s, now=now)
