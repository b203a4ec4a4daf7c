"""`adwatch up`: broker + worker + index (+ demo source) on one machine, with a live panel."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from connectors.base import ConnectorError
from connectors.config import ConnectorSpec, load_connectors
from connectors.runner import ConnectorRunner
from connectors.service import open_runner
from pipeline import topics
from pipeline.alerts.store import ensure_subscription_topic
from pipeline.broker import BrokerError, broker_for, ensure_topics
from pipeline.cli.common import console, fail, settings_or_exit
from pipeline.deadletter_cap import clear_halt
from pipeline.monitor import Progress, TopicMonitor
from pipeline.runfile import remove_runfile, running_broker, write_runfile
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess

RESTART_BACKOFF_MAX = 30.0


def indexed_count(path: Path) -> int | None:
    """Ads in the SQLite index, read-only; None while it does not exist yet."""
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as c:
            return int(c.execute("SELECT count(*) FROM ads").fetchone()[0])
    except sqlite3.Error:
        return None


class _Sources(threading.Thread):
    """Runs the configured connectors (by default the synthetic demo stream) until stopped."""

    def __init__(
        self, settings: Settings, bootstrap: str, specs: list[ConnectorSpec], base_dir: Path
    ) -> None:
        super().__init__(name="adwatch-sources", daemon=True)
        self.settings, self.bootstrap = settings, bootstrap
        self.specs, self.base_dir = specs, base_dir
        self.stop_event = threading.Event()
        self.runner: ConnectorRunner | None = None
        self.error = ""

    def run(self) -> None:
        try:
            with open_runner(self.settings, self.specs, self.base_dir, self.bootstrap) as runner:
                self.runner = runner
                runner.run(self.stop_event)
        except Exception as exc:  # shown in the panel; the stack keeps running
            self.error = f"stopped: {exc}"

    @property
    def status(self) -> str:
        """One line per connector: what it published, its problems."""
        if self.error or self.runner is None:
            return self.error or "starting"
        return "; ".join(
            f"{s.name}: {s.published:,} published"
            + (f", {s.problems:,} problems" if s.problems else "")
            + (" (done)" if s.exhausted else "")
            for s in self.runner.stats
        )

    def stop(self) -> None:
        """Stop polling and wait until what was polled is delivered (or 30 s pass)."""
        self.stop_event.set()
        self.join(timeout=30)


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
    sources: _Sources | None,
    note: str,
    health: str,
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
        ("health", health),
        ("index", str(settings.index_path)),
        ("ingested", str(rec.get(topics.RAW, 0))),
        ("enriched", str(rec.get(topics.ENRICHED, 0))),
        ("scored", str(rec.get(topics.SCORED, 0))),
        ("dead-lettered", str(rec.get(topics.DEADLETTER, 0))),
        ("indexed", "–" if indexed is None else str(indexed)),
        ("consumer lag", f"{progress.total_lag}  ({lag_detail or 'none'})"),
    ]  # fmt: skip
    if sources is not None:
        rows.append(("sources", sources.status))
    if feeder is not None:
        rows.append(("--ingest", feeder.status))
    if progress.error:
        rows.append(("monitor", progress.error))
    if note:
        rows.append(("note", note))
    rows.append(("try", 'adwatch search "new in town"   ·   adwatch search --phone 702.555.0147'))
    for k, v in rows:
        table.add_row(k, v)
    return table


def up(
    sources: Annotated[
        bool,
        typer.Option(help="Run the configured connectors (default: the synthetic demo stream)."),
    ] = True,
    ingest: Annotated[
        list[Path] | None, typer.Option("--ingest", help="Also publish this JSONL/CDR file.")
    ] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between panel updates.")] = 1.0,
) -> None:
    """Run everything embedded: broker, worker, index and sources, until Ctrl-C.

    The sources are the connectors of the `connectors.config` file; without one, the
    synthetic demo stream (generated, non-explicit ads with fictional 555-01XX numbers).
    """
    settings = settings_or_exit()
    files = list(ingest or [])
    for f in files:
        if not f.is_file():
            fail(f"no such file: {f}")
    specs: list[ConnectorSpec] = []
    base_dir = Path.cwd()
    if sources:
        try:
            loaded, base_dir = load_connectors(settings.connectors.config)
        except ConnectorError as exc:
            fail(str(exc))
        specs = [s for s in loaded.connectors if s.enabled]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    running = running_broker(settings)
    if running is not None and not settings.kafka.bootstrap:
        fail(
            f"adwatch up is already running on data dir {settings.data_dir} (broker {running}); "
            "stop it first, or use another ADWATCH_DATA_DIR"
        )
    if not settings.kafka.bootstrap:  # the embedded broker: see single_record_batches
        kafka = settings.kafka.model_copy(
            update={"single_record_batches": True, "fetch_max_wait_ms": 100}
        )
        settings = settings.model_copy(update={"kafka": kafka})
    try:
        with broker_for(settings) as bootstrap:
            ensure_topics(settings, bootstrap, topics.ALL)
            ensure_subscription_topic(settings, bootstrap)
            if not settings.kafka.bootstrap:
                write_runfile(settings, bootstrap)
            try:
                _run(settings, bootstrap, files, specs, base_dir, refresh)
            finally:
                remove_runfile(settings)
    except BrokerError as exc:
        fail(str(exc))


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (systemd, docker stop, kill) like Ctrl-C: stop in order."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _health(worker: WorkerProcess) -> str:
    """The worker's liveness and readiness from its endpoint, and where the metrics are."""
    if not worker.alive:
        return "–"
    body = worker.health()
    if body is None:
        return "starting (no health endpoint yet)"
    live, ready = body.get("live", {}), body.get("ready", {})
    words = [ready.get("state", "?"), "live" if live.get("ok") else live.get("state", "?")]
    reasons = [*live.get("reasons", []), *ready.get("reasons", [])]
    text = ", ".join(words) + f"  ·  {worker.url}/metrics"
    return text + (f"  ({'; '.join(reasons)})" if reasons else "")


def _halt_note(worker: WorkerProcess) -> str:
    halt = worker.halted
    assert halt is not None
    return (
        f"worker HALTED, not restarted: {halt.reason}. Look at the dead letters "
        "(`adwatch status`, the dead-letter topic), fix the cause, then run `adwatch up` "
        "again; to process the records anyway, raise ADWATCH_MONITORING__DEADLETTER_MAX_RATIO "
        f"(log: {worker.log_path})"
    )


def _status_line(progress: Progress, indexed: int | None, worker: WorkerProcess) -> str:
    rec = progress.records
    state = "running" if worker.alive else f"exited({worker.returncode})"
    if worker.halted is not None:
        state = "halted"
    return (
        f"worker={state} ingested={rec.get(topics.RAW, 0)} enriched={rec.get(topics.ENRICHED, 0)}"
        f" scored={rec.get(topics.SCORED, 0)} dead-lettered={rec.get(topics.DEADLETTER, 0)}"
        f" indexed={indexed or 0}"
        f" lag={progress.total_lag}"
    )


def _run(
    settings: Settings,
    bootstrap: str,
    files: list[Path],
    specs: list[ConnectorSpec],
    base_dir: Path,
    refresh: float,
) -> None:
    _interrupt_on_sigterm()
    clear_halt(settings.data_dir)  # a person started the stack again: that is the decision
    worker = WorkerProcess(settings, bootstrap).start()
    monitor = TopicMonitor(settings, bootstrap).start()
    feeder = _Feeder(settings, bootstrap, files) if files else None
    if feeder is not None:
        feeder.start()
    sources = _Sources(settings, bootstrap, specs, base_dir) if specs else None
    if sources is not None:
        sources.start()
    # A terminal gets the live panel; a log (systemd, a pipe) gets a line when things change.
    interactive = console.is_terminal
    if not interactive:
        console.print(f"adwatch up: broker {bootstrap}, index {settings.index_path}")
    backoff, restart_at, note, last_line = 1.0, 0.0, "", ""
    live: Any = Live(console=console, refresh_per_second=4) if interactive else nullcontext()
    try:
        with live:
            while True:
                if not worker.alive and worker.halted is not None:
                    # The dead-letter cap stopped it: restarting would drain the stream
                    # into the dead-letter topic a window at a time. Say why and wait.
                    if not note.startswith("worker HALTED"):
                        note = _halt_note(worker)
                        if not interactive:
                            console.print(note, markup=False, highlight=False)
                elif not worker.alive:
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
                    health = _health(worker)
                    live.update(
                        _panel(
                            settings,
                            bootstrap,
                            worker,
                            progress,
                            indexed,
                            feeder,
                            sources,
                            note,
                            health,
                        )
                    )
                else:
                    line = _status_line(progress, indexed, worker)
                    if sources is not None:
                        line += f" sources={sources.status!r}"
                    if feeder is not None:
                        line += f" ingest={feeder.status!r}"
                    if line != last_line:
                        console.print(line, highlight=False)
                        last_line = line
                time.sleep(refresh)
    except KeyboardInterrupt:
        console.print("\nstopping: sources, then the worker (commits its work), then the broker…")
    finally:
        if sources is not None:
            sources.stop()
        code = worker.stop()
        monitor.close()
        console.print(f"worker stopped (exit {code}); index kept at {settings.index_path}")


def register(app: typer.Typer) -> None:
    """Add `up` to the CLI."""
    app.command("up")(up)
