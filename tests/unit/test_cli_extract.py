from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from pipeline.cli import extract_cmd
from schemas.ads import join_text
from tests.unit.cli_helpers import cli_app, invoke

ADS: list[dict[str, Any]] = [
    {"id": "a1", "text": "Sweet and fun. Call (213) 555-0100 or text 312.555.0142"},
    {"source": "site", "source_id": "9", "title": "Oak table", "body": "Text 646 555 0199"},
    {"id": "a3", "text": "Ring 020 7946 0958 after six", "region": "GB", "location": "London"},
    {"id": "a4", "text": "Call two one three, five five five, zero one zero zero"},
]


@pytest.fixture
def app(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    return cli_app(extract_cmd.register, monkeypatch)


def run(app: typer.Typer, *args: str, input: str | bytes | None = None) -> Result:
    return invoke(app, ["extract", *args], input=input)


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def records(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_output_shape_and_offsets(app: typer.Typer, isolated_env: Path) -> None:
    path = jsonl(isolated_env / "ads.jsonl", ADS)
    result = run(app, str(path))
    assert result.exit_code == 0
    out = records(result)
    assert [r["id"] for r in out] == ["a1", "site:9", "a3", "a4"]  # input order
    for record in out:
        assert {"id", "region", "location", "chars", "phones", "entities", "flags"} <= set(record)
        # the score is the sum of the weights of the flags raised, each listed
        weights = {f["id"]: f["weight"] for f in record["flags"]}
        assert record["risk_contributions"] == weights
        assert record["risk_score"] == round(min(1.0, max(0.0, sum(weights.values()))), 4)
        assert "text" not in record
        for phone in record["phones"]:
            assert {"e164", "raw", "start", "end", "obfuscated", "confidence"} <= set(phone)
    assert [p["e164"] for p in out[0]["phones"]] == ["+12135550100", "+13125550142"]
    assert out[2]["region"] == "GB" and out[2]["location"] == "London"
    assert [p["e164"] for p in out[2]["phones"]] == ["+442079460958"]
    texts = [ADS[0]["text"], join_text(ADS[1]["title"], ADS[1]["body"]), ADS[2]["text"]]
    texts.append(ADS[3]["text"])
    for record, text in zip(out, texts, strict=True):
        assert record["chars"] == len(text)
        for phone in record["phones"]:
            assert text[phone["start"] : phone["end"]] == phone["raw"]
        for flag in record["flags"]:
            for evidence in flag["evidence"]:
                assert text[evidence["start"] : evidence["end"]] == evidence["text"]
    assert out[0]["phones"][0]["obfuscated"] is False
    # only the number spelt out in words raises a (content) flag
    assert [[f["id"] for f in r["flags"]] for r in out] == [[], [], [], ["obfuscated_phone"]]
    assert [r["risk_score"] for r in out] == [0.0, 0.0, 0.0, 0.25]  # weights.toml's
    assert "read 4, written 4, rejected 0" in result.stderr


def test_text_option_writes_the_text_offsets_point_into(
    app: typer.Typer, isolated_env: Path
) -> None:
    path = jsonl(isolated_env / "ads.jsonl", ADS[1:2])
    (record,) = records(run(app, str(path), "--text"))
    assert record["text"] == "Oak table\n\nText 646 555 0199"
    (phone,) = record["phones"]
    assert record["text"][phone["start"] : phone["end"]] == phone["raw"] == "646 555 0199"


def test_bad_lines_are_reported_with_line_numbers_and_skipped(
    app: typer.Typer, isolated_env: Path
) -> None:
    path = isolated_env / "mixed.jsonl"
    lines = [
        json.dumps(ADS[0]),
        "{not json",
        "",
        json.dumps({"id": "x"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "r", "text": "hi", "region": "UK"}),
        json.dumps(ADS[2]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(app, str(path))
    assert result.exit_code == 0
    assert [r["id"] for r in records(result)] == ["a1", "a3"]
    err = result.stderr
    assert f"{path}:2: not JSON" in err
    assert f"{path}:4: text: missing" in err
    assert f"{path}:5: not a JSON object" in err
    assert f"{path}:6: region: 'UK'" in err and "use 'GB'" in err
    assert f"{path}:3:" not in err  # blank lines are skipped silently
    assert "read 6, written 2, rejected 4" in err


def test_record_without_id_is_named_by_its_line(app: typer.Typer, isolated_env: Path) -> None:
    path = jsonl(isolated_env / "ads.jsonl", [{"text": "hello"}])
    assert records(run(app, str(path)))[0]["id"] == f"{path}:1"


def test_all_bad_lines_exit_1(app: typer.Typer, isolated_env: Path) -> None:
    path = isolated_env / "bad.jsonl"
    path.write_text("nope\n[1]\n", encoding="utf-8")
    result = run(app, str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "read 2, written 0, rejected 2" in result.stderr
    assert "no valid ad" in result.stderr


def test_empty_file_exits_1(app: typer.Typer, isolated_env: Path) -> None:
    path = isolated_env / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    result = run(app, str(path))
    assert result.exit_code == 1
    assert "no valid ad" in result.stderr and "(no lines)" in result.stderr


def test_missing_file_and_directory_exit_2(app: typer.Typer, isolated_env: Path) -> None:
    result = run(app, "nope.jsonl")
    assert result.exit_code == 2
    assert "nope.jsonl: no such file" in result.stderr
    result = run(app, str(isolated_env))
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_stdin_is_the_default(app: typer.Typer) -> None:
    data = json.dumps(ADS[0]) + "\nbad\n"
    result = run(app, input=data)
    assert result.exit_code == 0
    assert [r["id"] for r in records(result)] == ["a1"]
    assert "stdin:2: not JSON" in result.stderr
    assert run(app, "-", input=json.dumps(ADS[2])).exit_code == 0


def test_region_option_is_the_default_region(app: typer.Typer) -> None:
    data = json.dumps({"id": "g", "text": "Ring 020 7946 0958"}) + "\n"
    (us,) = records(run(app, input=data))
    assert us["region"] == "US"
    (gb,) = records(run(app, "--region", "gb", input=data))
    assert gb["region"] == "GB" and [p["e164"] for p in gb["phones"]] == ["+442079460958"]


def test_bad_region_option_exits_2(app: typer.Typer) -> None:
    result = run(app, "--region", "UK", input="{}")
    assert result.exit_code == 2
    assert "--region: 'UK'" in result.stderr and "use 'GB'" in result.stderr


def test_output_file(app: typer.Typer, isolated_env: Path) -> None:
    path = jsonl(isolated_env / "ads.jsonl", ADS)
    out = isolated_env / "out.jsonl"
    result = run(app, str(path), "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a1", "site:9", "a3", "a4"]
    same = run(app, str(path), "--output", str(path))
    assert same.exit_code == 2 and "is the input file" in same.stderr


def test_gzip_input_and_non_ascii_output(app: typer.Typer, isolated_env: Path) -> None:
    path = isolated_env / "ads.jsonl.gz"
    row = {"id": "é1", "text": "Café — call ②①③ 555 0100"}
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    result = run(app, str(path))
    assert result.exit_code == 0
    assert '"id":"é1"' in result.stdout  # compact, not ASCII-escaped
    (record,) = records(result)
    for phone in record["phones"]:
        assert row["text"][phone["start"] : phone["end"]] == phone["raw"]


def test_truncated_gzip_keeps_what_was_read(app: typer.Typer, isolated_env: Path) -> None:
    rng = random.Random(0)
    rows = [{"id": f"r{i}", "text": f"{rng.randbytes(40).hex()} 213-555-0100"} for i in range(200)]
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path = isolated_env / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    result = run(app, str(path))
    assert "input is truncated after line" in result.stderr
    assert result.exit_code == 0
    written = records(result)
    assert 0 < len(written) < 200
    assert [r["id"] for r in written] == [f"r{i}" for i in range(len(written))]
