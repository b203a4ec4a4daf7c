"""WARC import through the site configs, with archives written by warcio at test time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.warcwriter import WARCWriter

from connectors.base import Connector, ConnectorContext, ConnectorError, ProblemLog
from connectors.site_config import SiteConfig, load_site_config
from connectors.state import SourceState
from connectors.warc import WarcConnector, WarcStats, read_warc
from schemas import RawAd
from tests.fixtures.warc_fixture import GOOD_ADS, HOST, response, write_warc

EXAMPLE = Path(__file__).parents[3] / "connectors" / "sites" / "example.yaml"


@pytest.fixture
def site() -> SiteConfig:
    return load_site_config(EXAMPLE)


@pytest.fixture(params=["crawl.warc", "crawl.warc.gz"])
def warc(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_warc(tmp_path / str(request.param))


def read(path: Path, site: SiteConfig) -> tuple[list[RawAd], ProblemLog, WarcStats]:
    log, stats = ProblemLog(), WarcStats()
    ads = list(read_warc(path, [site], log, source="warc-test", stats=stats))
    return ads, log, stats


def test_warc_import(warc: Path, site: SiteConfig) -> None:
    ads, log, stats = read(warc, site)
    assert [ad.source_id for ad in ads] == GOOD_ADS
    assert {ad.source for ad in ads} == {"fixture-classifieds"}
    ad = ads[2]
    assert ad.url == f"{HOST}/ad/103.html"
    assert ad.title == "Friendly companion for dinner and date night"
    assert "seven zero two 555 O147" in ad.body
    assert ad.image_urls == [f"{HOST}/img/103-1.jpg"]
    assert ad.scraped_at.tzinfo is not None  # from WARC-Date
    assert [(p.where, p.field, p.reason, p.fatal) for p in log.problems] == [
        (f"{HOST}/ad/104.html", "title", "missing field 'title'", False)
    ]
    assert log.problems[0].source == "warc-test"
    # warcinfo, listing, request, 404 and image are skipped, not problems
    assert (stats.records, stats.ads, stats.skipped, stats.problems) == (13, 7, 5, 1)


def test_pages_no_site_owns_are_skipped(warc: Path, site: SiteConfig) -> None:
    other = site.model_copy(update={"url_pattern": r"^https://elsewhere\.example/"})
    ads, log, stats = read(warc, other)
    assert ads == [] and log.count == 0 and stats.skipped == stats.records


def test_charset_from_the_http_header(tmp_path: Path, site: SiteConfig) -> None:
    path = tmp_path / "latin1.warc"
    page = "<h1 class='ad-title'>Café table</h1><div class='ad-body'>Crème finish</div>"
    with path.open("wb") as out:
        response(
            WARCWriter(out, gzip=False),
            f"{HOST}/ad/7.html",
            f"<html><body><article class='ad'>{page}</article></body></html>".encode("latin-1"),
            ctype="text/html; charset=ISO-8859-1",
        )
    ads, _, _ = read(path, site)
    assert (ads[0].title, ads[0].body) == ("Café table", "Crème finish")


def damaged(path: Path, cut_at: float) -> Path:
    data = path.read_bytes()
    out = path.with_name("cut-" + path.name)
    out.write_bytes(data[: int(len(data) * cut_at)])
    return out


@pytest.mark.parametrize("cut_at", [0.6, 0.999])
def test_truncated_warc_gives_a_fatal_problem_after_the_ads_before_it(
    warc: Path, site: SiteConfig, cut_at: float
) -> None:
    ads, log, _ = read(damaged(warc, cut_at), site)
    assert 0 < len(ads) < len(GOOD_ADS) or cut_at > 0.99
    assert [ad.source_id for ad in ads] == GOOD_ADS[: len(ads)]
    fatal = [p for p in log.problems if p.fatal]
    assert len(fatal) == 1 and log.problems[-1] is fatal[0]
    assert fatal[0].where.endswith(f"cut-{warc.name}")
    assert fatal[0].reason.startswith("truncated or corrupt WARC: ")
    count = f"{len(ads)} ad{'' if len(ads) == 1 else 's'} imported before the damage"
    assert count in fatal[0].reason


def test_garbage_is_a_fatal_problem(tmp_path: Path, site: SiteConfig) -> None:
    cases = [
        ("junk.warc", bytes(range(256)) * 4),
        ("junk.warc.gz", b"\x1f\x8b\x08junk"),
        ("page.warc", b"<html>not a warc</html>\n"),
        ("no-uri.warc", b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9\r\n\r\nshort"),
    ]
    for name, data in cases:
        path = tmp_path / name
        path.write_bytes(data)
        ads, log, _ = read(path, site)
        assert ads == []
        assert [p.fatal for p in log.problems] == [True], name
        assert "0 ads imported before the damage" in log.problems[0].reason


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ConnectorContext]:
    with SourceState(tmp_path / "state.sqlite3") as state:
        yield ConnectorContext(state, ProblemLog(), tmp_path)


def test_warc_connector(tmp_path: Path, ctx: ConnectorContext) -> None:
    write_warc(tmp_path / "a.warc.gz", ("101", "102", "104"))
    write_warc(tmp_path / "b.warc", ("105", "106", "107", "108"))
    damaged(write_warc(tmp_path / "c.warc.gz", ("103",)), 0.5)  # written as cut-c.warc.gz
    options = {
        "paths": ["a.warc.gz", "cut-c.warc.gz", str(tmp_path / "b.warc")],
        "sites": [str(EXAMPLE)],
        "batch_size": 2,
    }
    conn = WarcConnector.from_config("warc-import", options, ctx)
    assert isinstance(conn, Connector)
    conn.open()
    ads: list[RawAd] = []
    polls = 0
    while not conn.exhausted:
        batch = conn.poll()
        assert len(batch) <= 2
        ads.extend(batch)
        polls += 1
    conn.close()
    conn.close()
    assert [ad.source_id for ad in ads] == ["101", "102", "105", "106", "107", "108"]
    assert polls == 4 and conn.poll() == []
    log = ctx.report
    assert isinstance(log, ProblemLog)
    assert [(p.source, p.field, p.fatal) for p in log.problems] == [
        ("warc-import", "title", False),
        ("warc-import", None, True),
    ]
    assert "cut-c.warc.gz" in log.problems[1].where
    assert "0 ads imported before the damage" in log.problems[1].reason
    assert conn.stats.ads == 6


def test_warc_connector_config_errors(tmp_path: Path, ctx: ConnectorContext) -> None:
    write_warc(tmp_path / "a.warc")
    no_pattern = tmp_path / "site.yaml"
    no_pattern.write_text(
        EXAMPLE.read_text().replace("url_pattern:", "# url_pattern:"), encoding="utf-8"
    )
    cases = [
        ({"paths": ["missing.warc"], "sites": [str(EXAMPLE)]}, "no such file"),
        ({"paths": ["a.warc"], "sites": ["site.yaml"]}, "has no url_pattern"),
        ({"paths": [], "sites": [str(EXAMPLE)]}, "paths: List should have at least 1 item"),
        ({"paths": ["a.warc"]}, "sites: Field required"),
    ]
    for options, message in cases:
        with pytest.raises(ConnectorError, match=message):
            WarcConnector.from_config("w", options, ctx)


def test_an_oversized_page_is_a_problem(
    tmp_path: Path, site: SiteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.warc.MAX_PAGE_BYTES", 500)
    ads, log, _ = read(write_warc(tmp_path / "big.warc", ("101",)), site)
    assert ads == []
    assert [(p.where, p.reason) for p in log.problems] == [
        (f"{HOST}/ad/101.html", "page larger than 500 bytes")
    ]
