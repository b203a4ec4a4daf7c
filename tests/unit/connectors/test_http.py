"""PoliteClient against the real fixture server on 127.0.0.1 (and its pure helpers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from connectors.http import (
    Disallowed,
    FetchError,
    PoliteClient,
    Politeness,
    backoff_delay,
    charset,
    parse_retry_after,
)
from connectors.state import Validators
from tests.fixtures.site_server import SiteServer, gaps

UA = "adwatch-test/1.0 (+https://example.invalid/adwatch)"
TOLERANCE = 0.08  # starts are logged when the server reads the headers: that jitters under load


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as s:
        yield s


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(politeness: Politeness | None = None, **kwargs: object) -> PoliteClient:
    p = politeness or Politeness(min_interval_seconds=0.0, backoff_seconds=0.01)
    return PoliteClient(p, UA, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(0, 1.0, 1.0), (1, 1.0, 2.0), (2, 0.0, 2.0), (3, 1.0, 8.0), (10, 1.0, 60.0), (10, 0.0, 30.0)],
)
def test_backoff_delay(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay(attempt, 1.0, 60.0, jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        (" 120 ", 120.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # 30 s after "now" below
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(value, now) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=ISO-8859-1", "iso8859-1"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/html; charset=no-such-codec", "utf-8"),
        ("text/html", "utf-8"),
        ("", "utf-8"),
    ],
)
def test_charset(content_type: str, expected: str) -> None:
    assert charset(content_type) == expected


def test_get_sends_user_agent_and_returns_validators(server: SiteServer) -> None:
    with client() as c:
        page = c.get(server.url("/ad/101.html"))
    assert page.status == 200 and not page.not_modified
    assert "Oak dining table" in page.text
    assert page.content_type.startswith("text/html")
    assert page.validators.etag and page.validators.last_modified
    assert {r.headers["user-agent"] for r in server.requests()} == {UA}


def test_disallowed_path_is_never_requested_and_robots_is_fetched_once(
    server: SiteServer,
) -> None:
    with client() as c:
        with pytest.raises(Disallowed, match=r"disallowed by robots\.txt"):
            c.get(server.url("/private/ad-900.html"))
        assert not c.allowed(server.url("/private/anything"))
        assert c.allowed(server.url("/ad/101.html"))
        c.get(server.url("/ad/101.html"))
        c.get(server.url("/ad/102.html"))
    assert server.paths() == ["/robots.txt", "/ad/101.html", "/ad/102.html"]


def test_redirect_to_a_disallowed_path_is_not_followed(server: SiteServer) -> None:
    server.script("/go/ok", (302, {"Location": "/ad/102.html"}))
    server.script("/go/private", (301, {"Location": "/private/ad-900.html"}))
    with client() as c:
        assert c.get(server.url("/go/ok")).url == server.url("/ad/102.html")
        with pytest.raises(Disallowed):
            c.get(server.url("/go/private"))
    assert not server.paths("/private/")


def test_conditional_get_gives_not_modified(server: SiteServer) -> None:
    with client() as c:
        first = c.get(server.url("/ad/103.html"))
        again = c.get(server.url("/ad/103.html"), first.validators)
        by_date = c.get(
            server.url("/ad/103.html"), Validators(None, first.validators.last_modified)
        )
        server.set_ad_body("103", "Changed text, call 702-555-0147.")
        changed = c.get(server.url("/ad/103.html"), first.validators)
    assert again.not_modified and again.text == ""
    assert by_date.not_modified
    assert changed.status == 200 and "Changed text" in changed.text
    sent = [r.headers for r in server.requests("/ad/103.html")]
    assert "if-none-match" not in sent[0]
    assert sent[1]["if-none-match"] == first.validators.etag
    assert sent[1]["if-modified-since"] == first.validators.last_modified


def test_requests_to_a_host_are_spaced_by_the_interval(server: SiteServer) -> None:
    interval = 0.2
    with client(Politeness(min_interval_seconds=interval)) as c:
        for ad in ("101", "102", "103", "105"):
            c.get(server.url(f"/ad/{ad}.html"))
    log = server.requests()
    assert len(log) == 5  # robots.txt counts as a request to the host too
    assert min(gaps(log)) >= interval - TOLERANCE


def test_concurrency_cap_holds_across_threads(server: SiteServer) -> None:
    server.response_delay = 0.25
    politeness = Politeness(min_interval_seconds=0.0, concurrency=2)
    with client(politeness) as c:
        c.allowed(server.url("/"))  # robots.txt first, so only ad pages overlap
        server.reset_log()
        threads = [
            threading.Thread(target=c.get, args=(server.url(f"/ad/{ad}.html"),))
            for ad in ("101", "102", "103", "105", "107", "108")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.requests("/ad/")) == 6
    assert server.max_in_flight == 2


def test_429_waits_for_retry_after_then_succeeds(server: SiteServer) -> None:
    with client() as c:
        page = c.get(server.url("/ad/106.html"))
    assert page.status == 200 and "Sunny 1BR" in page.text
    first, second = server.requests("/ad/106.html")
    assert (first.status, second.status) == (429, 200)
    assert second.started - first.started >= 1.0 - TOLERANCE


def test_5xx_retries_with_exponential_backoff_then_gives_up(server: SiteServer) -> None:
    clock = FakeClock()
    server.script("/ad/101.html", *[(503, {})] * 3)
    politeness = Politeness(min_interval_seconds=0.0, max_retries=2, backoff_seconds=0.5)
    with client(politeness, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0) as c:
        with pytest.raises(FetchError, match="HTTP 503 after 3 attempts") as info:
            c.get(server.url("/ad/101.html"))
        assert info.value.status == 503
        assert clock.sleeps == [0.5, 1.0]
        assert c.get(server.url("/ad/101.html")).status == 200  # script used up
    assert [r.status for r in server.requests("/ad/")] == [503, 503, 503, 200]


def test_a_retry_after_longer_than_the_cap_gives_up_at_once(server: SiteServer) -> None:
    server.script("/ad/101.html", (429, {"Retry-After": "3600"}))
    with client() as c, pytest.raises(FetchError, match="Retry-After 3600 s is too long"):
        c.get(server.url("/ad/101.html"))
    assert len(server.requests("/ad/")) == 1


def test_404_is_not_retried(server: SiteServer) -> None:
    with client() as c, pytest.raises(FetchError, match="HTTP 404") as info:
        c.get(server.url("/ad/999.html"))
    assert info.value.status == 404
    assert len(server.requests("/ad/")) == 1


def test_crawl_delay_in_robots_wins_over_a_smaller_interval(server: SiteServer) -> None:
    server.robots_txt = "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.3\n"
    with client(Politeness(min_interval_seconds=0.01)) as c:
        for ad in ("101", "102", "103"):
            c.get(server.url(f"/ad/{ad}.html"))
    assert min(gaps(server.requests("/ad/"))) >= 0.3 - TOLERANCE


def test_robots_404_allows_everything(server: SiteServer) -> None:
    server.script("/robots.txt", (404, {}))
    with client() as c:
        assert c.get(server.url("/private/ad-900.html")).status == 200


def test_unreachable_robots_closes_the_host(server: SiteServer) -> None:
    server.script("/robots.txt", (503, {}), (503, {}))
    with client(Politeness(min_interval_seconds=0.0, max_retries=1, backoff_seconds=0)) as c:
        with pytest.raises(Disallowed, match=r"robots.txt unreachable \(HTTP 503\)"):
            c.get(server.url("/ad/101.html"))
        with pytest.raises(Disallowed):  # cached: robots.txt is not asked again at once
            c.get(server.url("/ad/102.html"))
    assert server.paths() == ["/robots.txt", "/robots.txt"]


def test_network_errors_are_retried_then_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clock = FakeClock()
    politeness = Politeness(min_interval_seconds=0.0, max_retries=2, timeout_seconds=2)
    c = PoliteClient(politeness, UA, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    with c, pytest.raises(Disallowed, match=r"robots\.txt unreachable \(network error\)"):
        c.get(f"http://127.0.0.1:{port}/ad/1.html")
    assert clock.sleeps == [0.5, 1.0]  # the robots.txt fetch was retried with backoff


def test_oversized_page_is_refused(server: SiteServer) -> None:
    server.set_ad_body("102", "long text " * 500)
    c = client(Politeness(min_interval_seconds=0, max_page_bytes=2048))
    with c, pytest.raises(FetchError, match="page larger than 2048 bytes"):
        c.get(server.url("/ad/102.html"))


def test_not_http_is_refused() -> None:
    with client() as c, pytest.raises(FetchError, match="not an http"):
        c.get("ftp://127.0.0.1/file")
