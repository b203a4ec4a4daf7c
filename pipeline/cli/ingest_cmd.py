"""``adwatch ingest PATH…``: publish ad files to ``ads.raw``, bad lines to ``ads.deadletter``.

Bad input loses nothing: every line that is not a valid ad is reported as ``path:line:
reason`` and published, byte for byte, to the dead-letter topic with Kafka Connect style
error headers (topic ``file:PATH``, partition -1, offset = line number, stage ``ingest``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from connectors.base import ConnectorError, Problem
from connectors.files import TRUNCATED, Format, LineResult, read_ads
from connectors.producer import AdProducer, BrokerUnreachable, DeliveryError
from connectors.site_config import SiteConfig, load_site_config
from connectors.warc import read_warc
from pipeline.cli.common import broker_address, console, err_console, fail, settings_or_exit
from pipeline.deadletter import error_headers
from pipeline.errors import InvalidRecord
from pipeline.settings import Settings

STAGE = "ingest"
MAX_SHOWN = 20
PROGRESS_EVERY = 1_000  # lines between progress callbacks

ProgressCallback = Callable[[Path, int, int], None]  # (path, bytes read, file size)
RejectCallback = Callable[[LineResult], None]


class FileFormat(StrEnum):
    """``--format`` choices."""

    auto = "auto"
    jsonl = "jsonl"
    cdr = "cdr"


@dataclass
class IngestSummary:
    """What one ingest run read, published, rejected and got acknowledged."""

    files: int = 0
    lines: int = 0
    published: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # first MAX_SHOWN "path:line: reason"
    delivered: int = 0
    delivery_failed: int = 0
    delivery_errors: list[str] = field(default_factory=list)
    aborted: str | None = None  # why publishing stopped early, if it did

    @property
    def exit_code(self) -> int:
        """1 if any record was not delivered, 2 if nothing was read, else 0."""
        if self.delivery_failed or self.aborted:
            return 1
        return 0 if self.lines else 2


def ingest_files(
    paths: Sequence[Path],
    settings: Settings,
    bootstrap: str,
    fmt: Format = "auto",
    source: str | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    on_reject: RejectCallback | None = None,
    sites: Sequence[SiteConfig] = (),
    on_problem: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Publish every ad in ``paths`` and dead-letter every bad line; return the counts.

    WARC files (``.warc``, ``.warc.gz``) are read through ``sites``: their HTML responses
    whose URL a site config owns become ads; a page that fails to parse is counted as
    rejected and shown through ``on_problem`` (a page has no line to dead-letter).

    Raises `BrokerUnreachable` if no broker answers at ``bootstrap``. Delivery failures do
    not raise: they are counted in the summary (its ``exit_code`` is then 1).
    """
    summary = IngestSummary(files=len(paths))
    producer = AdProducer(settings, bootstrap)
    try:
        with producer:
            try:
                for path in paths:
                    if is_warc(path):
                        _ingest_warc(path, producer, summary, sites, on_problem)
                    else:
                        _ingest_one(path, producer, summary, fmt, source, on_progress, on_reject)
            except DeliveryError as exc:  # the broker refused a send: stop reading
                summary.aborted = str(exc)
    except DeliveryError:
        pass  # counted below from the producer's final tallies
    summary.delivered = producer.delivered
    summary.delivery_failed = producer.failed
    summary.delivery_errors = [repr(e) for e in producer.errors]
    return summary


def _ingest_one(
    path: Path,
    producer: AdProducer,
    summary: IngestSummary,
    fmt: Format,
    source: str | None,
    on_progress: ProgressCallback | None,
    on_reject: RejectCallback | None,
) -> None:
    size = path.stat().st_size
    if on_progress:
        on_progress(path, 0, size)
    for n, result in enumerate(read_ads(path, fmt, source), 1):
        if result.ad is not None:
            summary.lines += 1
            producer.publish(result.ad)
            summary.published += 1
        else:
            summary.lines += result.kind != TRUNCATED
            _reject(result, producer, summary)
            if on_reject:
                on_reject(result)
        if on_progress and n % PROGRESS_EVERY == 0:
            on_progress(path, result.file_pos, size)
    if on_progress:
        on_progress(path, size, size)


def _sites(paths: Sequence[Path], configs: Sequence[Path]) -> list[SiteConfig]:
    """The site configs WARC files are read with; a WARC without one is a usage error."""
    if any(is_warc(p) for p in paths) and not configs:
        fail(
            "WARC files need --site SITE.yaml: the site config that says which pages are "
            "ads and how to read them (see connectors/sites/example.yaml)"
        )
    sites = []
    for config in configs:
        try:
            sites.append(load_site_config(config))
        except ConnectorError as exc:
            fail(str(exc))
    missing = [str(c) for c, s in zip(configs, sites, strict=True) if s.url_pattern is None]
    if missing:
        fail(f"site config without url_pattern (needed for WARC): {', '.join(missing)}")
    return sites


def is_warc(path: Path) -> bool:
    """Whether ``path`` is named like a WARC archive."""
    return path.name.lower().endswith((".warc", ".warc.gz"))


def _ingest_warc(
    path: Path,
    producer: AdProducer,
    summary: IngestSummary,
    sites: Sequence[SiteConfig],
    on_problem: Callable[[str], None] | None,
) -> None:
    def report(problem: Problem) -> None:
        summary.rejected += 1
        summary.reasons["damaged WARC" if problem.fatal else "page not parsed"] += 1
        if problem.fatal:
            summary.aborted = summary.aborted or f"{path}: {problem.reason}"
        if len(summary.samples) < MAX_SHOWN:
            summary.samples.append(problem.describe())
        if on_problem:
            on_problem(problem.describe())

    for ad in read_warc(path, sites, report, source="ingest"):
        summary.lines += 1
        producer.publish(ad)
        summary.published += 1


def _reject(result: LineResult, producer: AdProducer, summary: IngestSummary) -> None:
    reason = result.error or "invalid line"
    exc = InvalidRecord(f"line {result.line_no}: {reason}", result.details)
    headers = error_headers(
        topic=f"file:{result.path}",
        partition=-1,
        offset=result.line_no,
        stage=STAGE,
        exc=exc,
        details=result.details,
    )
    producer.deadletter(result.raw, None, headers)
    summary.rejected += 1
    summary.reasons[result.kind or reason] += 1
    if len(summary.samples) < MAX_SHOWN:
        summary.samples.append(result.describe())


def check_paths(paths: Sequence[Path]) -> list[str]:
    """Problems that stop ``paths`` from being read, one readable line each."""
    problems = []
    for path in paths:
        if not path.exists():
            problems.append(f"{path}: no such file")
        elif path.is_dir():
            problems.append(f"{path}: is a directory, give the files in it")
        elif not os.access(path, os.R_OK):
            problems.append(f"{path}: not readable (permission denied)")
    return problems


def ingest(
    paths: list[Path] = typer.Argument(
        ..., help="JSONL or Memex CDR files (optionally .gz), WARC archives", show_default=False
    ),
    fmt: FileFormat = typer.Option(
        FileFormat.auto, "--format", help="auto decides per line: CDR if it has _id and content"
    ),
    source: str | None = typer.Option(
        None, "--source", help="source name for CDR ads (default 'cdr')"
    ),
    bootstrap: str | None = typer.Option(
        None,
        "--bootstrap",
        help="broker host:port (default: ADWATCH_KAFKA__BOOTSTRAP, else a running `adwatch up`)",
    ),
    site: list[Path] | None = typer.Option(
        None, "--site", help="site config (YAML) that reads a WARC's pages; repeat for several"
    ),
) -> None:
    """Publish ads from files to ads.raw; bad lines go to ads.deadletter, nothing is lost.

    The broker is --bootstrap, else ADWATCH_KAFKA__BOOTSTRAP, else the embedded broker of an
    `adwatch up` running on the same data directory. Exit code 0 when lines were read and
    delivered, 1 when the broker could not be reached or any record was not delivered, 2 for
    usage errors (nothing could be read).
    """
    problems = check_paths(paths)
    if problems:
        fail("cannot read input:\n  " + "\n  ".join(problems))
    if source is not None and (not source or any(c.isspace() or c == ":" for c in source)):
        fail(f"--source {source!r} must be non-empty, without spaces or ':'")
    sites = _sites(paths, site or [])
    settings = settings_or_exit()
    address = broker_address(bootstrap, settings)
    with _progress() as (on_progress, printer):
        shown = [0]

        def on_reject(result: LineResult) -> None:
            shown[0] += 1
            if shown[0] <= MAX_SHOWN:
                printer(result.describe())

        try:
            summary = ingest_files(
                paths,
                settings,
                address,
                fmt.value,
                source,
                on_progress,
                on_reject=on_reject,
                sites=sites,
                on_problem=printer,
            )
        except BrokerUnreachable as exc:
            fail(f"{exc}\n  is `adwatch up` running? It prints its broker address.", 1)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


@contextmanager
def _progress() -> Iterator[tuple[ProgressCallback | None, Callable[[str], None]]]:
    """Show a byte progress bar per file on a terminal; yield its callback and a printer."""
    if not err_console.is_terminal:
        yield (
            None,
            lambda line: err_console.print(line, highlight=False, markup=False, soft_wrap=True),
        )
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )
    tasks: dict[Path, TaskID] = {}

    def update(path: Path, done: int, total: int) -> None:
        if path not in tasks:
            tasks[path] = progress.add_task(path.name, total=total)
        progress.update(tasks[path], completed=done)

    with progress:
        yield (
            update,
            lambda line: progress.console.print(
                line, highlight=False, markup=False, soft_wrap=True
            ),
        )


def _print_summary(s: IngestSummary) -> None:
    if s.rejected > MAX_SHOWN:
        err_console.print(f"... and {s.rejected - MAX_SHOWN:,} more", highlight=False)
    console.print(
        f"files: {s.files}  lines read: {s.lines:,}  published: {s.published:,}  "
        f"rejected (dead-lettered): {s.rejected:,}",
        highlight=False,
    )
    for reason, count in s.reasons.most_common(5):
        console.print(f"  {count:>8,}  {reason}", highlight=False, markup=False)
    console.print(
        f"delivery: {s.delivered:,} acknowledged, {s.delivery_failed:,} failed", highlight=False
    )
    if s.aborted:
        err_console.print(f"error: publishing stopped early: {s.aborted}", markup=False)
    if s.delivery_failed:
        err_console.print(
            f"error: {s.delivery_failed:,} records were not delivered; first errors:",
            markup=False,
        )
        for error in s.delivery_errors[:3]:
            err_console.print(f"  {error}", markup=False, highlight=False, soft_wrap=True)
    if not s.lines:
        err_console.print("error: nothing to ingest, the files have no lines", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``adwatch ingest`` to ``app``."""
    app.command("ingest")(ingest)
