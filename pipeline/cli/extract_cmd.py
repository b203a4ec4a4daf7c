"""``adwatch extract [PATH|-]``: batch enrichment without Kafka, JSONL ads in, JSONL out.

Streams line by line: each ad is written as soon as it is analysed, in input order. A bad
line is reported on stderr as ``PATH:LINE: reason`` and skipped; the run goes on.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer

from pipeline.analysis import analyze, check_region, json_lines, parse_input
from pipeline.cli.common import fail, settings_or_exit, warn
from pipeline.errors import InvalidRecord
from pipeline.indicators.assess import IndicatorSetup, IndicatorSetupError, indicator_setup

T = TypeVar("T")
STDIN = "-"
_READ_ERRORS = (EOFError, OSError, zlib.error)  # truncated or corrupt .gz, I/O errors

HELP = (
    "Extract phones, entities and flags from ads in a JSONL file, without Kafka.\n\n"
    "Each input line is a JSON object with `id` (else `source` and `source_id`, else "
    "PATH:LINE is used), `text` or `title` and `body`, an optional `region` (ISO country "
    "whose numbers have no country code; default --region) and an optional `location`. "
    "Each output line has `id`, `region`, `location`, `chars`, `phones`, `entities`, "
    "`flags` and `risk_score`; offsets point into `text`, or into title and body joined by "
    "a blank line.\n\n"
    "Bad lines are reported on stderr as PATH:LINE: reason and skipped. Exit code 0 when "
    "at least one ad was written, 1 when none could be, 2 for usage errors."
)


@dataclass
class ExtractSummary:
    """Counts of one ``adwatch extract`` run."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None  # why reading stopped early (truncated .gz …)


def check_input(path: str) -> None:
    """Exit with code 2 and a clear message when ``path`` cannot be read."""
    if path == STDIN:
        return
    p = Path(path)
    if not p.exists():
        fail(f"{path}: no such file")
    if p.is_dir():
        fail(f"{path}: is a directory, give a JSONL file")
    if not os.access(p, os.R_OK):
        fail(f"{path}: not readable (permission denied)")


class InputUnreadable(Exception):
    """Reading stopped part way: a truncated or corrupt ``.gz``, or an I/O error."""


@contextmanager
def input_lines(path: str) -> Iterator[Iterator[bytes]]:
    """Yield the lines (bytes) of ``path``, of standard input for ``-``; ``.gz`` is unzipped.

    A failure while reading raises `InputUnreadable` naming the last line read.
    """
    if path == STDIN:
        yield _guarded(typer.get_binary_stream("stdin"), label(path))
        return
    with Path(path).open("rb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield _guarded(unzipped, path)
        else:
            yield _guarded(raw, path)


def _guarded(lines: Iterable[bytes], name: str) -> Iterator[bytes]:
    count = 0
    try:
        for line in lines:
            yield line
            count += 1
    except _READ_ERRORS as exc:
        what = "truncated" if isinstance(exc, EOFError) else f"unreadable ({exc})"
        raise InputUnreadable(f"{name}: input is {what} after line {count}") from exc


def resolve_region(region: str | None) -> str:
    """The checked ``--region``, else the configured default region; exits on a bad one."""
    if region is None:
        return settings_or_exit().pipeline.default_region
    try:
        return check_region(region)
    except ValueError as exc:
        fail(f"--region: {exc}")


def resolve_indicators() -> IndicatorSetup:
    """The configured lexicons and weights; exits with the reason when they are unusable."""
    try:
        return indicator_setup(settings_or_exit().indicators)
    except IndicatorSetupError as exc:
        fail(str(exc))


def label(path: str) -> str:
    """How ``path`` is named in messages and fallback ids."""
    return "stdin" if path == STDIN else path


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that could not be used, and why."""

    where: str  # PATH:LINE
    error: InvalidRecord

    def __str__(self) -> str:
        return f"{self.where}: {self.error}"


def parsed_lines(
    lines: Iterable[bytes], name: str, parse: Callable[[dict[str, Any], str], T]
) -> Iterator[T | Rejected]:
    """``parse(record, "NAME:LINE")`` for each JSON line, or the line's `Rejected`."""
    for line_no, item in json_lines(lines):
        where = f"{name}:{line_no}"
        try:
            if isinstance(item, InvalidRecord):
                raise item
            parsed: T | Rejected = parse(item, where)
        except InvalidRecord as exc:
            parsed = Rejected(where, exc)
        yield parsed


def read_valid(path: str, parse: Callable[[dict[str, Any], str], T]) -> tuple[list[T], int]:
    """Every record of ``path`` that ``parse`` accepts, and how many lines were skipped.

    Skipped lines are reported on stderr as ``PATH:LINE: reason``; an unreadable rest of
    the file is reported too and counts as one skipped line.
    """
    records: list[T] = []
    skipped = 0
    with input_lines(path) as lines:
        try:
            for item in parsed_lines(lines, label(path), parse):
                if isinstance(item, Rejected):
                    skipped += 1
                    warn(str(item))
                else:
                    records.append(item)
        except InputUnreadable as exc:
            skipped += 1
            warn(f"{exc}; the rest is skipped")
    return records, skipped


def extract_lines(
    lines: Iterator[bytes],
    out: IO[bytes],
    name: str,
    default_region: str,
    with_text: bool = False,
    setup: IndicatorSetup | None = None,
) -> ExtractSummary:
    """Analyse every JSON line of ``lines`` and write one JSON line per ad to ``out``."""
    summary = ExtractSummary()
    exclude = None if with_text else {"text"}
    try:
        for ad in parsed_lines(lines, name, parse_input):
            summary.read += 1
            if isinstance(ad, Rejected):
                summary.rejected += 1
                summary.reasons[ad.error.kind] += 1
                warn(str(ad))
                continue
            if setup is None:
                result = analyze(ad, default_region)
            else:
                result = analyze(ad, default_region, setup.lexicons, setup.weights)
            if with_text:
                result = result.model_copy(update={"text": ad.text})
            out.write(result.model_dump_json(exclude=exclude).encode("utf-8") + b"\n")
            summary.written += 1
    except InputUnreadable as exc:
        summary.stopped = f"{exc}; the rest is lost"
    return summary


def extract(
    path: Annotated[
        str,
        typer.Argument(
            help="JSONL file of ads (.gz allowed), or - for standard input", metavar="PATH"
        ),
    ] = STDIN,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="XX",
            help="ISO country of ads without `region` (default: ADWATCH_PIPELINE__DEFAULT_REGION"
            ", else US)",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write to this file instead of stdout", dir_okay=False),
    ] = None,
    with_text: Annotated[
        bool, typer.Option("--text", help="also write each ad's analysed `text`")
    ] = False,
) -> None:
    """Extract phones, entities and flags from JSONL ads."""
    default_region = resolve_region(region)
    setup = resolve_indicators()
    check_input(path)
    if output is not None and path != STDIN and output.resolve() == Path(path).resolve():
        fail(f"--output {output} is the input file; write to another file")
    name = label(path)
    with input_lines(path) as lines, _output(output) as out:
        try:
            summary = extract_lines(lines, out, name, default_region, with_text, setup)
            out.flush()
        except BrokenPipeError:  # `adwatch extract … | head`: the reader has enough
            _silence_stdout()
            raise typer.Exit(0) from None
        except OSError as exc:  # disk full and the like, on the output side
            fail(f"cannot write output: {exc.strerror or exc}", code=1)
    _report(summary, name)
    raise typer.Exit(0 if summary.written else 1)


@contextmanager
def _output(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield typer.get_binary_stream("stdout")
        return
    try:
        handle = path.open("wb")
    except OSError as exc:
        fail(f"--output {path}: cannot write ({exc.strerror or exc})")
    with handle:
        yield handle


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (tests)


def _report(summary: ExtractSummary, name: str) -> None:
    if summary.stopped:
        warn(f"error: {summary.stopped}")
    line = f"read {summary.read:,}, written {summary.written:,}, rejected {summary.rejected:,}"
    if summary.reasons:
        line += " (" + ", ".join(f"{k}: {n:,}" for k, n in summary.reasons.most_common(3)) + ")"
    warn(line)
    if not summary.written:
        warn(f"error: no valid ad in {name}" + ("" if summary.read else " (no lines)"))


def register(app: typer.Typer) -> None:
    """Add ``adwatch extract`` to ``app``."""
    app.command("extract", help=HELP)(extract)
