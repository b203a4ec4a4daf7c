"""The HTTP site connector: crawl a classified site described by a `SiteConfig`.

    poll ─> listing page (one per poll) ─ad_links─> queue ─next_page─> listing page …
      └──> ad pages (a batch per poll, in parallel up to the concurrency)
             ├─ 200 ─> parse_ad_page ─> RawAd (validators staged for the runner)
             ├─ 304 ─> nothing: the version already published is current
             └─ page or fetch problem ─> Problem(url, field, reason), counted
    queue empty ─> cycle done ─> wait recrawl_seconds ─> start again from the listings

Parsing (`parse_listing`, `parse_ad_page`, `inspect_page`) is pure; `SiteConnector` and
`test_page` do the I/O through a `PoliteClient`.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import parsel
from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.base import USER_AGENT, ConnectorContext, Problem, parse_options
from connectors.files import parse_timestamp
from connectors.http import FetchError, PoliteClient
from connectors.site_config import SiteConfig, load_site_config, select
from schemas import RawAd
from schemas.types import as_utc

HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_IMAGES = 200


class PageError(ValueError):
    """An ad page the site config cannot turn into an ad: which URL, field and why."""

    def __init__(self, url: str, field: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.field, self.reason = url, field, reason


@dataclass(frozen=True, slots=True)
class Listing:
    """What a listing page links to."""

    ad_links: list[str]
    next_page: str | None


def _lines(values: list[str]) -> str:
    lines = (" ".join(line.split()) for value in values for line in value.splitlines())
    return "\n".join(line for line in lines if line)


def _words(values: list[str]) -> str:
    return " ".join(" ".join(values).split())


def _links(base: str, values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        link = urldefrag(urljoin(base, value.strip())).url
        if urlsplit(link).scheme in ("http", "https") and link not in out:
            out.append(link)
    return out


def parse_listing(site: SiteConfig, url: str, html: str) -> Listing:
    """The ad links (absolute, in page order, once each) and next page of a listing page."""
    doc = parsel.Selector(text=html)
    next_links = _links(url, select(doc, site.next_page)) if site.next_page else []
    next_page = next((link for link in next_links if link != url), None)
    return Listing(_links(url, select(doc, site.ad_links)), next_page)


def parse_posted_at(value: str, fmt: str | None = None) -> datetime:
    """Parse a posting time with ``fmt`` (strptime), else as ISO 8601 or epoch seconds/ms."""
    if fmt is not None:
        return as_utc(datetime.strptime(value, fmt))
    return parse_timestamp(value.strip())


def parse_ad_page(site: SiteConfig, url: str, html: str, fetched_at: datetime) -> RawAd:
    """Turn an ad page into a `RawAd`, or raise `PageError` naming the URL and field.

    Text is whitespace-normalized (the body keeps one line per block); image URLs are made
    absolute. A posting time that cannot be parsed is an error when ``posted_at`` is
    required, else it is kept as text in ``extra["posted_at_text"]``.
    """
    doc = parsel.Selector(text=html)
    f = site.fields
    text: dict[str, str] = {}
    for name, selector, join in (
        ("title", f.title, _words),
        ("body", f.body, _lines),
        ("location", f.location, _words),
        ("posted_at", f.posted_at, _words),
    ):
        text[name] = join(select(doc, selector)) if selector else ""
    images = _links(url, select(doc, f.images))[:MAX_IMAGES] if f.images else []
    for name in site.required_fields:
        if not (images if name == "images" else text[name]):
            raise PageError(url, name, f"missing field {name!r}")
    extra: dict[str, Any] = {key: _words(select(doc, sel)) for key, sel in f.extra.items()}
    posted_at = None
    if text["posted_at"]:
        try:
            posted_at = parse_posted_at(text["posted_at"], site.posted_at_format)
        except ValueError:
            if "posted_at" in site.required_fields:
                reason = f"unparseable posting time {text['posted_at']!r}"
                raise PageError(url, "posted_at", reason) from None
            extra["posted_at_text"] = text["posted_at"]
    try:
        return RawAd(
            source=site.source,
            source_id=source_id(site, url, doc),
            url=url,
            title=text["title"],
            body=text["body"],
            posted_at=posted_at,
            scraped_at=fetched_at,
            location=text["location"] or None,
            region=site.region,
            image_urls=images,
            extra=extra,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "ad"
        raise PageError(url, field, f"invalid {field}: {err['msg']}") from None


def source_id(site: SiteConfig, url: str, doc: parsel.Selector) -> str:
    """The ad's id by the site's rule; `PageError` (field ``source_id``) if it does not match."""
    rule = site.source_id
    if rule.regex is not None:
        match = re.search(rule.regex, url)
        value = match.group(1) if match else None
    else:
        value = next(
            (v for v in (_words([v]) for v in select(doc, rule.selector or "")) if v), None
        )
    if not value:
        how = f"regex {rule.regex!r} on the URL" if rule.regex else f"selector {rule.selector!r}"
        raise PageError(url, "source_id", f"source id rule ({how}) found no id")
    return value


def inspect_page(site: SiteConfig, url: str, html: str) -> dict[str, Any]:
    """What every selector of ``site`` picks from one page, as listing and as ad page."""
    doc = parsel.Selector(text=html)
    selectors = {**site.fields.model_dump(exclude={"extra"}), **site.fields.extra}
    report: dict[str, Any] = {
        "url": url,
        "fields": {
            name: {"selector": sel, "values": select(doc, sel)}
            for name, sel in selectors.items()
            if sel
        },
    }
    listing = parse_listing(site, url, html)
    report["listing"] = {"ad_links": listing.ad_links, "next_page": listing.next_page}
    try:
        ad = parse_ad_page(site, url, html, datetime.now(UTC))
    except PageError as exc:
        report["ad"], report["error"] = None, {"field": exc.field, "reason": exc.reason}
    else:
        report["ad"], report["error"] = ad.model_dump(mode="json"), None
    return report


def test_page(site: SiteConfig, url: str, client: PoliteClient) -> dict[str, Any]:
    """Fetch one page and show what the site config extracts from it (for config authors).

    Backs ``adwatch connectors test NAME --url URL``. The page is fetched politely
    (robots.txt, no validators). The result is JSON-safe::

        {"url": …, "final_url": …, "status": 200,
         "fields": {"title": {"selector": "css:…", "values": ["…"]}, …},
         "listing": {"ad_links": [...], "next_page": "…" | None},
         "ad": {RawAd as JSON} | None,
         "error": None | {"field": "title", "reason": "missing field 'title'"}}

    If the fetch fails, only ``url``, ``status`` and ``error`` (field ``"fetch"``) are set.
    """
    try:
        fetched = client.get(url)
    except FetchError as exc:
        return {"url": url, "status": exc.status, "error": {"field": "fetch", "reason": exc.reason}}
    report = inspect_page(site, fetched.url, fetched.text)
    return {"url": url, "final_url": fetched.url, "status": fetched.status, **report}


test_page.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def test_connector_page(
    options: Mapping[str, Any], base_dir: Path, url: str, user_agent: str = USER_AGENT
) -> dict[str, Any]:
    """`test_page` for a ``site`` connector entry's options, flattened to table rows.

    ``options`` are the entry's (``site`` relative to ``base_dir``, plus overrides). Rows:
    ``url``, ``status``, ``final_url`` (after redirects, if different), one row per field
    selector (the values it picked, `` | ``-joined, or None), ``source_id``, ``ad_links``
    (how many and the first), ``next_page`` and ``result`` (the ad's key, or the problem).
    Raises `ConnectorError` for a bad config.
    """
    opts = parse_options(SiteOptions, "site", options)
    path = opts.site if opts.site.is_absolute() else base_dir / opts.site
    site = load_site_config(path, opts.model_dump(exclude={"site"}, exclude_none=True))
    with PoliteClient(site.politeness, user_agent) as client:
        found = test_page(site, url, client)
    rows: dict[str, Any] = {"url": url, "status": found.get("status")}
    if found.get("final_url", url) != url:
        rows["final_url"] = found["final_url"]
    for name, picked in found.get("fields", {}).items():
        rows[name] = " | ".join(picked["values"]) or None
    ad, error = found.get("ad"), found.get("error")
    rows["source_id"] = ad["source_id"] if ad else None
    links = found.get("listing", {}).get("ad_links", [])
    rows["ad_links"] = f"{len(links)} links" + (f" (first: {links[0]})" if links else "")
    rows["next_page"] = found.get("listing", {}).get("next_page")
    if ad:
        rows["result"] = f"ad {site.source}:{ad['source_id']}"
    elif error:
        rows["result"] = f"problem with {error['field']}: {error['reason']}"
    return rows


test_connector_page.__test__ = False  # type: ignore[attr-defined]


class SiteOptions(BaseModel):
    """Options of a ``site`` connector entry: the site file plus optional overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: Path
    listing_urls: list[str] | None = None
    max_pages: int | None = None
    recrawl_seconds: float | None = None
    batch_size: int | None = None
    politeness: dict[str, Any] | None = None


@dataclass(slots=True)
class CrawlStats:
    """Counters of one connector since it was opened."""

    cycles: int = 0  # completed crawls of all listings
    listing_pages: int = 0
    ad_pages: int = 0  # fetched with 200
    not_modified: int = 0  # 304
    ads: int = 0
    problems: int = 0


class SiteConnector:
    """Crawls one site again and again; a live source, so never `exhausted`.

    Each `poll` does one step: a batch of queued ad pages (``batch_size``, default the
    concurrency, fetched in parallel), or else one listing page. Listings are walked
    depth first, so a listing page's ads come before the next listing page. An ad URL is
    fetched once per cycle even when several listings link to it. Validators are looked up
    and staged under the ad's URL; after a redirect the fetch is unconditional.
    """

    def __init__(
        self,
        name: str,
        site: SiteConfig,
        ctx: ConnectorContext,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.site = site
        self.ctx = ctx
        self.stats = CrawlStats()
        self._clock = clock
        self._client: PoliteClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._listings: deque[tuple[str, int]] = deque()  # (url, page number)
        self._ads: deque[str] = deque()
        self._queued: set[str] = set()  # every URL queued in this cycle
        self._next_cycle_at = 0.0
        self._lock = threading.Lock()  # guards stats from worker threads

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, Any], ctx: ConnectorContext
    ) -> SiteConnector:
        """Build from ``{"site": "sites/x.yaml", …overrides}`` (paths from ``ctx.base_dir``).

        Overrides: ``listing_urls``, ``max_pages``, ``recrawl_seconds``, ``batch_size``,
        ``politeness`` (merged key by key). Raises `ConnectorError` naming the bad field.
        """
        opts = parse_options(SiteOptions, name, options)
        path = opts.site if opts.site.is_absolute() else ctx.base_dir / opts.site
        overrides = opts.model_dump(exclude={"site"}, exclude_none=True)
        return cls(name, load_site_config(path, overrides), ctx)

    @property
    def exhausted(self) -> bool:
        """Never: a site is crawled again after ``recrawl_seconds``."""
        return False

    @property
    def backlog(self) -> bool:
        """True while the current crawl has listing or ad pages left (poll again now)."""
        return bool(self._ads or self._listings)

    def open(self) -> None:
        """Create the HTTP client (and the worker threads when concurrency > 1)."""
        if self._client is None:
            self._client = PoliteClient(self.site.politeness, self.ctx.user_agent)
            workers = self.site.politeness.concurrency
            if workers > 1:
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"site-{self.name}")

    def poll(self) -> list[RawAd]:
        """One crawl step: the ads of a batch of ad pages, or none after a listing page."""
        if self._client is None:
            self.open()
        if not self._ads and not self._listings:
            if self._clock() < self._next_cycle_at:
                return []
            self._queued = set(self.site.listing_urls)
            self._listings.extend((url, 1) for url in self.site.listing_urls)
        ads: list[RawAd] = []
        if self._ads:
            size = min(self.site.ads_per_poll, len(self._ads))
            batch = [self._ads.popleft() for _ in range(size)]
            if self._pool is not None:
                outcomes = list(self._pool.map(self._fetch_ad, batch))
            else:
                outcomes = [self._fetch_ad(url) for url in batch]
            for outcome in outcomes:
                if isinstance(outcome, Problem):
                    self._report(outcome)
                elif outcome is not None:
                    ads.append(outcome)
            self.stats.ads += len(ads)
        else:
            self._crawl_listing(*self._listings.popleft())
        if not self._ads and not self._listings:  # the cycle is over
            self.stats.cycles += 1
            self._next_cycle_at = self._clock() + self.site.recrawl_seconds
        return ads

    def close(self) -> None:
        """Stop the worker threads and close the client; safe to call twice."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _report(self, problem: Problem) -> None:
        self.stats.problems += 1
        self.ctx.report(problem)

    def _crawl_listing(self, url: str, page: int) -> None:
        assert self._client is not None
        try:
            fetched = self._client.get(url)
        except FetchError as exc:
            self._report(Problem(self.name, exc.url, exc.reason))
            return
        self.stats.listing_pages += 1
        listing = parse_listing(self.site, fetched.url, fetched.text)
        if not listing.ad_links:
            reason = f"no ad links on listing page (selector {self.site.ad_links!r})"
            self._report(Problem(self.name, fetched.url, reason, field="ad_links"))
        for link in listing.ad_links:
            if link not in self._queued:
                self._queued.add(link)
                self._ads.append(link)
        nxt = listing.next_page
        if nxt is not None and page < self.site.max_pages and nxt not in self._queued:
            self._queued.add(nxt)
            self._listings.appendleft((nxt, page + 1))

    def _fetch_ad(self, url: str) -> RawAd | Problem | None:
        """Fetch and parse one ad page (runs in a worker thread); None if not modified."""
        assert self._client is not None
        try:
            fetched = self._client.get(url, self.ctx.state.validators(url))
        except FetchError as exc:
            return Problem(self.name, exc.url, exc.reason)
        with self._lock:
            if fetched.not_modified:
                self.stats.not_modified += 1
                return None
            self.stats.ad_pages += 1
        kind = fetched.content_type.split(";")[0].strip().lower()
        if kind and kind not in HTML_TYPES:
            return Problem(self.name, fetched.url, f"not an HTML page ({kind})")
        try:
            ad = parse_ad_page(self.site, fetched.url, fetched.text, datetime.now(UTC))
        except PageError as exc:
            return Problem(self.name, exc.url, exc.reason, field=exc.field)
        self.ctx.state.stage(fetched.url, fetched.validators)
        return ad
