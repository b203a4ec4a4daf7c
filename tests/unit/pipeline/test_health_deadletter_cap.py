"""The dead-letter cap (pipeline.deadletter_cap) and how the observer halts on it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import NoReturn

import pytest

from pipeline.deadletter_cap import (
    EXIT_DEADLETTER_CAP,
    DeadLetterCap,
    StageWindow,
    Trip,
    clear_halt,
    halt_path,
    read_halt,
    write_halt,
)
from pipeline.errors import InvalidRecord
from pipeline.observe import Observer
from pipeline.settings import Settings, load_settings


def feed(cap: DeadLetterCap, outcomes: list[bool], stage: str = "enrich") -> int | None:
    """Run ``outcomes`` through the cap as the worker does; the index of a trip, if any."""
    for i, dead in enumerate(outcomes):
        if dead and cap.check(stage) is not None:
            return i
        cap.record(stage, dead)
    return None


def test_a_handful_of_bad_records_never_trips_the_defaults() -> None:
    defaults = load_settings().monitoring
    cap = DeadLetterCap(defaults.deadletter_max_ratio, defaults.deadletter_window)
    rng = random.Random(7)
    outcomes = [False] * 5000
    for i in rng.sample(range(5000), 50):
        outcomes[i] = True
    assert feed(cap, outcomes) is None
    fresh = DeadLetterCap(defaults.deadletter_max_ratio, defaults.deadletter_window)
    assert feed(fresh, [True] * (defaults.deadletter_window - 1)) is None  # never on fewer


def test_nothing_but_bad_records_trips_at_the_window_th_and_leaves_it_alone() -> None:
    cap = DeadLetterCap(0.5, 20)
    assert feed(cap, [True] * 60) == 19  # the 20th record trips it
    window = cap.stage("enrich")
    assert (window.seen, window.dead) == (19, 19)  # the tripping record was not counted
    trip = cap.check("enrich")
    assert trip == Trip("enrich", 20, 20, 0.5)
    assert "20 of the last 20 records of stage enrich" in trip.describe()


def test_the_ratio_must_be_exceeded_not_reached() -> None:
    assert feed(DeadLetterCap(0.5, 10), [False] * 5 + [True] * 5) is None  # 5 of 10
    assert feed(DeadLetterCap(0.5, 10), [False] * 4 + [True] * 6) == 9  # 6 of 10


def test_old_outcomes_leave_the_window() -> None:
    cap = DeadLetterCap(0.5, 10)
    assert feed(cap, [True] * 5 + [False] * 10) is None
    assert cap.stage("enrich").ratio == 0.0
    assert feed(cap, [True] * 5) is None  # 5 of the last 10
    assert feed(cap, [True]) == 0  # 6 of the last 10


def test_stages_have_windows_of_their_own_and_one_turns_it_off() -> None:
    cap = DeadLetterCap(0.5, 10)
    assert feed(cap, [True] * 5, "link") is None
    assert feed(cap, [True] * 5, "index") is None
    assert DeadLetterCap(1.0, 10).check("enrich") is None
    assert feed(DeadLetterCap(1.0, 10), [True] * 100) is None
    with pytest.raises(ValueError):
        DeadLetterCap(0.0, 10)


def test_window_with_dead_counts_what_falls_out() -> None:
    w = StageWindow(3)
    for dead in (True, False, False):
        w.add(dead)
    assert w.with_dead() == (3, 1)  # the oldest (dead) drops out, a new dead comes in
    w.add(False)
    assert w.with_dead() == (3, 1)


def test_halt_file_round_trip(tmp_path: Path) -> None:
    assert read_halt(tmp_path) is None
    halt = write_halt(tmp_path, Trip("index", 600, 1000, 0.5))
    assert read_halt(tmp_path) == halt
    assert halt.same_cap(0.5, 1000) and not halt.same_cap(0.9, 1000)
    halt_path(tmp_path).write_text("{broken", encoding="utf-8")
    assert read_halt(tmp_path) is None
    clear_halt(tmp_path)
    clear_halt(tmp_path)  # twice is fine
    assert not halt_path(tmp_path).exists()


class Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def raise_exit(code: int) -> NoReturn:
    raise Exited(code)


def observer(tmp_path: Path, window: int = 10) -> tuple[Settings, Observer]:
    settings = load_settings(
        data_dir=tmp_path,
        monitoring={"deadletter_window": window, "deadletter_max_ratio": 0.5},
    )
    return settings, Observer(settings, exit_process=raise_exit)


def test_observer_halts_with_the_distinct_code_and_records_why(tmp_path: Path) -> None:
    settings, obs = observer(tmp_path)
    raw = settings.topic("ads.raw")
    bad = InvalidRecord("not JSON: …", kind="not JSON")

    async def run() -> int:
        for i in range(10):
            try:
                await obs.dead(raw, "validate", bad)
            except Exited as exc:
                assert exc.code == EXIT_DEADLETTER_CAP
                return i
        return -1

    assert asyncio.run(run()) == 9
    halt = read_halt(tmp_path)
    assert halt is not None and halt.stage == "enrich" and halt.window == 10
    counted = obs.registry.get_sample_value(
        "adwatch_deadlettered_total", {"stage": "validate", "reason": "not JSON"}
    )
    assert counted == 9  # the record that tripped it was not counted as dead-lettered
    assert obs.state.snapshot(0.0).halted == halt.reason


def test_notify_is_not_capped_and_good_records_dilute(tmp_path: Path) -> None:
    settings, obs = observer(tmp_path)
    alerts, raw = settings.topic("alerts"), settings.topic("ads.raw")

    async def run() -> None:
        for _ in range(50):  # a subscriber's webhook is down: alerts dead-lettered, no halt
            await obs.dead(alerts, "notify", RuntimeError("undelivered"))
        stage = obs.stage("enrich")
        for _ in range(5):
            stage.received()
            stage.passed()
            stage.received()
            await obs.dead(raw, "validate", InvalidRecord("x", kind="not JSON"))

    asyncio.run(run())  # 5 of 10 at most: never over the cap
    assert read_halt(tmp_path) is None
    labels = {"stage": "notify", "reason": "RuntimeError"}
    assert obs.registry.get_sample_value("adwatch_deadlettered_total", labels) == 50
