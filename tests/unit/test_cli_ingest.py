from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import ingest_cmd
from pipeline.deadletter import read_deadletter
from pipeline.settings import Settings
from schemas import RawAd

AD = {"source": "site", "source_id": "a1", "title": "Oak table", "body": "Call 213-555-0100"}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    for name in ("ADWATCH_KAFKA__BOOTSTRAP", "ADWATCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no adwatch.toml here
    app = typer.Typer()
    ingest_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keeps `ingest` a subcommand
        pass

    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, " ".join(result.output.split())


def test_no_broker_configured_says_how_to_get_one(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "ads.jsonl").write_text(json.dumps(AD) + "\n")
    code, out = run(app, "ingest", "ads.jsonl")
    assert code == 2
    assert "no broker address" in out
    assert "adwatch up" in out and "ADWATCH_KAFKA__BOOTSTRAP" in out and "--bootstrap" in out
    assert "Traceback" not in out


def test_missing_and_directory_paths_are_named(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text(json.dumps(AD) + "\n")
    code, out = run(app, "ingest", "ok.jsonl", "nope.jsonl", str(tmp_path), "--bootstrap", "h:1")
    assert code == 2
    assert "nope.jsonl: no such file" in out
    assert f"{tmp_path}: is a directory" in out
    assert "ok.jsonl:" not in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bootstrap", "no-port"], "is not host:port"),
        (["--source", "has space"], "--source"),
        (["--format", "xml"], "xml"),
    ],
)
def test_usage_errors(app: typer.Typer, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "ads.jsonl").write_text(json.dumps(AD) + "\n")
    code, out = run(app, "ingest", "ads.jsonl", *args)
    assert code == 2
    assert message in out


class RecordingProducer:
    """Stands in for AdProducer to test ingest bookkeeping; the Kafka path itself is
    covered by integration tests on a real broker."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self.ads: list[RawAd] = []
        self.dead: list[tuple[bytes, list[tuple[str, bytes]]]] = []
        self.delivered = self.failed = 0
        self.errors: list[BaseException] = []

    def __enter__(self) -> RecordingProducer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.delivered = len(self.ads) + len(self.dead)

    def publish(self, ad: RawAd) -> None:
        self.ads.append(ad)

    def deadletter(self, original: bytes, key: bytes | None, headers: Any) -> None:
        self.dead.append((original, headers))


def test_ingest_files_counts_and_dead_letters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[RecordingProducer] = []

    def factory(settings: Settings, bootstrap: str) -> RecordingProducer:
        made.append(RecordingProducer(settings, bootstrap))
        return made[-1]

    monkeypatch.setattr(ingest_cmd, "AdProducer", factory)
    path = tmp_path / "ads.jsonl"
    path.write_bytes(json.dumps(AD).encode() + b"\n\nnot json\n{}\n" + json.dumps(AD).encode())
    seen: list[tuple[int, int]] = []
    summary = ingest_cmd.ingest_files(
        [path], Settings(), "h:1", on_progress=lambda p, done, total: seen.append((done, total))
    )
    assert (summary.files, summary.lines, summary.published, summary.rejected) == (1, 4, 2, 2)
    assert summary.exit_code == 0 and summary.delivered == 4
    assert summary.reasons == {"not JSON": 1, "invalid record: source, source_id": 1}
    assert summary.samples[0] == f"{path}:3: not JSON: Expecting value (col 1)"
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    (producer,) = made
    letters = [read_deadletter(value, headers) for value, headers in producer.dead]
    assert [(d.original, d.offset, d.partition) for d in letters] == [
        (b"not json", 3, -1),
        (b"{}", 4, -1),
    ]
    assert all(d.topic == f"file:{path}" and d.stage == "ingest" for d in letters)
    assert letters[0].exception_class == "pipeline.errors.InvalidRecord"
    assert letters[0].message == "line 3: not JSON: Expecting value (col 1)"
    assert {e["loc"][0] for e in letters[1].details} == {"source", "source_id"}


def test_a_warc_needs_a_site_config(app: typer.Typer, tmp_path: Path) -> None:
    archive = tmp_path / "crawl.warc.gz"
    archive.write_bytes(b"")
    code, output = run(app, "ingest", str(archive))
    assert code == 2
    assert "WARC files need --site" in output


def test_a_bad_site_config_is_explained(app: typer.Typer, tmp_path: Path) -> None:
    archive = tmp_path / "crawl.warc"
    archive.write_bytes(b"")
    config = tmp_path / "site.yaml"
    config.write_text("source: x\nlisting_urls: [nope]\n")
    code, output = run(app, "ingest", str(archive), "--site", str(config))
    assert code == 2
    assert str(config) in output
