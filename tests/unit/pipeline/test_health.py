"""The liveness and readiness rules (pipeline.health), with a fake clock."""

from __future__ import annotations

from pipeline.health import (
    Progress,
    Snapshot,
    WorkerState,
    liveness,
    readiness,
    stalled,
    status_body,
    track_commits,
)

A, B = ("t.ads.raw", 0), ("t.ads.scored", 1)
STALL = 10.0


def ready_at(t: float, **changes: object) -> Snapshot:
    values: dict[str, object] = {
        "now": t, "started_at": 0.0, "loop_seen_at": t, "ready": True, "ready_since": 1.0,
    }  # fmt: skip
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


def test_track_commits_restarts_the_clock_on_progress_or_no_lag() -> None:
    p = track_commits({}, {A: 5, B: 7}, {A: 3, B: 0}, now=1.0)
    assert p == {A: Progress(5, 1.0), B: Progress(7, 1.0)}  # first seen: from now
    p = track_commits(p, {A: 5, B: 7}, {A: 4, B: 0}, now=2.0)
    assert p[A] == Progress(5, 1.0)  # lag and no commit: the clock runs
    assert p[B] == Progress(7, 2.0)  # no lag: nothing to be stalled on
    p = track_commits(p, {A: 9}, {A: 1}, now=3.0)
    assert p == {A: Progress(9, 3.0)}  # moved; B no longer assigned: forgotten


def test_stalled_counts_from_the_later_of_progress_and_resumption() -> None:
    progress = {A: Progress(5, 0.0), B: Progress(7, 0.0)}
    lag = {A: 3, B: 0}
    assert stalled(progress, lag, now=10.0, stall_seconds=STALL) == []  # not *more* than 10 s
    assert stalled(progress, lag, now=10.5, stall_seconds=STALL) == [A]  # B has no lag
    assert stalled(progress, lag, now=10.5, stall_seconds=STALL, resumed_at=5.0) == []


def test_a_worker_that_commits_every_few_seconds_is_never_stalled() -> None:
    progress: dict[tuple[str, int], Progress] = {}
    committed, end = 0, 0
    for step in range(60):  # a probe every second, a commit every 3 s, steady backlog
        t = float(step)
        end += 10
        if step % 3 == 0:
            committed = end - 5
        lag = {A: end - committed}
        progress = track_commits(progress, {A: committed}, lag, t)
        snap = ready_at(t, progress=progress, lag=lag, ready_since=0.0)
        assert liveness(snap, STALL).ok, step


def test_a_worker_that_stops_committing_with_lag_fails_after_stall_seconds() -> None:
    progress = track_commits({}, {B: 100}, {B: 20}, now=2.0)
    for t in (3.0, 7.0, 12.0):
        progress = track_commits(progress, {B: 100}, {B: 20 + int(t)}, now=t)
        live = liveness(ready_at(t, progress=progress, lag={B: 20}), STALL)
        assert live.ok and live.state == "ok"
    t = 12.5
    verdict = liveness(ready_at(t, progress=progress, lag={B: 32}), STALL)
    assert not verdict.ok and verdict.state == "stalled"
    assert verdict.reasons == (
        "no commit progress while lag grows: t.ads.scored[1] lag 32, no commit for 10s",
    )


def test_the_rule_waits_for_recovery_and_for_a_retrying_sink() -> None:
    progress = {B: Progress(100, 0.0)}
    lag = {B: 50}
    recovering = ready_at(60.0, progress=progress, lag=lag, ready=False, ready_since=None)
    assert liveness(recovering, STALL).state == "starting"
    assert liveness(recovering, STALL).ok
    just_ready = ready_at(60.0, progress=progress, lag=lag, ready_since=55.0)
    assert liveness(just_ready, STALL).ok  # the clock restarted when recovery finished
    waiting = ready_at(60.0, progress=progress, lag=lag, sink_waiting="es: 503")
    assert liveness(waiting, STALL).ok and liveness(waiting, STALL).state == "waiting"
    back = ready_at(60.0, progress=progress, lag=lag, sink_resumed_at=58.0)
    assert liveness(back, STALL).ok
    assert not liveness(ready_at(70.0, progress=progress, lag=lag, sink_resumed_at=58.0), STALL).ok


def test_a_blocked_event_loop_fails_liveness_even_while_recovering() -> None:
    snap = ready_at(100.0, loop_seen_at=80.0, ready=False, ready_since=None)
    verdict = liveness(snap, STALL)
    assert not verdict.ok and verdict.reasons == ("event loop has not run for 20s",)


def test_readiness_states() -> None:
    assert readiness(ready_at(5.0)).ok
    assert readiness(ready_at(5.0, ready=False)).state == "recovering"
    assert not readiness(ready_at(5.0, stopping=True)).ok
    halted = ready_at(5.0, halted="dead-letter cap: …")
    assert not readiness(halted).ok and not liveness(halted, STALL).ok
    assert liveness(ready_at(5.0, stopping=True), STALL).ok  # stopping is not dead


def test_worker_state_keeps_ready_since_until_readiness_is_lost() -> None:
    state = WorkerState(now=0.0)
    state.heartbeat(1.0, ready=False, assigned=frozenset())
    assert state.snapshot(1.0).ready_since is None
    state.heartbeat(2.0, ready=True, assigned=frozenset({A}))
    state.heartbeat(3.0, ready=True, assigned=frozenset({A}))
    snap = state.snapshot(3.5)
    assert snap.ready_since == 2.0 and snap.loop_seen_at == 3.0 and snap.assigned == {A}
    state.heartbeat(4.0, ready=False, assigned=frozenset())  # a rebalance
    state.heartbeat(5.0, ready=True, assigned=frozenset({B}))
    assert state.snapshot(5.0).ready_since == 5.0
    state.sink_waiting("es down", 6.0)
    state.sink_waiting(None, 7.0)
    snap = state.snapshot(7.0)
    assert snap.sink_waiting is None and snap.sink_resumed_at == 7.0


def test_status_body_sums_lag_per_topic() -> None:
    snap = ready_at(30.0, lag={A: 2, ("t.ads.raw", 1): 3, B: 0}, probe_at=29.0)
    body = status_body(snap, STALL, {"pid": 7})
    assert body["pid"] == 7 and body["uptime_seconds"] == 30.0
    assert body["lag"] == {"t.ads.raw": 5, "t.ads.scored": 0}
    assert body["live"]["ok"] and body["ready"]["state"] == "ready"
    assert body["lag_measured_seconds_ago"] == 1.0
