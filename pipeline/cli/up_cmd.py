"""`adwatch up`: broker + worker + index (+ demo source) on one machine, with a live panel."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from contextlib import nullcontext
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from pipeline import topics
from pipeline.broker import BrokerError, broker_for, ensure_topics
from pipeline.cli.common import console, fail, settings_or_exit
from pipeline.monitor import Progress, TopicMonitor
from pipeline.runfile import remove_runfile, running_broker, write_runfile
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess

RESTART_BACKOFF_MAX = 30.0


def demo_file() -> Path:
    """The bundled synthetic demo ads."""
    return Path(str(resources.files("connectors").joinpath("data", "demo_ads.jsonl")))


def indexed_count(path: Path) -> int | None:
    """Ads in the SQLite index, read-only; None while it does not exist yet."""
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as c:
            return int(c.execute("SELECT count(*) FROM ads").fetchone()[0])
    except sqlite3.Error:
        return None


class _Feeder(threading.Thread):
    """Publishes the given files once, in the background."""

    def __init__(self, settings: Settings, bootstrap: str, paths: list[Path]) -> None:
        super().__init__(name="adwatch-feeder", daemon=True)
        self.settings, self.bootstrap, self.paths = settings, bootstrap, paths
        self.status = "waiting"

    def run(self) -> None:
        from pipeline.cli.ingest_cmd import ingest_files

        self.status = "publishing"
        try:
            summary = ingest_files(self.paths, self.settings, self.bootstrap)
        except Exception as exc:  # shown in the panel; the stack keeps running
            self.status = f"failed: {exc}"
            return
        if summary.aborted or summary.delivery_failed:
            why = summary.aborted or f"{summary.delivery_failed} records not delivered"
            self.status = f"failed: {why}"
            return
        self.status = f"done: {summary.published} published, {summary.rejected} rejected"


def _panel(
    settings: Settings,
    bootstrap: str,
    worker: WorkerProcess,
    progress: Progress,
    indexed: int | None,
    feeder: _Feeder | None,
    note: str,
) -> Table:
    table = Table(title="adwatch — embedded stack (Ctrl-C to stop)", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rec = progress.records
    lag_detail = ", ".join(f"{k} {v}" for k, v in progress.lag.items())
    state = f"running (pid {worker.pid})" if worker.alive else f"exited ({worker.returncode})"
    rows: list[tuple[str, str]] = [
        ("broker", bootstrap + ("" if settings.kafka.bootstrap else "  (embedded Tansu)")),
        ("worker", state + (f", started {worker.starts}×" if worker.starts > 1 else "")),
        ("index", str(settings.index_path)),
        ("ingested", str(rec.get(topics.RAW, 0))),
        ("enriched", str(rec.get(topics.ENRICHED, 0))),
        ("dead-lettered", str(rec.get(topics.DEADLETTER, 0))),
        ("indexed", "–" if indexed is None else str(indexed)),
        ("consumer lag", f"{progress.total_lag}  ({lag_detail or 'none'})"),
    ]  # fmt: skip
    if feeder is not None:
        rows.append(("demo source", feeder.status))
    if progress.error:
        rows.append(("monitor", progress.error))
    if note:
        rows.append(("note", note))
    rows.append(
        ("try", 'adwatch search "new in town"   ·   adwatch search --phone "(213) 555-0195"')
    )
    for k, v in rows:
        table.add_row(k, v)
    return table


def up(
    demo: Annotated[bool, typer.Option(help="Publish the bundled synthetic demo ads.")] = True,
    ingest: Annotated[
        list[Path] | None, typer.Option("--ingest", help="Also publish this JSONL/CDR file.")
    ] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between panel updates.")] = 1.0,
) -> None:
    """Run everything embedded: broker, worker, index and demo source, until Ctrl-C."""
    settings = settings_or_exit()
    files = ([demo_file()] if demo else []) + list(ingest or [])
    for f in files:
        if not f.is_file():
            fail(f"no such file: {f}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    running = running_broker(settings)
    if running is not None and not settings.kafka.bootstrap:
        fail(
            f"adwatch up is already running on data dir {settings.data_dir} (broker {running}); "
            "stop it first, or use another ADWATCH_DATA_DIR"
        )
    try:
        with broker_for(settings) as bootstrap:
            ensure_topics(settings, bootstrap, topics.ALL)
            if not settings.kafka.bootstrap:
                write_runfile(settings, bootstrap)
            try:
                _run(settings, bootstrap, files, refresh)
            finally:
                remove_runfile(settings)
    except BrokerError as exc:
        fail(str(exc))


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (systemd, docker stop, kill) like Ctrl-C: stop in order."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _status_line(progress: Progress, indexed: int | None, worker: WorkerProcess) -> str:
    rec = progress.records
    state = "running" if worker.alive else f"exited({worker.returncode})"
    return (
        f"worker={state} ingested={rec.get(topics.RAW, 0)} enriched={rec.get(topics.ENRICHED, 0)}"
        f" dead-lettered={rec.get(topics.DEADLETTER, 0)} indexed={indexed or 0}"
        f" lag={progress.total_lag}"
    )


def _run(settings: Settings, bootstrap: str, files: list[Path], refresh: float) -> None:
    _interrupt_on_sigterm()
    worker = WorkerProcess(settings, bootstrap).start()
    monitor = TopicMonitor(settings, bootstrap).start()
    feeder = _Feeder(settings, bootstrap, files) if files else None
    if feeder is not None:
        feeder.start()
    # A terminal gets the live panel; a log (systemd, a pipe) gets a line when things change.
    interactive = console.is_terminal
    if not interactive:
        console.print(f"adwatch up: broker {bootstrap}, index {settings.index_path}")
    backoff, restart_at, note, last_line = 1.0, 0.0, "", ""
    live: Any = Live(console=console, refresh_per_second=4) if interactive else nullcontext()
    try:
        with live:
            while True:
                if not worker.alive:
                    now = time.monotonic()
                    if restart_at == 0.0:
                        restart_at = now + backoff
                        note = (
                            f"worker exited with {worker.returncode}; restarting in "
                            f"{backoff:.0f}s (see {worker.log_path})"
                        )
                        if not interactive:
                            console.print(note)
                    elif now >= restart_at:
                        worker.start()
                        backoff, restart_at = min(backoff * 2, RESTART_BACKOFF_MAX), 0.0
                        note = f"worker restarted ({worker.starts} starts in all)"
                progress, indexed = monitor.snapshot(), indexed_count(settings.index_path)
                if interactive:
                    live.update(
                        _panel(settings, bootstrap, worker, progress, indexed, feeder, note)
                    )
                else:
                    line = _status_line(progress, indexed, worker)
                    if feeder is not None:
                        line += f" demo={feeder.status!r}"
                    if line != last_line:
                        console.print(line, highlight=False)
                        last_line = line
                time.sleep(refresh)
    except KeyboardInterrupt:
        console.print("\nstopping: worker first (commits its work), then the broker…")
    finally:
        code = worker.stop()
        monitor.close()
        console.print(f"worker stopped (exit {code}); index kept at {settings.index_path}")


def register(app: typer.Typer) -> None:
    """Add `up` to the CLI."""
    app.command("up")(up)
