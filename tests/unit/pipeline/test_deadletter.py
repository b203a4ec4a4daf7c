"""Dead-letter headers (Kafka Connect names) and reading them back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.deadletter import MAX_MESSAGE_CHARS, error_headers, read_deadletter
from pipeline.enrich import parse_raw
from pipeline.errors import InvalidRecord

WHEN = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
CONNECT_HEADERS = [
    "__connect.errors.topic",
    "__connect.errors.partition",
    "__connect.errors.offset",
    "__connect.errors.stage",
    "__connect.errors.exception.class.name",
    "__connect.errors.exception.message",
]


def schema_violation() -> InvalidRecord:
    try:
        parse_raw(b'{"source": "bad source", "source_id": "1", "title": "t"}')
    except InvalidRecord as exc:
        return exc
    raise AssertionError("expected InvalidRecord")


def test_header_names_are_kafka_connects() -> None:
    headers = error_headers(
        topic="adwatch.ads.raw", partition=0, offset=0, stage="validate", exc=ValueError("x")
    )
    names = [name for name, _ in headers]
    assert names[: len(CONNECT_HEADERS)] == CONNECT_HEADERS
    assert len(set(names)) == len(names)
    assert all(isinstance(value, bytes) for _, value in headers)
    as_dict = dict(headers)
    assert as_dict["__connect.errors.partition"] == b"0"
    assert as_dict["__connect.errors.exception.class.name"] == b"builtins.ValueError"


def test_round_trip_keeps_everything() -> None:
    original = b'{"title": "caf\xe9 \xff\xfe"}\x00\x80'  # not valid UTF-8
    exc = schema_violation()
    headers = error_headers(
        topic="adwatch.ads.raw",
        partition=3,
        offset=123_456_789_012,
        stage="validate",
        exc=exc,
        details=exc.details,
        failed_at=WHEN,
    )
    dl = read_deadletter(original, headers, key=b"testsite:1")
    assert dl.original == original
    assert dl.key == "testsite:1"
    assert dl.topic == "adwatch.ads.raw"
    assert dl.partition == 3
    assert dl.offset == 123_456_789_012
    assert dl.stage == "validate"
    assert dl.exception_class == "pipeline.errors.InvalidRecord"
    assert dl.message == str(exc)
    assert "source" in dl.message
    assert dl.details == exc.details
    assert dl.details and dl.details[0]["loc"] == ["source"]
    assert dl.failed_at == WHEN
    assert "\\xff" in dl.original_text()


def test_round_trip_of_file_origin() -> None:
    headers = error_headers(
        topic="file:/data/ads.jsonl", partition=-1, offset=17, stage="ingest", exc=KeyError("id")
    )
    dl = read_deadletter(b"{}", headers)
    assert (dl.topic, dl.partition, dl.offset) == ("file:/data/ads.jsonl", -1, 17)
    assert dl.exception_class == "builtins.KeyError"
    assert dl.key is None


def test_nested_exception_class_is_qualified() -> None:
    class Outer:
        class Boom(Exception):
            pass

    headers = error_headers(topic="t", partition=0, offset=0, stage="s", exc=Outer.Boom("x"))
    cls = read_deadletter(b"", headers).exception_class
    assert cls.startswith(__name__ + ".")
    assert cls.endswith("Outer.Boom")


def test_unicode_message_round_trip() -> None:
    headers = error_headers(
        topic="t", partition=0, offset=0, stage="s", exc=ValueError("région 🌹 mauvaise")
    )
    assert read_deadletter(b"", headers).message == "région 🌹 mauvaise"


def test_long_message_truncated() -> None:
    headers = error_headers(
        topic="t", partition=0, offset=0, stage="s", exc=ValueError("é" * (MAX_MESSAGE_CHARS * 3))
    )
    message = dict(headers)["__connect.errors.exception.message"]
    assert len(message.decode()) == MAX_MESSAGE_CHARS
    assert read_deadletter(b"", headers).message == "é" * MAX_MESSAGE_CHARS


def test_details_are_json() -> None:
    details = [{"loc": ["a"], "when": WHEN}]  # non-JSON values are stringified
    headers = error_headers(
        topic="t", partition=0, offset=0, stage="s", exc=ValueError(), details=details
    )
    parsed = json.loads(dict(headers)["adwatch.errors.details"])
    assert parsed == [{"loc": ["a"], "when": str(WHEN)}]


def test_missing_headers_tolerated() -> None:
    dl = read_deadletter(None, [])
    assert dl.original == b""
    assert (dl.topic, dl.partition, dl.offset) == ("", -1, -1)
    assert dl.stage == dl.exception_class == dl.message == ""
    assert dl.details == []
    assert dl.failed_at.tzinfo is not None


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("adwatch.errors.details", b"{not json")], id="details-not-json"),
        pytest.param([("adwatch.errors.details", b'{"a": 1}')], id="details-not-list"),
        pytest.param([("adwatch.errors.details", b'[1, "x", {"ok": 1}]')], id="details-mixed"),
        pytest.param([("adwatch.errors.details", b"\xff\xfe")], id="details-not-utf8"),
        pytest.param([("__connect.errors.stage", b"\xff")], id="stage-not-utf8"),
        pytest.param([("__connect.errors.partition", b"")], id="partition-empty"),
        pytest.param([("__connect.errors.partition", b"abc")], id="partition-not-int"),
        pytest.param([("__connect.errors.offset", b"\xff")], id="offset-not-utf8"),
        pytest.param([("__connect.errors.offset", b"1.5")], id="offset-not-int"),
        pytest.param([("adwatch.errors.failed_at", b"yesterday")], id="failed-at-garbled"),
        pytest.param([("x-unrelated", b"\x00")], id="unrelated-header"),
    ],
)
def test_garbled_headers_tolerated(headers: list[tuple[str, bytes]]) -> None:
    # Listing the dead-letter topic must not fail on one record with odd headers.
    dl = read_deadletter(b"payload", headers)
    assert dl.original == b"payload"
    assert dl.partition >= -1 and dl.offset >= -1
    assert all(isinstance(d, dict) for d in dl.details)
    assert dl.failed_at.tzinfo is not None
