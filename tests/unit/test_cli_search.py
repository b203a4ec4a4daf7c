from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from pipeline.cli import search_cmd
from pipeline.cli.search_cmd import parse_when, snippet
from pipeline.sinks.sqlite import SQLiteIndex
from schemas import EnrichedAd, Flag, PhoneMention
from schemas.ads import join_text

NOW = datetime.now(UTC)


@pytest.fixture
def data_dir(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(isolated_env / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables to the terminal width
    return isolated_env / "data"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    search_cmd.register(app)

    @app.command("noop")  # a second command keeps `search` a named subcommand
    def noop() -> None: ...

    return app


@pytest.fixture
def ad_factory() -> Callable[..., EnrichedAd]:
    def build(
        source_id: str, body: str, phone: tuple[str, str] | None = None, **fields: Any
    ) -> EnrichedAd:
        """``phone`` is (raw as written in ``body``, E.164)."""
        text = join_text("", body)
        phones = []
        if phone:
            raw, e164 = phone
            start = text.index(raw)
            phones.append(
                PhoneMention(raw=raw, start=start, end=start + len(raw), extractor="t", e164=e164)
            )
        return EnrichedAd(
            source="site",
            source_id=source_id,
            key=f"site:{source_id}",
            body=body,
            text=text,
            content_hash="h",
            phones=phones,
            **fields,
        )

    return build


@pytest.fixture
def indexed(data_dir: Path, ad_factory: Callable[..., EnrichedAd]) -> list[EnrichedAd]:
    ads = [
        ad_factory(
            "1",
            "new in town call 213-478-2231",
            phone=("213-478-2231", "+12134782231"),
            posted_at=NOW - timedelta(hours=2),
            location="Los Angeles",
            flags=[Flag(id="movement")],
            risk_score=0.3,
        ),
        ad_factory("2", "bike for sale [bold]cheap[/bold]", posted_at=NOW - timedelta(days=3)),
    ]
    with SQLiteIndex.open(data_dir / "index.sqlite3") as index:
        index.write(ads)
    return ads


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, ["search", *args])


def flat(text: str) -> str:
    return " ".join(text.split())


def test_phone_in_national_format_finds_e164(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "--phone", "(213) 478-2231", "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == ["site:1"]


def test_json_lines_parse_as_enriched_ads(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "--json")
    assert result.exit_code == 0, result.output
    parsed = [EnrichedAd.model_validate_json(line) for line in result.stdout.splitlines()]
    assert parsed == indexed  # newest first, nothing lost
    assert json.loads(result.stdout.splitlines()[0]) == indexed[0].model_dump(mode="json")


def test_invalid_phone_is_a_one_line_error(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "--phone", "not-a-phone")
    assert result.exit_code == 2
    assert "--phone" in result.stderr and "not-a-phone" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_missing_index_says_how_to_make_one(app: typer.Typer, data_dir: Path) -> None:
    result = run(app, "fresh")
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert f"no index at {data_dir / 'index.sqlite3'} yet" in message
    assert "run `adwatch up` or `adwatch ingest` first" in message
    assert not data_dir.exists()  # searching must not create the index


def test_human_output_is_a_table_and_count(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "town")
    assert result.exit_code == 0, result.output
    assert "site:1" in result.stdout and "Los Angeles" in result.stdout
    assert "+12134782231" in result.stdout
    assert "1 ad" in result.stdout and "site:2" not in result.stdout


def test_ad_text_is_not_rich_markup(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "bike")
    assert "[bold]cheap[/bold]" in flat(result.stdout)


def test_empty_query_lists_newest_and_notes_limit(
    app: typer.Typer, indexed: list[EnrichedAd]
) -> None:
    result = run(app, "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "site:1" in result.stdout
    assert "limit 1 reached" in flat(result.stdout)


def test_relative_since(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "--since", "24h", "--json")
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == ["site:1"]
    result = run(app, "--until", "1d", "--json")
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == ["site:2"]


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_bad_when_names_the_option(
    app: typer.Typer, indexed: list[EnrichedAd], option: str
) -> None:
    result = run(app, option, "yesterday-ish")
    assert result.exit_code == 2
    assert f"{option}: 'yesterday-ish' is not a date" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_since_after_until_is_readable(app: typer.Typer, indexed: list[EnrichedAd]) -> None:
    result = run(app, "--since", "2024-05-02", "--until", "2024-05-01")
    assert result.exit_code == 2
    assert "'since' must be before 'until'" in flat(result.stderr)


def test_elasticsearch_backend_needs_its_url(
    app: typer.Typer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADWATCH_INDEX__BACKEND", "elasticsearch")
    result = run(app, "fresh")
    assert result.exit_code == 2
    assert "needs index.elasticsearch_url" in flat(result.stderr)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        (" 7D ", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T18:30", datetime(2024, 5, 1, 18, 30, tzinfo=UTC)),
        ("2024-05-01T18:30:00Z", datetime(2024, 5, 1, 18, 30, tzinfo=UTC)),
        ("2024-05-01T18:30:00-07:00", datetime(2024, 5, 2, 1, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(value: str, expected: datetime) -> None:
    assert parse_when(value, "--since", NOW) == expected


def test_snippet_centres_on_the_first_term() -> None:
    text = "intro " * 30 + "the   Fresh part " + "outro " * 30
    out = snippet(text, "fresh")
    assert "Fresh part" in out and out.startswith("…") and out.endswith("…")
    assert snippet("short text", None) == "short text"
