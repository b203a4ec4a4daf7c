"""Exported JSON Schemas: files, metadata, and a structural check against sample records.

`jsonschema` is not installed in this environment, so `check` below validates the subset of
JSON Schema that pydantic emits for these models (types, required, additionalProperties,
$ref, anyOf, arrays, enums/const) well enough to catch a schema that rejects good records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import schemas_cmd
from schemas import DeadLetter, EnrichedAd, Flag, PhoneMention, RawAd, SearchQuery
from schemas.export import JSON_SCHEMA_DIALECT, export_json_schemas

NAMES = ["raw_ad", "enriched_ad", "dead_letter", "search_query"]
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> None:
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        check(value, root["$defs"][ref.removeprefix("#/$defs/")], root, path)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                check(value, option, root, path)
                break
            except AssertionError as exc:
                errors.append(exc)
        else:
            raise AssertionError(f"{path}: no anyOf option matched: {errors}")
    if "const" in schema:
        assert value == schema["const"], path
    if "enum" in schema:
        assert value in schema["enum"], path
    kind = schema.get("type")
    if kind:
        ok = isinstance(value, JSON_TYPES[kind]) and not (
            kind in ("integer", "number") and isinstance(value, bool)
        )
        assert ok, f"{path}: {value!r} is not {kind}"
    if kind == "object":
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{path}: missing {name}"
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(props), f"{path}: extra {set(value) - set(props)}"
        for name, item in value.items():
            if name in props:
                check(item, props[name], root, f"{path}.{name}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            check(item, schema["items"], root, f"{path}[{i}]")


def samples() -> dict[str, Any]:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    text = "Fresh in town 213-478-2231"
    phone = PhoneMention(raw="213-478-2231", start=14, end=26, extractor="t", e164="+12134782231")
    return {
        "raw_ad": RawAd(source="s", source_id="1", body=text, posted_at=now, region="us"),
        "enriched_ad": EnrichedAd(
            source="s",
            source_id="1",
            key="s:1",
            body=text,
            text=text,
            content_hash="h",
            phones=[phone],
            flags=[Flag(id="movement", weight=0.1)],
            risk_score=0.2,
        ),
        "dead_letter": DeadLetter(
            original=b"{}",
            topic="t",
            partition=0,
            offset=1,
            stage="validate",
            exception_class="InvalidRecord",
            message="bad",
            details=[{"loc": ["x"]}],
        ),
        "search_query": SearchQuery(text="fresh", phones=["+12134782231"], since=now),
    }


def test_export_writes_one_schema_per_record(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path / "out")
    assert [p.name for p in paths] == [f"{n}.schema.json" for n in NAMES]
    for name, path in zip(NAMES, paths, strict=True):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$schema"] == JSON_SCHEMA_DIALECT
        assert schema["$id"] == f"urn:adwatch:schema:{name}:v1"
        assert schema["title"] and schema["type"] == "object"


@pytest.mark.parametrize("name", NAMES)
def test_schema_accepts_a_sample_and_rejects_a_broken_one(tmp_path: Path, name: str) -> None:
    export_json_schemas(tmp_path)
    schema = json.loads((tmp_path / f"{name}.schema.json").read_text(encoding="utf-8"))
    sample = samples()[name].model_dump(mode="json")
    check(sample, schema, schema)
    broken = {**sample, "unexpected_field": 1} if name != "dead_letter" else {"topic": 3}
    with pytest.raises(AssertionError):
        check(broken, schema, schema)


def test_cli_export_lists_files(tmp_path: Path) -> None:
    app = typer.Typer(pretty_exceptions_enable=False)
    schemas_cmd.register(app)
    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert (tmp_path / "s" / f"{name}.schema.json").is_file()
        assert f"{name}.schema.json" in result.stdout
