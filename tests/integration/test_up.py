"""`adwatch up`, as a user runs it: the demo stream becomes searchable; Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest

from pipeline.sinks.sqlite import SQLiteIndex
from schemas import SearchQuery
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


SOME = 100  # ads of the synthetic stream (20 a second by default) to wait for


def _a_phone(path: Path) -> str:
    """A phone of an indexed companionship ad, written the way a person would type it."""
    with SQLiteIndex.open(path, create=False) as idx:
        ads = [a for a in idx.search(SearchQuery(limit=1_000)) if a.phones]
    e164 = ads[0].phones[0].e164
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )


def _tour_count(path: Path) -> int:
    if not path.exists():
        return 0
    with SQLiteIndex.open(path, create=False) as idx:
        return len(idx.search(SearchQuery(sources=["tour"], limit=100)))


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with SQLiteIndex.open(path, create=False) as idx:
        return idx.count()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == pid]


def test_up_makes_demo_searchable_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADWATCH_")}
    adwatch = [sys.executable, "-m", "pipeline.cli"]
    proc = subprocess.Popen(
        [*adwatch, "up", "--refresh", "0.5"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    index = tmp_path / ".adwatch" / "index.sqlite3"
    try:
        wait_for(lambda: _count(index) >= SOME or proc.poll() is not None, 120, "demo ads")
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        children = _children(proc.pid)
        assert len(children) == 2  # broker and worker (the sources run in-process)

        phone = _a_phone(index)
        e164 = phonenumbers.format_number(phonenumbers.parse(phone, "US"), 0)
        found = subprocess.run(
            [*adwatch, "search", "--phone", phone, "--json"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        hits = [json.loads(line) for line in found.stdout.splitlines()]
        assert hits and all(e164 in [p["e164"] for p in h["phones"]] for h in hits)

        # A second `adwatch up` on the same data directory refuses, saying why.
        second = subprocess.run(
            [*adwatch, "up"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert "already running" in second.stderr

        # `adwatch ingest` finds the running embedded broker by itself.
        extra = tmp_path / "more.jsonl"
        lines = [
            json.dumps({"source": "tour", "source_id": str(i), "body": f"Desk for sale {i}"})
            for i in range(5)
        ]
        extra.write_text("\n".join([*lines, "{oops"]) + "\n")
        ingested = subprocess.run(
            [*adwatch, "ingest", str(extra)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        assert f"{extra}:6" in ingested.stdout + ingested.stderr  # the bad line, by file:line
        wait_for(lambda: _tour_count(index) == 5, 60, "ingested ads indexed")

        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
        assert proc.wait(timeout=90) == 0
        output = proc.stdout.read().decode() if proc.stdout else ""
        assert "worker stopped (exit 0)" in output
        for pid in children:
            wait_for(lambda pid=pid: not _alive(pid), 10, f"child {pid} to exit")
        # The worker closed its index connection: SQLite checkpointed and removed the WAL.
        assert not index.with_name(index.name + "-wal").exists()
        assert _tour_count(index) == 5  # the index outlives the embedded broker
        assert _count(index) > SOME
        assert not (tmp_path / ".adwatch" / "run" / "broker.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
