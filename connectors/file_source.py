"""Import ad files — RawAd JSONL or Memex CDR v2/v3, plain or gzipped — a batch per poll.

    paths, globs ─> files ─> read_ads() ─> LineResult ─ ok ──────> RawAd (≤ batch lines a poll)
                                               ├─ bad line ──> Problem  path:line  reason
                                               └─ damaged ───> Problem  path  "truncated gzip
                                                               after 1,234 ads: …" (fatal)

Resuming without skipping: per file, the state store keeps the last line whose ad is out
(cursor key = the file's path, value = line number, ``"<n> eof"`` once the file was read to
its end). The runner publishes what a poll returned before it polls again, so the lines
returned by poll *k* are saved at the start of poll *k + 1* — never earlier. A crash in
between re-reads those lines on restart (at least once; the runner drops unchanged ads and
the index overwrites by key) and never skips one. A restarted import re-reads a file from
its start, skipping the lines up to the cursor without returning or reporting them again
(`read_ads` cannot seek, so the first poll after a restart parses those lines; they do
not count towards ``batch``), and passes over finished files without opening them.
`close()` does not save: it cannot know whether the last poll's ads were delivered.

A damaged file is fatal for that file only: the ads before the damage are returned, the
import moves on to the next file, and the file's cursor stays at its last good line.
"""

from __future__ import annotations

import glob
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import ConnectorContext, ConnectorError, Problem, parse_options
from connectors.files import TRUNCATED, Format, LineResult, read_ads
from schemas import RawAd

_EOF = " eof"


class FileOptions(BaseModel):
    """Options of a ``files`` connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)  # files or globs
    format: Format = "auto"
    source: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[^\s:]+$"
    )  # source of CDR ads and of JSONL lines without one; default: the connector's name
    batch: int = Field(default=500, ge=1, le=100_000)  # lines per poll

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def expand_paths(base_dir: Path, patterns: list[str]) -> tuple[list[Path], list[str]]:
    """The files ``patterns`` name, and the patterns that matched no file.

    Relative patterns start at ``base_dir``; glob matches are sorted, duplicates dropped.
    """
    files: dict[Path, None] = {}
    unmatched: list[str] = []
    for pattern in patterns:
        full = (base_dir / pattern).absolute()
        if full.is_file() or not glob.has_magic(pattern):
            matches = [full] if full.is_file() else []
        else:
            matches = sorted(
                p for p in map(Path, glob.glob(str(full), recursive=True)) if p.is_file()
            )
        if not matches:
            unmatched.append(pattern)
        files.update(dict.fromkeys(matches))
    return list(files), unmatched


def parse_cursor(value: str) -> tuple[int, bool]:
    """``"<line>"`` or ``"<line> eof"`` -> (line, whether the file was finished)."""
    line, eof = (value[: -len(_EOF)], True) if value.endswith(_EOF) else (value, False)
    number = int(line)
    if number < 0:
        raise ValueError(value)
    return number, eof


def damage_reason(result: LineResult, ads_read: int) -> str:
    """Why reading stopped early, with how many ads of the file came before the damage."""
    error = result.error or "damaged"
    if result.path.suffix == ".gz":
        what = "truncated gzip" if "truncated" in error else "corrupt gzip"
    else:
        what = "unreadable file"
    return f"{what} after {ads_read:,} ads: {error}"


def _field(kind: str | None) -> str | None:
    for prefix in ("invalid record: ", "invalid CDR: "):
        if kind and kind.startswith(prefix) and kind != prefix + "record":
            return kind[len(prefix) :]
    return None


@dataclass
class _Reading:
    """The file being read."""

    path: Path
    key: str
    resume_after: int  # lines up to here were returned before this run
    results: Generator[LineResult, None, None]
    last_line: int = 0  # the last line handed out (or the resume point)
    ads_read: int = 0  # valid ads seen in this file, skipped or not


class FileConnector:
    """A finite source: the ads of files, at most ``batch`` lines per poll."""

    def __init__(self, name: str, options: FileOptions, ctx: ConnectorContext) -> None:
        self.name = name
        self.options = options
        self.source = options.source or name
        self._ctx = ctx
        self._files: list[Path] = []
        self._next_file = 0
        self._reading: _Reading | None = None
        self._unsaved: dict[str, str] = {}  # cursors of lines the last poll returned
        self._opened = False

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, Any], ctx: ConnectorContext
    ) -> FileConnector:
        """Build from a connectors-file entry; raises `ConnectorError` on bad options."""
        return cls(name, parse_options(FileOptions, name, options), ctx)

    @property
    def exhausted(self) -> bool:
        """True once every file was read and the positions of all returned lines saved."""
        return (
            self._opened
            and self._reading is None
            and self._next_file >= len(self._files)
            and not self._unsaved
        )

    @property
    def backlog(self) -> bool:
        """More lines are ready now: the runner polls again without waiting."""
        return not self.exhausted

    def open(self) -> None:
        """Find the files; raises `ConnectorError` if a path or glob matches no file."""
        if self._opened:
            return
        files, unmatched = expand_paths(self._ctx.base_dir, self.options.paths)
        if unmatched:
            listed = ", ".join(repr(p) for p in unmatched)
            raise ConnectorError(
                f"connector {self.name!r}: paths: no file matches {listed}"
                f" (relative to {self._ctx.base_dir})"
            )
        self._files, self._next_file, self._opened = files, 0, True

    def poll(self) -> list[RawAd]:
        """The next ads: at most ``batch`` lines (bad lines are reported, not returned)."""
        self.open()
        for key, value in self._unsaved.items():  # returned by the previous poll: published
            self._ctx.state.set_cursor(self.name, key, value)
        self._unsaved = {}
        ads: list[RawAd] = []
        taken = 0
        while taken < self.options.batch:
            reading = self._reading or self._start_next()
            if reading is None:
                break
            result = self._next_result(reading)
            if result is None or result.line_no <= reading.resume_after:
                continue
            taken += 1
            reading.last_line = result.line_no
            self._unsaved[reading.key] = str(result.line_no)
            if result.ad is not None:
                ads.append(result.ad)
            else:
                where = f"{result.path}:{result.line_no}"
                self._ctx.report(
                    Problem(
                        self.name,
                        where,
                        result.error or "bad line",
                        _field(result.kind),
                        original=result.raw,
                        line=result.line_no,
                        details=tuple(result.details),
                    )
                )
        return ads

    def close(self) -> None:
        """Close the open file; safe to call twice. A later poll starts from saved cursors."""
        if self._reading is not None:
            self._reading.results.close()
            self._reading = None
        self._unsaved = {}
        self._opened = False

    # -- internals ----------------------------------------------------------------------
    def _start_next(self) -> _Reading | None:
        while self._next_file < len(self._files):
            path = self._files[self._next_file]
            self._next_file += 1
            key = str(path)
            saved = self._ctx.state.cursor(self.name, key)
            line, eof = 0, False
            if saved is not None:
                try:
                    line, eof = parse_cursor(saved)
                except ValueError:
                    self._report(
                        str(path),
                        f"saved position {saved!r} not understood; reading from the start",
                    )
            if eof:
                continue
            results = _lines(path, self.options.format, self.source)
            self._reading = _Reading(path, key, line, results, last_line=line)
            return self._reading
        return None

    def _next_result(self, reading: _Reading) -> LineResult | None:
        """The file's next line, or None once it ended (cleanly or not) and was closed."""
        try:
            result = next(reading.results, None)
        except OSError as exc:  # opened lazily: the file went away since open()
            self._report(str(reading.path), f"cannot read: {exc.strerror or exc}", fatal=True)
            result = None
        else:
            if result is None:  # clean end: save "eof" with this poll's lines, or now
                value = f"{reading.last_line}{_EOF}"
                if reading.key in self._unsaved:
                    self._unsaved[reading.key] = value
                else:
                    self._ctx.state.set_cursor(self.name, reading.key, value)
            elif result.kind == TRUNCATED:
                self._report(str(reading.path), damage_reason(result, reading.ads_read), fatal=True)
                result = None
            elif result.ok:
                reading.ads_read += 1
        if result is None:
            reading.results.close()
            self._reading = None
        return result

    def _report(
        self, where: str, reason: str, field: str | None = None, *, fatal: bool = False
    ) -> None:
        self._ctx.report(Problem(self.name, where, reason, field, fatal))


def _lines(path: Path, fmt: Format, source: str) -> Generator[LineResult, None, None]:
    # A generator of our own, so closing it closes the file read_ads opened.
    yield from read_ads(path, fmt, source)
