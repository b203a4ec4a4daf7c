"""Import ad pages from WARC archives through the same site configs the crawler uses.

    WARC file (gzipped or not) ─> records ─> a response, HTML, 200, whose URL a site owns?
        ├─ no ──> skipped and counted (an archive holds many unrelated pages)
        └─ yes ─> parse_ad_page ─> RawAd          PageError ─> Problem(url, field)
    damage (a cut gzip member, a short record, unreadable bytes)
        ─> one fatal Problem saying how many ads were imported before it;
           the ads before the damage are still yielded, later records are lost

warcio reads a truncated archive without complaint (it just stops), so damage is detected
here: a record shorter than its Content-Length, a gzip member without its end, or bytes
left over after the last record that could be read.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from warcio.archiveiterator import ArchiveIterator

from connectors.base import ConnectorContext, ConnectorError, Problem, Report, parse_options
from connectors.http import charset
from connectors.site import HTML_TYPES, PageError, parse_ad_page
from connectors.site_config import SiteConfig, load_site_config
from schemas import RawAd

MAX_PAGE_BYTES = 5_000_000


@dataclass(slots=True)
class WarcStats:
    """What reading WARC files found (accumulates across files)."""

    records: int = 0
    ads: int = 0
    skipped: int = 0  # not a response, not HTML, not 200, or no site owns the URL
    problems: int = 0


@dataclass(frozen=True, slots=True)
class _Page:
    site: SiteConfig
    url: str
    html: str
    fetched_at: datetime
    too_large: bool = False


def read_warc(
    path: Path,
    sites: Sequence[SiteConfig],
    report: Report,
    *,
    source: str = "warc",
    stats: WarcStats | None = None,
) -> Iterator[RawAd]:
    """Yield the ads of one WARC file; problems go to ``report`` (``source`` names them).

    A response belongs to the first site whose ``url_pattern`` matches its URL. Opening
    the file may raise `OSError`; damage inside it is a fatal `Problem` instead.
    """
    stats = stats if stats is not None else WarcStats()
    ads_before = stats.ads
    try:
        for page in _pages(path, sites, stats):
            if page is None:
                stats.skipped += 1
                continue
            if page.too_large:
                stats.problems += 1
                report(Problem(source, page.url, f"page larger than {MAX_PAGE_BYTES} bytes"))
                continue
            try:
                ad = parse_ad_page(page.site, page.url, page.html, page.fetched_at)
            except PageError as exc:
                stats.problems += 1
                report(Problem(source, exc.url, exc.reason, field=exc.field))
                continue
            stats.ads += 1
            yield ad
    except _Damaged as exc:
        stats.problems += 1
        imported = stats.ads - ads_before
        reason = (
            f"truncated or corrupt WARC: {exc}; {imported} ad"
            f"{'' if imported == 1 else 's'} imported before the damage, later records lost"
        )
        report(Problem(source, str(path), reason, fatal=True))


class _Damaged(Exception):
    """The archive cannot be read past this point."""


def _pages(path: Path, sites: Sequence[SiteConfig], stats: WarcStats) -> Iterator[_Page | None]:
    """Each intact record as an ad page of one of ``sites``, or None; raises `_Damaged`."""
    count = end = 0
    with path.open("rb") as fh:
        archive = ArchiveIterator(fh)
        records = iter(archive)
        while True:
            try:
                record = next(records, None)
                if record is None:
                    break
                page = _owned_page(record, sites)
                archive.read_to_end()
            except Exception as exc:  # warcio fails on damaged input in many ways
                what = f"{type(exc).__name__}: {exc}".strip()
                raise _Damaged(f"unreadable after record {count} ({what})") from exc
            count += 1
            if _cut_short(record, archive):
                raise _Damaged(f"record {count} is cut short")
            end = archive.offset
            stats.records += 1
            yield page
        if end < path.stat().st_size:
            raise _Damaged(f"unreadable bytes after record {count} (from byte {end})")


def _owned_page(record: Any, sites: Sequence[SiteConfig]) -> _Page | None:
    """The record as an ad page of one of ``sites``, or None (consumes its content)."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    site = next((s for s in sites if s.owns(url)), None)
    if site is None or record.http_headers.get_statuscode() != "200":
        return None
    content_type = record.http_headers.get_header("Content-Type") or ""
    if content_type and content_type.split(";")[0].strip().lower() not in HTML_TYPES:
        return None
    body = record.content_stream().read(MAX_PAGE_BYTES + 1)
    html = body[:MAX_PAGE_BYTES].decode(charset(content_type), errors="replace")
    fetched_at = _warc_date(record.rec_headers.get_header("WARC-Date"))
    return _Page(site, url, html, fetched_at, too_large=len(body) > MAX_PAGE_BYTES)


def _warc_date(value: str | None) -> datetime:
    try:
        when = datetime.fromisoformat(value or "")
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _cut_short(record: Any, archive: ArchiveIterator) -> bool:
    """Whether the record (or its gzip member) ended before it should have."""
    if getattr(record.raw_stream, "limit", 0) > 0:
        return True
    decompressor = archive.reader.decompressor if archive.reader else None
    return decompressor is not None and not getattr(decompressor, "eof", True)


class WarcOptions(BaseModel):
    """Options of a ``warc`` connector entry (paths relative to the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[Path] = Field(min_length=1)
    sites: list[Path] = Field(min_length=1)
    batch_size: int = Field(default=100, ge=1, description="ads per poll")


class WarcConnector:
    """Imports WARC files once; `exhausted` after the last one.

    A damaged file is one fatal `Problem` (with the count imported before the damage);
    the connector then goes on with the next file.
    """

    def __init__(
        self,
        name: str,
        paths: Sequence[Path],
        sites: Sequence[SiteConfig],
        report: Report,
        batch_size: int = 100,
    ) -> None:
        self.name = name
        self.paths = list(paths)
        self.sites = list(sites)
        self.report = report
        self.batch_size = batch_size
        self.stats = WarcStats()
        self._ads: Generator[RawAd, None, None] | None = None
        self._exhausted = False

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, Any], ctx: ConnectorContext
    ) -> WarcConnector:
        """Build from ``{"paths": [...], "sites": ["sites/x.yaml", ...]}``.

        Raises `ConnectorError` for a missing file or a site config without ``url_pattern``.
        """
        opts = parse_options(WarcOptions, name, options)
        paths = [p if p.is_absolute() else ctx.base_dir / p for p in opts.paths]
        for path in paths:
            if not path.is_file():
                raise ConnectorError(f"connector {name!r}: paths: no such file {path}")
        sites = []
        for site_path in opts.sites:
            site = load_site_config(
                site_path if site_path.is_absolute() else ctx.base_dir / site_path
            )
            if site.url_pattern is None:
                raise ConnectorError(
                    f"connector {name!r}: site config {site_path} has no url_pattern"
                )
            sites.append(site)
        return cls(name, paths, sites, ctx.report, opts.batch_size)

    @property
    def exhausted(self) -> bool:
        """True once every file was read."""
        return self._exhausted

    @property
    def backlog(self) -> bool:
        """True until every file was read: the runner polls again right away."""
        return not self._exhausted

    def open(self) -> None:
        """Start reading the first file."""
        if self._ads is None:
            self._ads = self._all()

    def poll(self) -> list[RawAd]:
        """Up to ``batch_size`` ads."""
        if self._ads is None:
            self.open()
        assert self._ads is not None
        batch = list(islice(self._ads, self.batch_size))
        if len(batch) < self.batch_size:
            self._exhausted = True
        return batch

    def close(self) -> None:
        """Stop reading; safe to call twice."""
        if self._ads is not None:
            self._ads.close()

    def _all(self) -> Generator[RawAd, None, None]:
        for path in self.paths:
            try:
                yield from read_warc(
                    path, self.sites, self.report, source=self.name, stats=self.stats
                )
            except OSError as exc:
                self.stats.problems += 1
                self.report(Problem(self.name, str(path), f"cannot read: {exc}", fatal=True))
