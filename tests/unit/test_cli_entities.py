from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import Result

from pipeline.cli import entities_cmd
from pipeline.sinks.sqlite import SQLiteIndex
from schemas import Evidence, Flag
from schemas.entities import PhoneEntity
from tests.unit.cli_helpers import cli_app, invoke

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RING = "+17025550101"
QUIET = "+12134782231"

CITY_NOTE = (
    "Up to 3 distinct cities within 7 days (threshold 3), between 2024-05-01 12:00 UTC and "
    "2024-05-01 14:00 UTC. Cities: Dallas, TX; Houston, TX; Austin, TX. Ads: a:1, a:2, a:3."
)


def entity(
    phone: str,
    *,
    ads: int,
    last_hours: int,
    cities: list[str] | None = None,
    names: list[str] | None = None,
    ages: list[int] | None = None,
    flags: list[Flag] | None = None,
) -> PhoneEntity:
    return PhoneEntity(
        phone=phone,
        first_seen=BASE,
        last_seen=BASE + timedelta(hours=last_hours),
        ad_count=ads,
        ads=[f"a:{i}" for i in range(1, ads + 1)],
        cities=cities or [],
        names=names or [],
        ages=ages or [],
        flags=flags or [],
        updated_at=BASE + timedelta(days=1),
    )


@pytest.fixture
def data_dir(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(isolated_env / "data"))
    return isolated_env / "data"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    return cli_app(entities_cmd.register, monkeypatch)


@pytest.fixture
def indexed(data_dir: Path) -> list[PhoneEntity]:
    records = [
        entity(
            RING,
            ads=3,
            last_hours=2,
            cities=["Dallas, TX", "Houston, TX", "Austin, TX"],
            names=["Mia", "[bold]Luna[/bold]"],
            ages=[22, 24],
            flags=[
                Flag(
                    id="phone_multi_city",
                    evidence=[
                        Evidence(text=f"{RING} in ads with 3 distinct cities", note=CITY_NOTE)
                    ],
                )
            ],
        ),
        entity(QUIET, ads=1, last_hours=1, cities=["Los Angeles"]),
    ]
    with SQLiteIndex.open(data_dir / "index.sqlite3") as index:
        index.write_entities(records)
    return records


def run(app: typer.Typer, *args: str) -> Result:
    return invoke(app, ["entities", *args])


def flat(text: str) -> str:
    return " ".join(text.split())


def json_phones(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["phone"] for line in result.stdout.splitlines()]


def test_json_lines_parse_as_phone_entities(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    result = run(app, "--json")
    assert result.exit_code == 0, result.output
    parsed = [PhoneEntity.model_validate_json(line) for line in result.stdout.splitlines()]
    assert parsed == indexed  # most recently seen first, nothing lost
    assert json.loads(result.stdout.splitlines()[0]) == indexed[0].model_dump(mode="json")


@pytest.mark.parametrize(
    "typed", ["(702) 555-0101", "702.555.0101", "702-555-0101", "+1 702 555 0101", "17025550101"]
)
def test_phone_in_any_format_finds_the_entity(
    app: typer.Typer, indexed: list[PhoneEntity], typed: str
) -> None:
    assert json_phones(run(app, "--phone", typed, "--json")) == [RING]


def test_repeated_phones_are_any_of(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    result = run(app, "-p", "213 478 2231", "-p", "(702) 555-0101", "-p", "7025550101", "--json")
    assert json_phones(result) == [RING, QUIET]


def test_flag_min_ads_and_limit(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    assert json_phones(run(app, "--flag", "phone_multi_city", "--json")) == [RING]
    assert json_phones(
        run(app, "--flag", "posting_burst", "--flag", "phone_multi_city", "--json")
    ) == [RING]
    assert json_phones(run(app, "--min-ads", "2", "--json")) == [RING]
    assert json_phones(run(app, "--limit", "1", "--json")) == [RING]
    assert (
        json_phones(run(app, "--phone", "213-478-2231", "--flag", "posting_burst", "--json")) == []
    )


def test_human_output_is_a_table_with_the_evidence_under_it(
    app: typer.Typer, indexed: list[PhoneEntity]
) -> None:
    result = run(app)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for header in ("phone", "ads", "cities", "names / ages", "first seen", "last seen", "flags"):
        assert header in out
    assert RING in out and QUIET in out and "Los Angeles" in out
    assert "Dallas, TX; Houston, TX; Austin, TX" in out
    assert "[bold]Luna[/bold]" in out  # values from ads are never read as markup
    assert "2024-05-01 14:00" in out and "phone_multi_city" in out
    assert out.index(RING) < out.index(QUIET)  # most recently seen first
    assert "2 phones" in out
    evidence = flat(out[out.index("Why each flag was raised") :])
    assert "leads for a reviewer to check, not findings" in evidence
    assert f"{RING} phone_multi_city" in evidence
    assert f"{RING} in ads with 3 distinct cities" in evidence
    assert flat(CITY_NOTE) in evidence
    assert QUIET not in evidence  # no flags, no evidence section entry


def test_long_value_lists_are_shortened_in_the_table(app: typer.Typer, data_dir: Path) -> None:
    cities = [f"C{i}" for i in range(8)]
    with SQLiteIndex.open(data_dir / "index.sqlite3") as index:
        index.write_entities([entity(RING, ads=8, last_hours=1, cities=cities)])
    result = run(app)
    assert "C4 (+3 more)" in result.stdout and "C5" not in result.stdout
    assert "Why each flag" not in result.stdout


def test_limit_reached_is_noted(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    result = run(app, "--limit", "1")
    assert "1 phone (limit 1 reached; use --limit for more)" in flat(result.stdout)


def test_no_match_says_so(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    result = run(app, "--phone", "(702) 555-0199")
    assert result.exit_code == 0
    assert "no phone entity matches +17025550199" in flat(result.stdout)
    result = run(app, "--flag", "posting_burst")
    assert "no phone entities match the criteria given" in flat(result.stdout)
    assert run(app, "--flag", "posting_burst", "--json").stdout == ""


def test_index_without_entities_says_where_they_come_from(app: typer.Typer, data_dir: Path) -> None:
    SQLiteIndex.open(data_dir / "index.sqlite3").close()
    result = run(app)
    assert result.exit_code == 0
    assert "no phone entities in the index yet" in flat(result.stdout)


def test_invalid_phone_is_a_one_line_error(app: typer.Typer, indexed: list[PhoneEntity]) -> None:
    result = run(app, "--phone", "not-a-phone")
    assert result.exit_code == 2
    assert "--phone" in result.stderr and "not-a-phone" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_index_says_how_to_make_one(app: typer.Typer, data_dir: Path) -> None:
    result = run(app)
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert f"no index at {data_dir / 'index.sqlite3'} yet" in message
    assert "run `adwatch up` or `adwatch ingest` first" in message
    assert not data_dir.exists()  # reading must not create the index


def test_unreadable_index_is_a_clear_error(app: typer.Typer, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "index.sqlite3").write_bytes(b"this is not a database" * 100)
    result = run(app)
    assert result.exit_code == 1
    assert f"cannot read index at {data_dir / 'index.sqlite3'}" in flat(result.stderr)


def test_index_of_the_previous_version_is_read(app: typer.Typer, data_dir: Path) -> None:
    path = data_dir / "index.sqlite3"
    SQLiteIndex.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE phone_entities")
    conn.execute("DROP TABLE entity_flags")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    result = run(app, "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_elasticsearch_backend_needs_its_url(
    app: typer.Typer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADWATCH_INDEX__BACKEND", "elasticsearch")
    result = run(app)
    assert result.exit_code == 2
    assert "needs index.elasticsearch_url" in flat(result.stderr)


@pytest.mark.parametrize("args", [["--min-ads", "0"], ["--limit", "0"]])
def test_out_of_range_numbers_are_usage_errors(
    app: typer.Typer, indexed: list[PhoneEntity], args: list[str]
) -> None:
    assert run(app, *args).exit_code == 2


def test_registered_in_the_adwatch_app() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    cli = [sys.executable, "-m", "pipeline.cli"]
    top = subprocess.run([*cli, "--help"], capture_output=True, text=True, env=env)
    assert top.returncode == 0 and "│ entities " in top.stdout
    sub = subprocess.run([*cli, "entities", "--help"], capture_output=True, text=True, env=env)
    assert "--min-ads" in sub.stdout and "not findings" in sub.stdout
