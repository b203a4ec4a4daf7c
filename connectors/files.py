"""Read ads from files, line by line: RawAd JSONL or Memex CDR JSONL, plain or gzipped.

Pure reading, no Kafka. Every non-blank line yields one `LineResult` holding either a
validated `RawAd` or a readable error, so a caller can publish the good lines and
dead-letter the bad ones with their original bytes::

    path ─> lines (bytes) ─> UTF-8 ─> json.loads ─> CDR? ─yes─> cdr_to_fields ─┐
                                                    └──no───────────────────────┴─> RawAd
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, Literal

from pipeline.errors import InvalidRecord
from pipeline.validate import json_object, raw_ad
from schemas import RawAd
from schemas.types import as_utc

Format = Literal["auto", "jsonl", "cdr"]
FORMATS: tuple[Format, ...] = ("auto", "jsonl", "cdr")
CDR_SOURCE = "cdr"
TRUNCATED = "truncated or corrupt file"  # kind of the last result of a damaged file
_BOM = b"\xef\xbb\xbf"
_EPOCH_MS_ABOVE = 100_000_000_000  # 1e11 s is the year 5138; 1e11 ms is 1973


@dataclass(frozen=True, slots=True)
class LineResult:
    """One non-blank line of a file: a validated ad, or why the line was rejected.

    ``raw`` is the line's original bytes without the line ending. ``kind`` names the class
    of error (``"not JSON"``, ``"invalid record: body"`` …) for counting; ``error`` is the
    readable reason and ``details`` pydantic's errors as JSON-safe dicts. ``file_pos`` is
    how many bytes of the file on disk (compressed, for ``.gz``) had been read.
    """

    path: Path
    line_no: int
    raw: bytes
    ad: RawAd | None = None
    error: str | None = None
    kind: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    file_pos: int = 0

    @property
    def ok(self) -> bool:
        """Whether the line gave a valid ad."""
        return self.ad is not None

    def describe(self) -> str:
        """``path:line: reason``, as shown to a user."""
        return f"{self.path}:{self.line_no}: {self.error}"


class LineError(ValueError):
    """A line that cannot become a `RawAd`: ``kind`` for counting, message for people."""

    def __init__(self, kind: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.kind = kind
        self.details = details or []


def read_ads(path: Path, fmt: Format = "auto", source: str | None = None) -> Iterator[LineResult]:
    """Yield one `LineResult` per non-blank line of ``path``.

    ``fmt`` is ``"jsonl"`` (each line a `RawAd` object), ``"cdr"`` (Memex CDR v2/v3) or
    ``"auto"`` (per line: an object with ``_id`` and ``raw_content`` or ``extracted_text``
    is CDR). ``source`` names the source of CDR ads (default ``"cdr"``) and is the default
    ``source`` of RawAd lines that have none. Files ending in ``.gz`` are decompressed; a
    truncated or corrupt file ends with one error result instead of an exception. Opening
    the file may raise `OSError` (missing, unreadable): callers check paths first.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    raw_file = path.open("rb")
    with raw_file:
        stream: Iterable[bytes] = raw_file
        if path.suffix == ".gz":
            stream = gzip.GzipFile(fileobj=raw_file)
        yield from _read_stream(path, stream, raw_file, fmt, source)


def _read_stream(
    path: Path, stream: Iterable[bytes], raw_file: IO[bytes], fmt: Format, source: str | None
) -> Iterator[LineResult]:
    compressed = stream is not raw_file
    pos = 0
    line_no = 0
    try:
        for line in stream:
            line_no += 1
            pos = raw_file.tell() if compressed else pos + len(line)
            if line_no == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                ad = parse_line(line, fmt, source)
            except LineError as rej:
                yield LineResult(path, line_no, line, None, str(rej), rej.kind, rej.details, pos)
            else:
                yield LineResult(path, line_no, line, ad, file_pos=pos)
    except (EOFError, OSError, zlib.error) as exc:
        what = "truncated" if isinstance(exc, EOFError) else f"unreadable ({exc})"
        where = f"after line {line_no}" if line_no else "before the first line"
        message = f"file is {what} {where}; later lines are lost"
        yield LineResult(path, line_no + 1, b"", None, message, TRUNCATED)


def parse_line(line: bytes, fmt: Format = "auto", source: str | None = None) -> RawAd:
    """Parse one line (without its line ending) into a `RawAd`, or raise `LineError`."""
    try:
        data = json_object(line)
        if fmt == "cdr" or (fmt == "auto" and is_cdr(data)):
            fields = cdr_to_fields(data, source or CDR_SOURCE)
        else:
            fields = data
            if source is not None and "source" not in fields:
                fields = {**fields, "source": source}
        return raw_ad(fields)
    except InvalidRecord as exc:
        raise LineError(exc.kind, str(exc), exc.details) from None


def is_cdr(data: dict[str, Any]) -> bool:
    """Whether a JSON object looks like a Memex CDR document."""
    return "_id" in data and ("raw_content" in data or "extracted_text" in data)


def cdr_to_fields(doc: dict[str, Any], source: str = CDR_SOURCE) -> dict[str, Any]:
    """Map a Memex CDR v2/v3 document to `RawAd` fields (not yet validated)."""
    if "_id" not in doc:
        raise LineError("invalid CDR: _id", "CDR document has no _id")
    source_id = doc["_id"]
    if isinstance(source_id, int) and not isinstance(source_id, bool):
        source_id = str(source_id)
    meta = doc.get("extracted_metadata")
    title = meta.get("title") if isinstance(meta, dict) else None
    body = doc.get("extracted_text")
    raw_content = doc.get("raw_content")
    if not (isinstance(body, str) and body.strip()) and isinstance(raw_content, str):
        page_title, body = html_to_text(raw_content)
        title = title if isinstance(title, str) and title.strip() else page_title
    fields: dict[str, Any] = {"source": source, "source_id": source_id, "url": doc.get("url")}
    if title is not None:
        fields["title"] = title
    if body is not None:
        fields["body"] = body
    stamp = doc.get("timestamp_crawl", doc.get("timestamp"))
    if stamp is not None:
        fields["scraped_at"] = parse_timestamp(stamp)
    cdr = {k: doc[k] for k in ("team", "crawler", "content_type") if doc.get(k) is not None}
    if cdr:
        fields["extra"] = {"cdr": cdr}
    return fields


def parse_timestamp(value: object) -> datetime:
    """Parse a CDR crawl time: ISO 8601 text, or epoch seconds or milliseconds."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            value = int(stripped)
        else:
            try:
                parsed = datetime.fromisoformat(stripped)
            except ValueError:
                raise LineError(
                    "invalid CDR: timestamp", f"bad crawl timestamp {value!r}"
                ) from None
            return as_utc(parsed)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_ABOVE else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise LineError("invalid CDR: timestamp", f"bad crawl timestamp {value!r}")


# Tags whose text is not page content; <title> is kept apart as the page title.
_SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities are unescaped for us
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str | None, str]:
    """Visible text of an HTML page, one line per block, and its ``<title>`` if any.

    Script and style content are dropped, entities unescaped, runs of spaces
    collapsed and empty lines removed.
    """
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    title = " ".join("".join(parser.title).split()) or None
    return title, "\n".join(line for line in lines if line)
