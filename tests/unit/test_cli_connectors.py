"""`adwatch connectors list|test` and their errors (running is on the real broker, in
tests/integration/test_connectors_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import Result

from pipeline.cli import connectors_cmd
from tests.fixtures.site_server import SiteServer
from tests.unit.cli_helpers import cli_app, invoke

EXAMPLE = Path(__file__).parents[2] / "connectors" / "sites" / "example.yaml"


@pytest.fixture
def app(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    return cli_app(connectors_cmd.register, monkeypatch)


def run(app: typer.Typer, *args: str) -> Result:
    return invoke(app, ["connectors", *args])


def write_config(folder: Path, body: str) -> Path:
    path = folder / "connectors.yaml"
    path.write_text(body)
    return path


def test_list_shows_the_default_demo_source(app: typer.Typer) -> None:
    result = run(app, "list")
    assert result.exit_code == 0, result.output
    assert "demo" in result.output and "synthetic" in result.output
    assert "built-in demo source" in result.output


def test_list_reads_a_config_file(app: typer.Typer, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "connectors:\n"
        "  - {name: shop, type: files, options: {paths: [a.jsonl]}}\n"
        "  - {name: feed, type: rss, every_seconds: 600, enabled: false,"
        " options: {url: 'http://127.0.0.1:9/feed.xml'}}\n",
    )
    result = run(app, "list", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "shop" in result.output and "feed" in result.output and "600 s" in result.output


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("connectors:\n  - {name: x, type: ftp}\n", "unknown connector type 'ftp'"),
        ("connectors:\n  - {name: a, type: rss}\n  - {name: a, type: rss}\n", "unique"),
        ("connectors: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("connectors:\n  - {name: x, type: rss, every_seconds: -1}\n", "'x'.every_seconds"),
    ],
)
def test_bad_config_files_are_explained(
    app: typer.Typer, tmp_path: Path, body: str, says: str
) -> None:
    result = run(app, "list", "--config", str(write_config(tmp_path, body)))
    assert result.exit_code == 2
    assert says in result.output and str(tmp_path) in result.output


def test_test_prints_what_the_site_config_extracts(app: typer.Typer, tmp_path: Path) -> None:
    with SiteServer() as server:
        (tmp_path / "site.yaml").write_text(
            EXAMPLE.read_text().replace(
                "http://127.0.0.1:8155/list?page=1", server.url("/list?page=1")
            )
        )
        config = write_config(
            tmp_path, "connectors:\n  - {name: ex, type: site, options: {site: site.yaml}}\n"
        )
        good = run(app, "test", "ex", "--url", server.url("/ad/101.html"), "--config", str(config))
        missing = run(
            app, "test", "ex", "--url", server.url("/ad/104.html"), "--config", str(config)
        )
    assert good.exit_code == 0, good.output
    assert "title" in good.output and "101" in good.output
    assert missing.exit_code == 0, missing.output
    assert "title" in missing.output and "missing" in missing.output.lower()


def test_test_refuses_other_types_and_unknown_names(app: typer.Typer, tmp_path: Path) -> None:
    config = write_config(tmp_path, "connectors:\n  - {name: f, type: rss, options: {path: x}}\n")
    other = run(app, "test", "f", "--url", "http://127.0.0.1:9/", "--config", str(config))
    assert other.exit_code == 2 and "works for 'site' connectors" in other.output
    unknown = run(app, "test", "nope", "--url", "http://127.0.0.1:9/", "--config", str(config))
    assert unknown.exit_code == 2 and "no connector named 'nope'" in unknown.output
