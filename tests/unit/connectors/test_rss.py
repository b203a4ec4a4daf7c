"""RssConnector: entry mapping (pure), feed files, and a real HTTP server on 127.0.0.1 for
conditional GET (ETag/Last-Modified, 304), HTTP errors and broken feeds."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, ConnectorContext, ConnectorError, ProblemLog
from connectors.rss import RssConnector, entry_fields, entry_id, parse_feed
from connectors.state import SourceState
from pipeline.validate import raw_ad
from schemas import RawAd

FEEDS = Path(__file__).parents[2] / "fixtures" / "feeds"
UA = "adwatch-test/1.0"
LAST_MODIFIED = "Wed, 04 Jun 2025 10:00:00 GMT"


def entries(name: str) -> list[Any]:
    return list(parse_feed((FEEDS / name).read_bytes()).entries)


def ads_of(name: str, source: str = "feed") -> list[RawAd]:
    return [raw_ad(entry_fields(e, source)) for e in entries(name)]


# -- pure mapping ---------------------------------------------------------------------------
def test_rss2_entries() -> None:
    oak, massage, cooks = ads_of("rss2.xml")
    assert (oak.key, oak.url) == (
        "feed:listing-1001",
        "https://classifieds.example/denver/furniture/1001.html",
    )
    assert oak.title == "Solid oak dining table with 6 chairs - $350"
    assert oak.body == "Moving sale. Pickup only.\nText 303-555-0101."  # HTML to text
    assert oak.posted_at == datetime(2025, 6, 2, 20, 30, tzinfo=UTC)  # -0600 to UTC
    assert oak.location == "Denver, CO"  # <category domain="location">

    assert massage.source_id == massage.url  # no guid: the link
    assert massage.body == (  # content:encoded wins over the description; script dropped
        "Calm, clean studio and an hour of relaxation.\n"
        "Licensed therapist. Call (720) 555-0102 & ask for Luna."
    )
    assert massage.location == "39.73920,-104.99030"  # georss:point, lat,lon

    assert cooks.source_id.startswith("sha256:") and len(cooks.source_id) == 7 + 32
    assert cooks.url is None and cooks.posted_at is None and cooks.location is None
    assert cooks.body == "Busy family restaurant hiring. Weekends required. Call 303 555 0103."


def test_atom_entries() -> None:
    sofa, cakes = ads_of("atom.xml", source="atom")
    assert sofa.key == "atom:tag:classifieds.example,2025:austin/2001"
    assert sofa.url == "https://classifieds.example/austin/2001"
    assert sofa.posted_at == datetime(2025, 6, 3, 16, tzinfo=UTC)  # published, not updated
    assert sofa.body == "Pet free, smoke free home. Call 512-555-0104."
    assert cakes.title == "Custom birthday cakes & cupcakes"  # type="html" title
    assert cakes.body == "Home bakery taking orders.\nText 737-555-0105."
    assert cakes.posted_at == datetime(2025, 6, 4, 8, tzinfo=UTC)  # only updated
    assert cakes.location == "Austin, TX"  # category with a .../scheme/city scheme


def test_rss1_entries() -> None:
    (tutor,) = ads_of("rss1.xml")
    assert tutor.source_id == "https://classifieds.example/boston/3001"
    assert tutor.title == "Math tutoring, grades 6-12"
    assert tutor.posted_at == datetime(2025, 6, 5, 12, tzinfo=UTC)  # dc:date


def test_entry_id_fallbacks_are_stable() -> None:
    assert entry_id({"id": " g1 ", "link": "https://x.example/1"}) == "g1"
    assert entry_id({"link": "https://x.example/1"}) == "https://x.example/1"
    hashed = entry_id({"title": "Sofa"})
    assert hashed == entry_id({"title": "Sofa"}) != entry_id({"title": "Chair"})
    long_id = entry_id({"id": "x" * 600})
    assert long_id.startswith("sha256:") and len(long_id) <= 500


def test_region_is_passed_on() -> None:
    (entry,) = entries("rss1.xml")
    assert raw_ad(entry_fields(entry, "feed", region="US")).region == "US"


# -- a feed file ----------------------------------------------------------------------------
@pytest.fixture
def state(tmp_path: Path) -> Iterator[SourceState]:
    with SourceState(tmp_path / "connectors.sqlite3") as s:
        yield s


@pytest.fixture
def problems() -> ProblemLog:
    return ProblemLog()


Build = Callable[..., RssConnector]


@pytest.fixture
def build(state: SourceState, problems: ProblemLog) -> Build:
    def make(st: SourceState | None = None, **options: object) -> RssConnector:
        ctx = ConnectorContext(st or state, problems, FEEDS, user_agent=UA)
        return RssConnector.from_config("feed", options, ctx)

    return make


def test_feed_file_is_read_once(build: Build, problems: ProblemLog) -> None:
    conn = build(path="atom.xml", region="us")
    assert isinstance(conn, Connector)
    conn.open()
    assert not conn.exhausted
    ads = conn.poll()
    assert [a.key for a in ads] == [
        "feed:tag:classifieds.example,2025:austin/2001",
        "feed:tag:classifieds.example,2025:austin/2002",
    ]
    assert all(a.region == "US" for a in ads)
    assert conn.exhausted and conn.poll() == []
    assert problems.count == 0
    conn.close()
    conn.close()


def test_broken_feed_file_is_a_problem(build: Build, problems: ProblemLog) -> None:
    conn = build(path="broken.xml")
    assert conn.poll() == []
    (problem,) = problems.problems
    assert problem.where == str(FEEDS / "broken.xml") and problem.fatal
    assert problem.reason == "malformed feed (<unknown>:3:0: no element found); kept 0 of 1 entries"
    assert conn.exhausted


def test_missing_feed_file_fails_at_open(build: Build) -> None:
    with pytest.raises(ConnectorError, match="path: no such file"):
        build(path="nope.xml").open()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "give exactly one of 'url' and 'path'"),
        ({"url": "http://a.example/f", "path": "f.xml"}, "exactly one"),
        ({"url": "ftp://a.example/f"}, "url: Value error, must be an http:// or https:// URL"),
        ({"url": "http:///f"}, "must be an http"),
        ({"path": "f.xml", "region": "USA"}, "region: String should match pattern"),
        ({"path": "f.xml", "timeout_seconds": 0}, "timeout_seconds: Input should be greater"),
        ({"path": "f.xml", "every": 5}, "every: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_the_field(
    build: Build, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConnectorError, match="connector 'feed'") as err:
        build(**options)
    assert fragment in str(err.value)


# -- a real HTTP server ---------------------------------------------------------------------
@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def headers_of(self, n: int) -> dict[str, str]:
        return self.requests[n][1]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.requests.append((self.path, headers))
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            fresh = (route.etag and headers.get("if-none-match") == route.etag) or (
                route.last_modified
                and "if-none-match" not in headers
                and headers.get("if-modified-since") == route.last_modified
            )
            self.send_response(304 if fresh else route.status)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            body = b"" if fresh else route.body
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def rss2_route(**kwargs: Any) -> Route:
    return Route((FEEDS / "rss2.xml").read_bytes(), **kwargs)


def test_conditional_get_with_etag(
    build: Build, feed_server: FeedServer, problems: ProblemLog, state: SourceState
) -> None:
    feed_server.routes["/feed.xml"] = rss2_route(etag='"v1"', last_modified=LAST_MODIFIED)
    conn = build(url=f"{feed_server.base}/feed.xml")
    conn.open()
    first = conn.poll()
    assert [a.source_id for a in first][:1] == ["listing-1001"] and len(first) == 3
    sent = feed_server.headers_of(0)
    assert sent["user-agent"] == UA
    assert "if-none-match" not in sent and "if-modified-since" not in sent
    assert state.cursor("feed", "etag") is None  # not before the ads are out

    assert conn.poll() == []  # 304
    sent = feed_server.headers_of(1)
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == LAST_MODIFIED
    assert state.cursor("feed", "etag") == '"v1"'
    assert state.cursor("feed", "last_modified") == LAST_MODIFIED
    assert not conn.exhausted

    feed_server.routes["/feed.xml"] = Route(
        (FEEDS / "atom.xml").read_bytes(), content_type="application/atom+xml", etag='"v2"'
    )
    assert len(conn.poll()) == 2  # changed: a full response
    assert feed_server.headers_of(2)["if-none-match"] == '"v1"'
    assert conn.poll() == []
    assert feed_server.headers_of(3)["if-none-match"] == '"v2"'
    assert "if-modified-since" not in feed_server.headers_of(3)  # v2 came without one
    assert problems.count == 0
    conn.close()


def test_validators_survive_a_restart_only_once_saved(
    build: Build, feed_server: FeedServer, state: SourceState
) -> None:
    url = f"{feed_server.base}/feed.xml"
    feed_server.routes["/feed.xml"] = rss2_route(etag='"v1"')
    crashed = build(url=url)
    assert len(crashed.poll()) == 3
    crashed.close()  # before the next poll: were those ads published? unknown

    again = build(url=url)
    assert len(again.poll()) == 3  # fetched in full again: at least once
    assert "if-none-match" not in feed_server.headers_of(1)
    assert again.poll() == []  # now saved
    again.close()

    third = build(url=url)
    assert third.poll() == []
    assert feed_server.headers_of(3)["if-none-match"] == '"v1"'
    third.close()

    other = build(url=f"{feed_server.base}/other.xml")
    feed_server.routes["/other.xml"] = rss2_route(etag='"v1"')
    assert len(other.poll()) == 3  # validators of another URL are not sent
    assert "if-none-match" not in feed_server.headers_of(4)
    other.close()


def test_last_modified_alone(build: Build, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = rss2_route(last_modified=LAST_MODIFIED)
    conn = build(url=f"{feed_server.base}/feed.xml")
    assert len(conn.poll()) == 3
    assert conn.poll() == []
    assert feed_server.headers_of(1)["if-modified-since"] == LAST_MODIFIED
    conn.close()


def test_http_error_is_a_problem(
    build: Build, feed_server: FeedServer, problems: ProblemLog
) -> None:
    url = f"{feed_server.base}/gone.xml"
    conn = build(url=url)
    assert conn.poll() == []
    (problem,) = problems.problems
    assert (problem.where, problem.reason, problem.fatal) == (url, "HTTP 404 Not Found", False)
    assert not conn.exhausted
    conn.close()


def test_broken_feed_over_http_is_a_problem_and_refetched_in_full(
    build: Build, feed_server: FeedServer, problems: ProblemLog
) -> None:
    url = f"{feed_server.base}/feed.xml"
    feed_server.routes["/feed.xml"] = Route((FEEDS / "broken.xml").read_bytes(), etag='"b"')
    conn = build(url=url)
    assert conn.poll() == [] and conn.poll() == []
    assert [p.reason for p in problems.problems] == [
        "malformed feed (<unknown>:3:0: no element found); kept 0 of 1 entries"
    ] * 2
    assert all(p.where == url and not p.fatal for p in problems.problems)
    assert "if-none-match" not in feed_server.headers_of(1)  # a broken feed's ETag is not kept
    conn.close()


def test_html_page_is_not_a_feed(
    build: Build, feed_server: FeedServer, problems: ProblemLog
) -> None:
    feed_server.routes["/"] = Route(
        b"<html><body><p>Welcome</p></body></html>", content_type="text/html"
    )
    conn = build(url=f"{feed_server.base}/")
    assert conn.poll() == []
    (problem,) = problems.problems
    assert problem.reason.startswith("not an RSS or Atom feed")
    conn.close()


def test_feed_served_as_text_html_still_parses(
    build: Build, feed_server: FeedServer, problems: ProblemLog
) -> None:
    feed_server.routes["/feed"] = rss2_route(content_type="text/html")
    conn = build(url=f"{feed_server.base}/feed")
    assert len(conn.poll()) == 3
    assert problems.count == 0
    conn.close()


def test_relative_links_resolve_against_the_feed_url(build: Build, feed_server: FeedServer) -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Bookshelf</title><link>/ads/77</link></item></channel></rss>"
    )
    feed_server.routes["/city/feed.xml"] = Route(feed)
    conn = build(url=f"{feed_server.base}/city/feed.xml")
    (ad,) = conn.poll()
    assert ad.url == ad.source_id == f"{feed_server.base}/ads/77"
    conn.close()


def test_invalid_entry_is_a_problem_with_its_link(
    build: Build, feed_server: FeedServer, problems: ProblemLog
) -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><link>https://classifieds.example/9</link></item>"
        b"<item><title>Desk</title><description>Call 212-555-0140</description></item>"
        b"</channel></rss>"
    )
    feed_server.routes["/feed.xml"] = Route(feed)
    conn = build(url=f"{feed_server.base}/feed.xml")
    (ad,) = conn.poll()
    assert ad.title == "Desk"
    (problem,) = problems.problems
    assert problem.where == "https://classifieds.example/9"
    assert "non-empty title or body" in problem.reason
    conn.close()


def test_unreachable_server_is_a_problem(build: Build, problems: ProblemLog) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"
    conn = build(url=url, timeout_seconds=5)
    assert conn.poll() == []
    (problem,) = problems.problems
    assert problem.where == url and problem.reason.startswith("fetch failed: ConnectError")
    conn.close()
