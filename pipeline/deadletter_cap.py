"""The dead-letter cap: a bad deploy halts the worker instead of dead-lettering everything.

Like arroyo's ``DlqLimit``:

    each record a stage finishes ──> window of its last N outcomes (dead or not)
    a record about to be dead-lettered ──> check: would the full window exceed the
                                           max ratio? ──> Trip (the record is left alone)

Pure: no clock, no I/O but the halt file, which records why a worker stopped so that
`adwatch up`, `adwatch status` and the next start of the worker can say so. A worker that
finds a halt file written under the same cap refuses to start (it would only dead-letter
another window's worth and trip again); a fix is a new deploy, a raised cap, or deleting
the file (`adwatch up` does that when a human starts it again).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

EXIT_DEADLETTER_CAP = 78  # EX_CONFIG: what a bad deploy usually is; distinct from the sink's 70


class StageWindow:
    """The last ``size`` outcomes of one stage in a ring; no allocation per record."""

    __slots__ = ("_pos", "_ring", "dead", "seen", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._ring = bytearray(size)
        self._pos = 0
        self.seen = 0  # records in the window, up to size
        self.dead = 0  # dead-lettered records in the window

    def add(self, dead: bool) -> None:
        """Record one outcome, forgetting the oldest once the window is full."""
        old = self._ring[self._pos]
        new = 1 if dead else 0
        self._ring[self._pos] = new
        self._pos = (self._pos + 1) % self.size
        if self.seen < self.size:
            self.seen += 1
            self.dead += new
        else:
            self.dead += new - old

    def with_dead(self) -> tuple[int, int]:
        """(records, dead letters) the window would hold after one more dead letter."""
        if self.seen < self.size:
            return self.seen + 1, self.dead + 1
        return self.size, self.dead + 1 - self._ring[self._pos]

    @property
    def ratio(self) -> float:
        """Dead-lettered share of the window (0 while empty)."""
        return self.dead / self.seen if self.seen else 0.0

    def ratio_of(self) -> float:
        """`ratio` as a function, for a gauge read at scrape time."""
        return self.ratio


@dataclass(frozen=True)
class Trip:
    """Why the cap stopped a stage."""

    stage: str
    dead: int
    window: int
    max_ratio: float

    def describe(self) -> str:
        """One line for logs, the halt file and `adwatch up`."""
        return (
            f"dead-letter cap: {self.dead} of the last {self.window} records of stage "
            f"{self.stage} were dead-lettered (more than {self.max_ratio:.0%}); halting "
            "without acknowledging the record that tripped it"
        )


class DeadLetterCap:
    """One window per stage; `record` returns a `Trip` when a stage crosses the cap."""

    def __init__(self, max_ratio: float, window: int) -> None:
        if not 0.0 < max_ratio <= 1.0:
            raise ValueError("max_ratio must be in (0, 1]")
        if window < 1:
            raise ValueError("window must be positive")
        self.max_ratio = max_ratio
        self.window = window
        self.windows: dict[str, StageWindow] = {}

    @property
    def enabled(self) -> bool:
        """False when the ratio is 1: nothing can exceed it."""
        return self.max_ratio < 1.0

    def stage(self, name: str) -> StageWindow:
        """The window of ``name``, made on first use."""
        found = self.windows.get(name)
        if found is None:
            found = self.windows[name] = StageWindow(self.window)
        return found

    def record(self, stage: str, dead: bool) -> None:
        """Add one outcome of ``stage`` (a dead letter only after `check` let it through)."""
        self.stage(stage).add(dead)

    def check(self, stage: str) -> Trip | None:
        """The `Trip` that dead-lettering one more record of ``stage`` would cause, if any.

        Asked *before* a record is dead-lettered, so the record that trips the cap is
        neither dead-lettered nor acknowledged: after a fix it is processed again.
        """
        if not self.enabled:
            return None
        w = self.stage(stage)
        seen, dead = w.with_dead()
        if seen == w.size and dead > self.max_ratio * w.size:
            return Trip(stage, dead, w.size, self.max_ratio)
        return None


# --- the halt file ----------------------------------------------------------------------


@dataclass(frozen=True)
class Halt:
    """What the halt file holds."""

    reason: str
    stage: str
    max_ratio: float
    window: int
    at: str
    pid: int

    def same_cap(self, max_ratio: float, window: int) -> bool:
        """Whether a worker starting with this cap would trip again on the same records."""
        return self.max_ratio == max_ratio and self.window == window


def halt_path(data_dir: Path) -> Path:
    """The halt file of a data directory."""
    return data_dir / "run" / "halt.json"


def write_halt(data_dir: Path, trip: Trip) -> Halt:
    """Record ``trip`` (atomically: a reader never sees half a file)."""
    halt = Halt(
        reason=trip.describe(),
        stage=trip.stage,
        max_ratio=trip.max_ratio,
        window=trip.window,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        pid=os.getpid(),
    )
    path = halt_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(halt)), encoding="utf-8")
    tmp.replace(path)
    return halt


def read_halt(data_dir: Path) -> Halt | None:
    """The recorded halt, if any (None for a missing or unreadable file)."""
    try:
        data = json.loads(halt_path(data_dir).read_text(encoding="utf-8"))
        return Halt(
            reason=str(data["reason"]),
            stage=str(data["stage"]),
            max_ratio=float(data["max_ratio"]),
            window=int(data["window"]),
            at=str(data["at"]),
            pid=int(data["pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_halt(data_dir: Path) -> None:
    """Forget a recorded halt."""
    with contextlib.suppress(FileNotFoundError):
        halt_path(data_dir).unlink()
