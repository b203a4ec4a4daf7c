"""Polite HTTP fetching for crawling connectors: one `PoliteClient` per connector.

    get(url, validators)
      └─> robots.txt of the host (fetched once, cached) allows url? ──no──> Disallowed
            └─> a host slot (≤ concurrency in flight) ─> the host's next turn (≥ interval apart)
                  └─> GET with User-Agent, If-None-Match / If-Modified-Since
                        ├─ 2xx ─────────────────────> Fetched (text, new validators)
                        ├─ 304 ─────────────────────> Fetched (not_modified)
                        ├─ 3xx ─────────────────────> next hop: robots, slot and turn again
                        ├─ 429, 5xx, network error ─> wait (Retry-After, else backoff), retry
                        └─ other, or out of retries ─> FetchError ("HTTP 404", …)

A wait after 429/5xx delays the whole host, not only the request that got it. A
robots.txt that answers 4xx allows everything; one that cannot be fetched (5xx, network
error) disallows the host for a while (RFC 9309). A Crawl-delay or Request-rate larger
than the configured interval wins. Clock, sleep and jitter are injectable for tests.
"""

from __future__ import annotations

import codecs
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import USER_AGENT
from connectors.state import Validators

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_UNREACHABLE_SECONDS = 300.0  # how long a host whose robots.txt failed stays closed


class Politeness(BaseModel):
    """How gently to crawl one site (every setting is per host)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_interval_seconds: float = Field(default=1.0, ge=0, description="between request starts")
    concurrency: int = Field(default=1, ge=1, le=16, description="requests in flight at once")
    max_retries: int = Field(default=3, ge=0, le=10, description="after 429/5xx/network errors")
    timeout_seconds: float = Field(default=20.0, gt=0)
    backoff_seconds: float = Field(default=1.0, ge=0, description="first backoff; doubles")
    max_backoff_seconds: float = Field(default=60.0, ge=0, description="also caps Retry-After")
    max_page_bytes: int = Field(default=5_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    robots_ttl_seconds: float = Field(default=86_400.0, ge=0, description="robots.txt cache")


class FetchError(Exception):
    """A page that could not be fetched; ``reason`` is for people (``"HTTP 404"``)."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class Disallowed(FetchError):
    """robots.txt forbids the URL (or could not be fetched); nothing was requested."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched page. ``url`` is where it was found after redirects."""

    url: str
    status: int
    text: str
    content_type: str
    validators: Validators

    @property
    def not_modified(self) -> bool:
        """The server said the page did not change since the validators sent (304)."""
        return self.status == 304


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with jitter: ``base·2^attempt`` capped, scaled into [½, 1]."""
    return min(cap, base * 2.0**attempt) * (0.5 + jitter / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - (time.time() if now is None else now))


class _Host:
    """Pacing and robots.txt of one scheme://host:port."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self.slots = threading.Semaphore(concurrency)
        self.interval = interval
        self.lock = threading.Lock()  # guards next_at
        self.next_at = 0.0
        self.robots_lock = threading.Lock()  # one robots.txt fetch at a time
        self.robots: Protego | None = None
        self.robots_error: str | None = None  # set while the host is closed
        self.robots_until = -1.0

    def take_turn(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        """Reserve the next start time for this host and sleep until it comes."""
        with self.lock:
            now = clock()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            sleep(start - now)

    def defer(self, seconds: float, clock: Callable[[], float]) -> None:
        """No request to this host before ``seconds`` from now."""
        with self.lock:
            self.next_at = max(self.next_at, clock() + seconds)


class PoliteClient:
    """A thread-safe HTTP client that keeps to robots.txt and per-host pacing.

    Several threads may call `get` at once; per host at most ``concurrency`` requests are
    in flight and request starts are at least ``min_interval_seconds`` apart.
    """

    def __init__(
        self,
        politeness: Politeness | None = None,
        user_agent: str = USER_AGENT,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.politeness = politeness or Politeness()
        self.user_agent = user_agent
        self._clock, self._sleep, self._jitter = clock, sleep, jitter
        self._http = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=self.politeness.timeout_seconds,
            follow_redirects=False,
            transport=transport,
        )
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def get(self, url: str, validators: Validators | None = None) -> Fetched:
        """Fetch ``url`` (conditionally, if ``validators`` has any); raise `FetchError`."""
        headers: dict[str, str] = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        current = url
        for _hop in range(self.politeness.max_redirects + 1):
            self._check_robots(current)
            status, resp_headers, body = self._with_retries(current, headers)
            location = resp_headers.get("location")
            if status in REDIRECT_STATUSES and location:
                current = urljoin(current, location)
                continue
            if status == 304 or 200 <= status < 300:
                return Fetched(
                    url=current,
                    status=status,
                    text=body.decode(
                        charset(resp_headers.get("content-type", "")), errors="replace"
                    ),
                    content_type=resp_headers.get("content-type", ""),
                    validators=Validators(
                        resp_headers.get("etag"), resp_headers.get("last-modified")
                    ),
                )
            raise FetchError(current, f"HTTP {status}", status)
        raise FetchError(url, f"more than {self.politeness.max_redirects} redirects")

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets us fetch ``url`` (fetching robots.txt if needed)."""
        try:
            self._check_robots(url)
        except Disallowed:
            return False
        return True

    def close(self) -> None:
        """Close connections; safe to call twice."""
        self._http.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------
    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(url, "not an http(s) URL")
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        with self._hosts_lock:
            host = self._hosts.get(key)
            if host is None:
                p = self.politeness
                host = self._hosts[key] = _Host(p.concurrency, p.min_interval_seconds)
            return host

    def _check_robots(self, url: str) -> None:
        host = self._host(url)
        with host.robots_lock:
            if self._clock() >= host.robots_until:
                self._load_robots(host, urljoin(url, "/robots.txt"))
            robots, error = host.robots, host.robots_error
        if error is not None:
            raise Disallowed(url, error)
        if robots is not None and not robots.can_fetch(url, self.user_agent):
            raise Disallowed(url, "disallowed by robots.txt")

    def _load_robots(self, host: _Host, robots_url: str) -> None:
        p = self.politeness
        status, body, via = 0, b"", host
        try:
            for _hop in range(5):  # RFC 9309: follow at least five redirects
                status, headers, body = self._with_retries(robots_url, {}, via)
                location = headers.get("location")
                if status not in REDIRECT_STATUSES or not location:
                    break
                robots_url = urljoin(robots_url, location)
                via = self._host(robots_url)
        except FetchError as exc:
            status, body = exc.status or 0, b""
        host.robots, host.robots_error = None, None
        host.interval = p.min_interval_seconds
        host.robots_until = self._clock() + p.robots_ttl_seconds
        if 200 <= status < 300:
            robots = Protego.parse(body.decode("utf-8", errors="replace"))
            host.robots = robots
            delay = robots.crawl_delay(self.user_agent)
            rate = robots.request_rate(self.user_agent)
            if rate is not None and rate.requests:
                delay = max(delay or 0.0, rate.seconds / rate.requests)
            host.interval = max(p.min_interval_seconds, float(delay or 0.0))
        elif status >= 500 or status == 429 or status == 0:  # unreachable: stay away
            what = f"HTTP {status}" if status else "network error"
            host.robots_error = f"robots.txt unreachable ({what}); not crawling this host"
            host.robots_until = self._clock() + min(
                p.robots_ttl_seconds, ROBOTS_UNREACHABLE_SECONDS
            )
        # other statuses (4xx, a redirect we do not follow): no robots.txt, all allowed

    def _with_retries(
        self, url: str, headers: dict[str, str], host: _Host | None = None
    ) -> tuple[int, httpx.Headers, bytes]:
        host = host or self._host(url)
        p = self.politeness
        attempt = 0
        while True:
            retry_after: float | None = None
            status: int | None = None
            try:
                status, resp_headers, body = self._attempt(host, url, headers)
            except httpx.TransportError as exc:
                reason = f"network error ({type(exc).__name__}: {exc})"
            else:
                if status not in RETRY_STATUSES:
                    return status, resp_headers, body
                reason = f"HTTP {status}"
                retry_after = parse_retry_after(resp_headers.get("retry-after"))
            if attempt >= p.max_retries:
                tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
                raise FetchError(url, f"{reason} after {tries}", status)
            delay = backoff_delay(attempt, p.backoff_seconds, p.max_backoff_seconds, self._jitter())
            if retry_after is not None:
                if retry_after > p.max_backoff_seconds:
                    raise FetchError(
                        url, f"{reason}; Retry-After {retry_after:.0f} s is too long", status
                    )
                delay = retry_after
            host.defer(delay, self._clock)
            attempt += 1

    def _attempt(
        self, host: _Host, url: str, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        limit = self.politeness.max_page_bytes
        with host.slots:
            host.take_turn(self._clock, self._sleep)
            with self._http.stream("GET", url, headers=headers) as resp:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(url, f"page larger than {limit} bytes", resp.status_code)
                    chunks.append(chunk)
                return resp.status_code, resp.headers, b"".join(chunks)


def charset(content_type: str, default: str = "utf-8") -> str:
    """The text encoding named by a Content-Type header, if Python knows it."""
    message = Message()
    message["content-type"] = content_type
    name = message.get_content_charset()
    if name:
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    return default
