"""RSS 0.9x/1.0/2.0 and Atom feeds as a source of ads, from a URL or a local file.

    poll() ─> GET url (If-None-Match / If-Modified-Since) ─ 304 ─> nothing new
                  │ 200
                  └─> bytes ─> feedparser ─> entries ─> entry_fields() ─> RawAd …
                                    │ broken / not a feed / HTTP error ─> Problem

Every poll returns the feed's current entries; the runner drops the ones it already
published with the same content. The mapping from a feedparser entry to `RawAd` fields is
the pure function `entry_fields`, testable without any I/O.

Conditional GET and at-least-once: the ETag and Last-Modified of a fetch are used for the
next request only once that fetch's ads are out. The runner publishes what ``poll()``
returned before it polls again, so the validators of fetch *k* are written to the state
store (cursors ``etag``/``last_modified``) at the start of poll *k + 1*. A crash before
that leaves the older validators stored: the next run fetches the whole feed again and
re-publishes, never hides an entry behind a 304. Validators of a malformed feed are never
kept, so it is fetched in full (and reported) until it is fixed.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.base import ConnectorContext, ConnectorError, Problem, parse_options
from connectors.files import html_to_text
from connectors.state import Validators
from pipeline.errors import InvalidRecord
from pipeline.validate import raw_ad
from schemas import RawAd

MAX_SOURCE_ID = 500  # RawAd.source_id's limit; longer ids are replaced by their hash
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_LOCATION_SCHEMES = ("location", "city", "place", "region")
# feedparser's "bozo" warnings that do not mean the feed is damaged
_BENIGN = frozenset({"CharacterEncodingOverride", "NonXMLContentType"})


class RssOptions(BaseModel):
    """Options of an ``rss`` connector: exactly one of ``url`` and ``path``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, description="http(s) URL of the feed")
    path: str | None = Field(default=None, min_length=1, description="a feed file")
    source: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[^\s:]+$"
    )  # RawAd.source of the entries; default: the connector's name
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # ISO country hint
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("region", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of 'url' and 'path'")
        return self


# -- pure mapping: feedparser entry -> RawAd fields ---------------------------------------
def entry_fields(
    entry: Mapping[str, Any], source: str, region: str | None = None
) -> dict[str, Any]:
    """`RawAd` fields (not yet validated) of one feedparser entry."""
    link = _text(entry.get("link"))
    fields: dict[str, Any] = {
        "source": source,
        "source_id": entry_id(entry),
        "url": link or None,
        "title": _content_text(entry.get("title_detail"), entry.get("title")),
        "body": entry_body(entry),
        "posted_at": entry_time(entry),
        "location": entry_location(entry),
    }
    if region is not None:
        fields["region"] = region
    return fields


def entry_id(entry: Mapping[str, Any]) -> str:
    """The entry's id/guid, else its link, else a hash of its title and link."""
    for key in ("id", "link"):
        value = _text(entry.get(key)).strip()
        if value:
            return value if len(value) <= MAX_SOURCE_ID else "sha256:" + _digest(value)
    return "sha256:" + _digest(f"{_text(entry.get('title'))}\n{_text(entry.get('link'))}")


def entry_body(entry: Mapping[str, Any]) -> str:
    """Plain text of the entry's content (Atom content, RSS content:encoded) or summary."""
    for part in entry.get("content") or ():
        if isinstance(part, Mapping) and _text(part.get("value")).strip():
            return _content_text(part, part.get("value"))
    return _content_text(entry.get("summary_detail"), entry.get("summary"))


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """When the entry was published (else last updated), in UTC."""
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime(*value[:6], tzinfo=UTC)  # feedparser gives UTC
            except ValueError:
                continue
    return None


def entry_location(entry: Mapping[str, Any]) -> str | None:
    """A location hint: a category whose scheme/domain names a place, else a GeoRSS point."""
    for tag in entry.get("tags") or ():
        if not isinstance(tag, Mapping):
            continue
        scheme = _text(tag.get("scheme")).lower().rstrip("/")
        if scheme.endswith(_LOCATION_SCHEMES):
            place = _text(tag.get("label")).strip() or _text(tag.get("term")).strip()
            if place:
                return place
    where = entry.get("where")
    if isinstance(where, Mapping) and where.get("type") == "Point":
        lon, lat = where.get("coordinates") or (None, None)
        if isinstance(lat, float) and isinstance(lon, float):
            return f"{lat:.5f},{lon:.5f}"
    return None


def _content_text(detail: object, value: object) -> str:
    text = _text(value)
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    return html_to_text(text)[1] if kind in _HTML_TYPES else text.strip()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def feed_trouble(parsed: Mapping[str, Any]) -> str | None:
    """Why a parsed feed is unusable or damaged, or None when it is fine."""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.get("version") and not parsed.get("entries"):
        return "not an RSS or Atom feed" + (f" ({exc})" if exc else "")
    if exc is not None and type(exc).__name__ not in _BENIGN:
        return f"malformed feed ({exc})"
    return None


def parse_feed(data: bytes, headers: Mapping[str, str] | None = None) -> Any:
    """Parse feed bytes with feedparser (``headers``: content-type, content-location)."""
    # A stream, never bytes or str: feedparser would open bytes that name a local file
    # and fetch a str that looks like a URL.
    return feedparser.parse(io.BytesIO(data), response_headers=dict(headers or {}))


# -- the connector ------------------------------------------------------------------------
class RssConnector:
    """A feed polled on the runner's schedule (``url``), or a feed file read once (``path``)."""

    def __init__(self, name: str, options: RssOptions, ctx: ConnectorContext) -> None:
        self.name = name
        self.options = options
        self.source = options.source or name
        self._ctx = ctx
        self._client: httpx.Client | None = None
        self._send = Validators()  # sent with the next GET
        self._unsaved: Validators | None = None  # of the last fetch; saved at the next poll
        self._opened = False
        self._done = False

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, Any], ctx: ConnectorContext
    ) -> RssConnector:
        """Build from a connectors-file entry; raises `ConnectorError` on bad options."""
        return cls(name, parse_options(RssOptions, name, options), ctx)

    @property
    def where(self) -> str:
        """The feed's URL or file path, as shown in problems."""
        return self.options.url or str(self._path())

    @property
    def exhausted(self) -> bool:
        """A feed file is done after one read; a URL never is."""
        return self._done

    def open(self) -> None:
        """Check the feed file, or start the HTTP client with the saved validators."""
        if self._opened:
            return
        if self.options.url is None:
            if not self._path().is_file():
                raise ConnectorError(f"connector {self.name!r}: path: no such file {self._path()}")
        else:
            self._client = httpx.Client(
                headers={"User-Agent": self._ctx.user_agent},
                timeout=self.options.timeout_seconds,
                follow_redirects=True,
            )
            self._send = self._saved_validators()
        self._opened = True

    def poll(self) -> list[RawAd]:
        """The feed's current entries as ads (none on 304, on errors, or once a file is read)."""
        self.open()
        if self._done:
            return []
        if self.options.url is None:
            self._done = True
            try:
                data = self._path().read_bytes()
            except OSError as exc:
                self._problem(f"cannot read feed file: {exc.strerror}", fatal=True)
                return []
            return self._ads(parse_feed(data))[0]
        self._save_validators()
        response = self._fetch(self.options.url)
        if response is None:
            return []
        headers = {"content-location": str(response.url)}
        if "content-type" in response.headers:
            headers["content-type"] = response.headers["content-type"]
        ads, intact = self._ads(parse_feed(response.content, headers))
        if intact:
            etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
            self._unsaved = Validators(etag, modified)
        return ads

    def close(self) -> None:
        """Close the HTTP client; safe to call twice. Unsaved validators are dropped."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._unsaved, self._opened = None, False

    # -- internals ----------------------------------------------------------------------
    def _path(self) -> Path:
        return self._ctx.base_dir / (self.options.path or "")

    def _fetch(self, url: str) -> httpx.Response | None:
        assert self._client is not None  # opened
        headers = {}
        if self._send.etag:
            headers["If-None-Match"] = self._send.etag
        if self._send.last_modified:
            headers["If-Modified-Since"] = self._send.last_modified
        try:
            response = self._client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            self._problem(f"fetch failed: {type(exc).__name__}: {exc}")
            return None
        if response.status_code == httpx.codes.NOT_MODIFIED:
            return None
        if not response.is_success:
            self._problem(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
            return None
        return response

    def _ads(self, parsed: Any) -> tuple[list[RawAd], bool]:
        """The usable ads of a parsed feed (problems reported) and whether it was intact."""
        entries: list[Any] = list(parsed.get("entries") or [])
        ads: list[RawAd] = []
        bad: list[tuple[int, Mapping[str, Any], InvalidRecord]] = []
        for n, entry in enumerate(entries, 1):
            try:
                ads.append(raw_ad(entry_fields(entry, self.source, self.options.region)))
            except InvalidRecord as exc:
                bad.append((n, entry, exc))
        trouble = feed_trouble(parsed)
        if trouble is not None:
            # Entries of a damaged feed fail because of the damage: one problem says it all.
            kept = f"; kept {len(ads)} of {len(entries)} entries" if entries else ""
            self._problem(trouble + kept, fatal=self.options.url is None)
            return ads, False
        for n, entry, err in bad:
            where = _text(entry.get("link")) or f"{self.where}#entry-{n}"
            field = err.kind.removeprefix("invalid record: ")
            self._problem(str(err), where=where, field=None if field == "record" else field)
        return ads, True

    def _problem(
        self,
        reason: str,
        *,
        where: str | None = None,
        field: str | None = None,
        fatal: bool = False,
    ) -> None:
        self._ctx.report(Problem(self.name, where or self.where, reason, field, fatal))

    def _saved_validators(self) -> Validators:
        state = self._ctx.state
        if state.cursor(self.name, "url") != self.options.url:
            return Validators()  # validators of another URL must not produce a 304
        etag, modified = state.cursor(self.name, "etag"), state.cursor(self.name, "last_modified")
        return Validators(etag or None, modified or None)

    def _save_validators(self) -> None:
        # Called at the start of a poll: the previous poll's ads have been published.
        if self._unsaved is None or self.options.url is None:
            return
        state, v = self._ctx.state, self._unsaved
        state.set_cursor(self.name, "etag", v.etag or "")
        state.set_cursor(self.name, "last_modified", v.last_modified or "")
        state.set_cursor(self.name, "url", self.options.url)  # last: vouches for the two
        self._send, self._unsaved = v, None
