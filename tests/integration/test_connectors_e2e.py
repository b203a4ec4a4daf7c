"""Site crawl to Kafka on the real broker: each ad published once, restarts publish only
what is new or changed, robots.txt and the rate limit hold, problems are reported."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import Problem
from connectors.config import ConnectorSpec
from connectors.runner import ConnectorRunner
from connectors.service import open_runner
from connectors.site import SiteConnector
from connectors.site_config import load_site_config
from pipeline import topics
from pipeline.cli.ingest_cmd import ingest_files
from pipeline.settings import Settings
from pipeline.topic_reader import read_records
from tests.fixtures.site_server import AD_IDS, MISSING_TITLE_AD, SiteServer, gaps
from tests.fixtures.warc_fixture import GOOD_ADS, write_warc
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "connectors" / "sites" / "example.yaml"
INTERVAL = 0.2  # seconds between requests to the fixture host


def site_config(tmp_path: Path, server: SiteServer) -> Path:
    text = EXAMPLE.read_text()
    text = text.replace("http://127.0.0.1:8155/list?page=1", server.url("/list?page=1"))
    text = re.sub(r"min_interval_seconds: [\d.]+", f"min_interval_seconds: {INTERVAL}", text)
    text = re.sub(r"(?m)^(\s+)backoff_seconds: [\d.]+", r"\1backoff_seconds: 0.2", text)
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def crawl_once(runner: ConnectorRunner) -> SiteConnector:
    """Step the runner until the site connector has finished one crawl cycle."""
    (site,) = runner.connectors
    assert isinstance(site, SiteConnector)
    before = site.stats.cycles
    wait_for(lambda: (runner.step(), site.stats.cycles > before)[1], 60, "a crawl cycle")
    return site


def raw_keys(settings: Settings, minimum: int) -> Counter[str]:
    assert settings.kafka.bootstrap
    records = read_records(settings, settings.kafka.bootstrap, topics.RAW, min_count=minimum)
    return Counter(r.key.decode() for r in records)


def test_site_crawl_publishes_once_and_restart_only_changes(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    assert settings.kafka.bootstrap
    problems: list[Problem] = []
    spec = ConnectorSpec(
        name="site", type="site", every_seconds=3600, options={"site": "site.yaml"}
    )
    expected = {f"fixture-classifieds:{i}" for i in AD_IDS if i != MISSING_TITLE_AD}

    with SiteServer() as server:
        site_config(tmp_path, server)
        with open_runner(
            settings, [spec], tmp_path, settings.kafka.bootstrap, problems.append
        ) as runner:
            crawl_once(runner)
        first = raw_keys(settings, len(expected))
        assert set(first) == expected and set(first.values()) == {1}

        # robots.txt: the linked /private/ page was never requested.
        assert not server.requests("/private/")
        # The rate limit held for every request to the host.
        assert min(gaps(server.requests("/"))) >= INTERVAL - 0.08  # server-side read jitter
        # The page without a title was reported with its URL and the field, once.
        missing = [p for p in problems if p.field == "title"]
        assert len(missing) == 1 and missing[0].where.endswith(f"/ad/{MISSING_TITLE_AD}.html")
        # The throttled page was fetched again after its 429 and published.
        assert [r.status for r in server.requests("/ad/106.html")][:2] == [429, 200]

        # Restart (new runner, same state file) after one ad changed on the site.
        server.set_ad_body("102", "Oak desk, like new. Text 212 555 0142 after six.")
        with open_runner(
            settings, [spec], tmp_path, settings.kafka.bootstrap, problems.append
        ) as runner:
            site = crawl_once(runner)
            assert site.stats.not_modified >= len(expected) - 1  # 304s: validators were kept
        second = raw_keys(settings, len(expected) + 1)
        changed = "fixture-classifieds:102"
        assert second[changed] == 2
        assert all(n == 1 for key, n in second.items() if key != changed)
        revisits = [r for r in server.requests("/ad/10") if r.started > 0]
        assert any("if-none-match" in r.headers for r in revisits)


def test_ingest_a_warc_through_a_site_config(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    assert settings.kafka.bootstrap
    archive = write_warc(tmp_path / "crawl.warc.gz")
    shown: list[str] = []
    summary = ingest_files(
        [archive],
        settings,
        settings.kafka.bootstrap,
        sites=[load_site_config(EXAMPLE)],
        on_problem=shown.append,
    )
    assert summary.published == len(GOOD_ADS) and summary.delivered == len(GOOD_ADS)
    assert summary.rejected == 1 and any(f"/ad/{MISSING_TITLE_AD}.html" in s for s in shown)
    keys = raw_keys(settings, len(GOOD_ADS))
    assert set(keys) == {f"fixture-classifieds:{i}" for i in GOOD_ADS}
