"""Site configs, page parsing, and the site connector crawling the real fixture server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import site as site_mod
from connectors.base import Connector, ConnectorContext, ConnectorError, ProblemLog
from connectors.http import PoliteClient
from connectors.site import (
    PageError,
    SiteConnector,
    parse_ad_page,
    parse_listing,
)
from connectors.site_config import SiteConfig, SiteConfigError, load_site_config, site_config
from connectors.state import SourceState
from schemas import RawAd
from tests.fixtures.site_server import SITE_DIR, SiteServer, gaps

EXAMPLE = Path(__file__).parents[3] / "connectors" / "sites" / "example.yaml"
FETCHED = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
GOOD_ADS = ["101", "102", "103", "105", "106", "107", "108"]  # 104 has no title
TOLERANCE = 0.08  # the server logs starts when it reads the headers: that jitters under load

BASE: dict[str, Any] = {
    "source": "fx",
    "listing_urls": ["http://127.0.0.1/list"],
    "ad_links": "css:a.ad::attr(href)",
    "fields": {"title": "css:h1::text", "body": "css:div.body"},
    "source_id": {"regex": r"/ad/(\d+)"},
}
PAGE = """<html><head><title>Page title</title></head><body>
<h1>  Blue   bicycle,
  barely used </h1>
<div class="body"><p>Ten speed, new tires.</p><p>Call   (503) 555-0111 &amp; ask.</p>
<script>var hidden = 1;</script></div>
<span class="where">Portland,
  OR</span><span data-id="A-77" class="id">A-77</span>
<time datetime="2025-06-01T10:00:00+02:00">June 1, 2025</time>
<img src="/i/1.jpg"><img src="https://cdn.example/2.jpg"><img src="/i/1.jpg">
<ul><li><a class="ad" href="/ad/1.html#top">one</a></li>
<li><a class="ad" href="/ad/2.html">two</a></li>
<li><a class="ad" href="/ad/1.html">again</a></li>
<li><a class="ad" href="mailto:x@example.com">m</a></li>
</ul><a class="next" href="?page=2">next</a>
</body></html>"""
URL = "https://classifieds.example/ad/42.html"


def config(**changes: Any) -> SiteConfig:
    data = {**BASE, **changes}
    return site_config({k: v for k, v in data.items() if v is not None})


# -- config validation --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": {"title": "h1::text"}}, r"fields\.title: .*must start with 'css:' or 'xpath:'"),
        ({"fields": {"title": "css:h1["}}, r"fields\.title: .*invalid css selector"),
        ({"fields": {"body": "xpath://div["}}, r"fields\.body: .*invalid xpath selector"),
        ({"ad_links": "regex:.*"}, r"ad_links: .*must start with"),
        ({"url_pattern": "(unclosed"}, r"url_pattern: .*invalid regular expression"),
        ({"source_id": {"regex": r"/ad/(\d+)/(\d+)"}}, r"source_id: .*exactly one group"),
        ({"source_id": {"regex": "(x)", "selector": "css:a"}}, r"source_id: .*exactly one of"),
        ({"source_id": {}}, r"source_id: .*exactly one of"),
        ({"fields": {"location": "css:span"}}, r"give a selector for 'title' or 'body'"),
        ({"required": ["location"]}, r"location has no selector"),
        ({"required": ["images"], "fields": {"title": "css:h1", "images": "css:img"}}, r"'title'"),
        ({"required": ["price"]}, r"required\.0: Input should be"),
        ({"listing_urls": ["/list?page=1"]}, r"listing_urls\.0: .*absolute http"),
        ({"listing_urls": []}, r"listing_urls: List should have at least 1 item"),
        ({"region": "us"}, r"region: String should match"),
        ({"source": "has space"}, r"source: String should match"),
        ({"politeness": {"concurrency": 0}}, r"politeness\.concurrency: "),
        ({"colour": "blue"}, r"colour: Extra inputs are not permitted"),
    ],
)
def test_config_errors_name_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SiteConfigError, match=message):
        config(**changes)


def test_default_required_fields_are_the_configured_text_fields() -> None:
    assert config().required_fields == ["title", "body"]
    assert config(fields={"body": "css:div"}).required_fields == ["body"]
    assert config(required=["body"]).required_fields == ["body"]


def test_example_config_loads_and_takes_overrides() -> None:
    site = load_site_config(EXAMPLE)
    assert site.source == "fixture-classifieds" and site.region == "US"
    assert site.owns("http://127.0.0.1:8155/ad/101.html")
    assert not site.owns("http://127.0.0.1:8155/list?page=1")
    over = load_site_config(
        EXAMPLE, {"listing_urls": ["http://x.example/l"], "politeness": {"concurrency": 2}}
    )
    assert over.listing_urls == ["http://x.example/l"]
    assert over.politeness.concurrency == 2
    assert over.politeness.min_interval_seconds == site.politeness.min_interval_seconds


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="cannot read"):
        load_site_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(SiteConfigError, match=r"bad\.yaml: expected a mapping"):
        load_site_config(bad)
    bad.write_text("source: [unclosed\n")
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        load_site_config(bad)
    bad.write_text(yaml.safe_dump({**BASE, "fields": {"title": "h1"}}))
    with pytest.raises(SiteConfigError, match=r"bad\.yaml: fields\.title"):
        load_site_config(bad)


# -- page parsing -------------------------------------------------------------------------
CSS = {
    "title": "css:h1::text",
    "body": "css:div.body",
    "location": "css:span.where::text",
    "posted_at": "css:time::attr(datetime)",
    "images": "css:img::attr(src)",
    "extra": {"page_title": "css:title::text"},
}
XPATH = {
    "title": "xpath://h1/text()",
    "body": "xpath://div[@class='body']/p",
    "location": "xpath:normalize-space(//span[@class='where'])",
    "posted_at": "xpath://time/@datetime",
    "images": "xpath://img/@src",
    "extra": {"page_title": "xpath://title"},
}


@pytest.mark.parametrize("fields", [CSS, XPATH], ids=["css", "xpath"])
def test_parse_ad_page_extracts_every_field(fields: dict[str, Any]) -> None:
    ad = parse_ad_page(config(fields=fields, region="US"), URL, PAGE, FETCHED)
    assert ad.source == "fx" and ad.source_id == "42" and ad.url == URL
    assert ad.title == "Blue bicycle, barely used"
    assert ad.body == "Ten speed, new tires.\nCall (503) 555-0111 & ask."
    assert ad.location == "Portland, OR"
    assert ad.posted_at == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert ad.scraped_at == FETCHED and ad.region == "US"
    assert ad.image_urls == [
        "https://classifieds.example/i/1.jpg",
        "https://cdn.example/2.jpg",
    ]
    assert ad.extra == {"page_title": "Page title"}


@pytest.mark.parametrize(
    ("changes", "url", "field", "reason"),
    [
        ({"fields": {"title": "css:h2::text", "body": "css:div.body"}}, URL, "title", "missing"),
        ({"fields": {"title": "css:h1::text", "body": "css:div.none"}}, URL, "body", "missing"),
        (
            {
                "fields": {"title": "css:h1::text", "images": "css:video::attr(src)"},
                "required": ["title", "images"],
            },
            URL,
            "images",
            "missing field 'images'",
        ),
        ({}, "https://classifieds.example/about.html", "source_id", "found no id"),
        ({"source_id": {"selector": "css:b.id::text"}}, URL, "source_id", "found no id"),
        (
            {"fields": {**CSS, "posted_at": "css:time::text"}, "required": ["title", "posted_at"]},
            URL,
            "posted_at",
            "unparseable posting time 'June 1, 2025'",
        ),
    ],
)
def test_parse_ad_page_errors_name_the_field(
    changes: dict[str, Any], url: str, field: str, reason: str
) -> None:
    with pytest.raises(PageError) as info:
        parse_ad_page(config(**changes), url, PAGE, FETCHED)
    assert (info.value.url, info.value.field) == (url, field)
    assert reason in info.value.reason


def test_source_id_by_selector_and_posted_at_format() -> None:
    site = config(
        source_id={"selector": "css:span.id::attr(data-id)"},
        fields={**CSS, "posted_at": "css:time::text"},
        posted_at_format="%B %d, %Y",
    )
    ad = parse_ad_page(site, "https://classifieds.example/any", PAGE, FETCHED)
    assert ad.source_id == "A-77"
    assert ad.posted_at == datetime(2025, 6, 1, tzinfo=UTC)


def test_unparseable_optional_time_is_kept_as_text() -> None:
    ad = parse_ad_page(config(fields={**CSS, "posted_at": "css:time::text"}), URL, PAGE, FETCHED)
    assert ad.posted_at is None
    assert ad.extra["posted_at_text"] == "June 1, 2025"


def test_optional_fields_may_be_missing() -> None:
    html = "<html><body><div class='body'>Only a body here.</div></body></html>"
    ad = parse_ad_page(config(fields=CSS, required=["body"]), URL, html, FETCHED)
    assert (ad.title, ad.body, ad.location, ad.posted_at) == ("", "Only a body here.", None, None)
    assert ad.image_urls == []


def test_parse_listing_resolves_and_dedupes_links() -> None:
    listing = parse_listing(config(next_page="css:a.next::attr(href)"), URL, PAGE)
    assert listing.ad_links == [
        "https://classifieds.example/ad/1.html",
        "https://classifieds.example/ad/2.html",
    ]
    assert listing.next_page == "https://classifieds.example/ad/42.html?page=2"
    assert parse_listing(config(), URL, PAGE).next_page is None


def test_fixture_ad_page_parses_with_the_example_config() -> None:
    site = load_site_config(EXAMPLE)
    url = "http://127.0.0.1:8155/ad/103.html"
    ad = parse_ad_page(site, url, (SITE_DIR / "ad" / "103.html").read_text(), FETCHED)
    assert ad.source_id == "103" and ad.location == "Las Vegas, NV"
    assert ad.body.splitlines()[1] == "Text me at seven zero two 555 O147 to book."
    assert ad.image_urls == ["http://127.0.0.1:8155/img/103-1.jpg"]


# -- the connector against the real server ------------------------------------------------
@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer(throttle=False) as s:
        yield s


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SourceState]:
    with SourceState(tmp_path / "connectors.sqlite3") as s:
        yield s


def connector(
    server: SiteServer, state: SourceState, log: ProblemLog, **politeness: Any
) -> SiteConnector:
    options = {
        "site": "example.yaml",
        "listing_urls": [server.url("/list?page=1")],
        "recrawl_seconds": 0,
        "politeness": {"min_interval_seconds": 0.02, "backoff_seconds": 0.05, **politeness},
    }
    ctx = ConnectorContext(state, log, EXAMPLE.parent, user_agent="adwatch-test/1.0")
    conn = SiteConnector.from_config("fixture", options, ctx)
    conn.open()
    return conn


def crawl(conn: SiteConnector, timeout: float = 15.0) -> list[RawAd]:
    """Poll until one more crawl cycle is complete; every ad returned."""
    cycles, ads = conn.stats.cycles, []
    deadline = time.monotonic() + timeout
    while conn.stats.cycles == cycles:
        assert time.monotonic() < deadline, "crawl did not finish"
        ads.extend(conn.poll())
    return ads


def publish(state: SourceState, ads: list[RawAd]) -> list[str]:
    """What the runner does: publish new or changed ads, then record them."""
    new = [ad for ad in ads if state.is_new_or_changed(ad)]
    state.mark_published(new)
    return [ad.source_id for ad in new]


def ids(ads: list[RawAd]) -> list[str]:
    return sorted(ad.source_id for ad in ads)


def test_site_connector_is_a_connector(server: SiteServer, state: SourceState) -> None:
    conn = connector(server, state, ProblemLog())
    assert isinstance(conn, Connector)
    assert not conn.exhausted
    conn.close()
    conn.close()


def test_first_crawl_publishes_each_ad_once_and_reports_problems(tmp_path: Path) -> None:
    log = ProblemLog()
    interval = 0.1
    with SiteServer() as server, SourceState(tmp_path / "s.sqlite3") as state:
        conn = connector(server, state, log, min_interval_seconds=interval)
        ads = crawl(conn)
        conn.close()
        assert ids(ads) == GOOD_ADS  # each once, though /ad/101.html is listed twice
        assert {ad.source for ad in ads} == {"fixture-classifieds"}
        by_where = {p.where: p for p in log.problems}
        assert len(log.problems) == 2 and conn.stats.problems == 2
        missing = by_where[server.url("/ad/104.html")]
        assert (missing.field, missing.reason, missing.source) == (
            "title",
            "missing field 'title'",
            "fixture",
        )
        assert by_where[server.url("/private/ad-900.html")].reason == "disallowed by robots.txt"
        assert not server.paths("/private/")
        assert server.paths("/list") == ["/list?page=1", "/list?page=2", "/list?page=3"]
        throttled = server.requests("/ad/106.html")
        assert [r.status for r in throttled] == [429, 200]
        assert throttled[1].started - throttled[0].started >= 1.0 - TOLERANCE
        assert min(gaps(server.requests())) >= interval - TOLERANCE
        assert len(server.paths("/robots.txt")) == 1


def test_concurrency_fetches_in_parallel_but_never_more(
    server: SiteServer, state: SourceState
) -> None:
    server.response_delay = 0.1
    conn = connector(server, state, ProblemLog(), concurrency=2, min_interval_seconds=0.0)
    ads = crawl(conn)
    conn.close()
    assert ids(ads) == GOOD_ADS
    assert server.max_in_flight == 2


def test_recrawl_sends_validators_and_yields_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "connectors.sqlite3"
    log = ProblemLog()
    with SiteServer(throttle=False) as server:
        with SourceState(path) as state:
            conn = connector(server, state, log)
            first = crawl(conn)
            # the broker took all but 102: its validators stay uncommitted
            publish(state, [ad for ad in first if ad.source_id != "102"])
            server.reset_log()
            second = crawl(conn)
            assert ids(second) == ["102"]
            sent = {r.path: r.headers for r in server.requests("/ad/")}
            assert "if-none-match" not in sent["/ad/102.html"]
            assert "if-none-match" not in sent["/ad/104.html"]  # never published
            assert all("if-none-match" in sent[f"/ad/{a}.html"] for a in GOOD_ADS if a != "102")
            assert {r.status for r in server.requests("/ad/") if r.path != "/ad/102.html"} == {
                304,
                200,  # 104 (missing title) is fetched again and reported again
            }
            assert publish(state, second) == ["102"]
            server.set_ad_body("105", "Now by appointment only. Call 702.555.0133.")
            third = crawl(conn)
            assert ids(third) == ["105"] and "appointment" in third[0].body
            assert publish(state, third) == ["105"]
            conn.close()
        # restart: a new state object on the same file, a new connector
        server.set_ad_body("107", "Plans changed, call 615-555-0162 instead.")
        server.reset_log()
        with SourceState(path) as state:
            conn = connector(server, state, ProblemLog())
            after_restart = crawl(conn)
            conn.close()
            assert publish(state, after_restart) == ["107"]
            assert ids(after_restart) == ["107"]
            assert conn.stats.not_modified == len(GOOD_ADS) - 1
    missing = [p for p in log.problems if p.field == "title"]
    assert len(missing) == 3  # once per crawl: reported every time, never skipped


def test_without_validators_the_runner_still_publishes_only_changes(
    server: SiteServer, state: SourceState
) -> None:
    conn = connector(server, state, ProblemLog())
    first = crawl(conn)
    assert sorted(publish(state, first)) == GOOD_ADS
    # the state forgets validators (e.g. a site without ETags): content hash decides
    state._db.execute("DELETE FROM http")
    again = crawl(conn)
    conn.close()
    assert ids(again) == GOOD_ADS
    assert publish(state, again) == []


def test_recrawl_waits_for_recrawl_seconds(server: SiteServer, state: SourceState) -> None:
    now = [0.0]
    ctx = ConnectorContext(state, ProblemLog(), EXAMPLE.parent)
    site = load_site_config(
        EXAMPLE,
        {
            "listing_urls": [server.url("/list?page=3")],
            "recrawl_seconds": 60,
            "politeness": {"min_interval_seconds": 0},
        },
    )
    conn = SiteConnector("fixture", site, ctx, clock=lambda: now[0])
    ads = crawl(conn)
    assert ids(ads) == ["101", "107", "108"]
    requests = len(server.requests())
    now[0] = 59.0
    assert conn.poll() == [] and len(server.requests()) == requests
    now[0] = 60.0
    conn.poll()
    assert server.paths()[-1] == "/list?page=3"
    conn.close()


def test_polls_are_small_steps(server: SiteServer, state: SourceState) -> None:
    conn = connector(server, state, ProblemLog())
    assert conn.poll() == []  # robots.txt and the first listing page
    assert server.paths() == ["/robots.txt", "/list?page=1"]
    assert [ad.source_id for ad in conn.poll()] == ["101"]  # batch size = concurrency = 1
    assert server.paths()[-1] == "/ad/101.html"
    conn.close()


def test_listing_problems_are_reported(server: SiteServer, state: SourceState) -> None:
    log = ProblemLog()
    conn = connector(server, state, log)
    conn.site = conn.site.model_copy(
        update={"listing_urls": [server.url("/list?page=9"), server.url("/ad/101.html")]}
    )
    assert crawl(conn) == []
    conn.close()
    assert [(p.where, p.reason, p.field) for p in log.problems] == [
        (server.url("/list?page=9"), "HTTP 404", None),
        (
            server.url("/ad/101.html"),
            "no ad links on listing page (selector 'css:ul.ads a.ad-link::attr(href)')",
            "ad_links",
        ),
    ]


def test_from_config_errors_name_the_connector(tmp_path: Path, state: SourceState) -> None:
    ctx = ConnectorContext(state, ProblemLog(), EXAMPLE.parent)
    with pytest.raises(ConnectorError, match=r"connector 'x': colour: Extra inputs"):
        SiteConnector.from_config("x", {"site": "example.yaml", "colour": 1}, ctx)
    with pytest.raises(ConnectorError, match=r"connector 'x': site: Field required"):
        SiteConnector.from_config("x", {}, ctx)
    with pytest.raises(ConnectorError, match=r"missing\.yaml: cannot read"):
        SiteConnector.from_config("x", {"site": "missing.yaml"}, ctx)
    with pytest.raises(ConnectorError, match=r"politeness\.concurrency"):
        SiteConnector.from_config(
            "x", {"site": "example.yaml", "politeness": {"concurrency": 99}}, ctx
        )


def test_test_page_shows_what_each_selector_extracts(server: SiteServer) -> None:
    site = load_site_config(EXAMPLE, {"politeness": {"min_interval_seconds": 0}})
    with PoliteClient(site.politeness) as client:
        good = site_mod.test_page(site, server.url("/ad/103.html"), client)
        bad = site_mod.test_page(site, server.url("/ad/104.html"), client)
        listing = site_mod.test_page(site, server.url("/list?page=2"), client)
        gone = site_mod.test_page(site, server.url("/ad/999.html"), client)
    assert good["status"] == 200 and good["error"] is None
    assert good["fields"]["location"]["values"] == ["Las Vegas, NV"]
    assert good["ad"]["source_id"] == "103"
    assert bad["fields"]["title"]["values"] == [] and bad["ad"] is None
    assert bad["error"] == {"field": "title", "reason": "missing field 'title'"}
    assert listing["listing"]["ad_links"][-1] == server.url("/private/ad-900.html")
    assert listing["listing"]["next_page"] == server.url("/list?page=3")
    assert gone == {
        "url": server.url("/ad/999.html"),
        "status": 404,
        "error": {"field": "fetch", "reason": "HTTP 404"},
    }


def test_test_connector_page_gives_table_rows(server: SiteServer) -> None:
    options = {"site": "example.yaml", "politeness": {"min_interval_seconds": 0}}
    rows = site_mod.test_connector_page(options, EXAMPLE.parent, server.url("/ad/101.html"))
    assert rows["status"] == 200
    assert rows["title"] == "Oak dining table with six chairs"
    assert rows["images"] == "/img/101-1.jpg | /img/101-2.jpg"
    assert rows["source_id"] == "101"
    assert rows["result"] == "ad fixture-classifieds:101"
    rows = site_mod.test_connector_page(options, EXAMPLE.parent, server.url("/list?page=1"))
    assert rows["ad_links"] == f"3 links (first: {server.url('/ad/101.html')})"
    assert rows["result"] == "problem with title: missing field 'title'"
    with pytest.raises(ConnectorError):
        site_mod.test_connector_page({"site": "nope.yaml"}, EXAMPLE.parent, "http://x/")
