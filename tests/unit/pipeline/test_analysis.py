"""parse_input (record -> ExtractInput or InvalidRecord), analyze and json_lines."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.analysis import ExtractInput, analyze, check_region, json_lines, parse_input
from pipeline.errors import InvalidRecord
from schemas.ads import MAX_TEXT_CHARS, join_text


def test_text_record_keeps_its_fields() -> None:
    ad = parse_input({"id": "a1", "text": "Call 213-555-0100", "region": " gb ", "location": "X"})
    assert ad == ExtractInput(id="a1", text="Call 213-555-0100", region="GB", location="X")


def test_id_from_source_and_title_body_joined() -> None:
    ad = parse_input({"source": "site", "source_id": 7, "title": "Oak table", "body": "Call me"})
    assert ad.id == "site:7"
    assert ad.text == join_text("Oak table", "Call me") == "Oak table\n\nCall me"


def test_numeric_id_becomes_a_string_and_extra_fields_are_ignored() -> None:
    assert parse_input({"id": 12, "text": "hi", "url": "https://x"}).id == "12"


def test_fallback_id_only_when_the_record_has_none() -> None:
    assert parse_input({"text": "hi"}, fallback_id="f:3").id == "f:3"
    assert parse_input({"id": "own", "text": "hi"}, fallback_id="f:3").id == "own"
    assert parse_input({"source": "s", "source_id": "9", "text": "hi"}, "f:3").id == "s:9"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "hi"}, "id: missing; give `id`, or `source` and `source_id`"),
        ({"id": "a"}, "text: missing; give `text`, or `title` and/or `body`"),
        ({"id": "a", "text": "   "}, "text: empty"),
        ({"id": "a", "text": 5}, "text: Input should be a valid string"),
        ({"id": "a", "title": ["x"]}, "title: must be a string, not list"),
        ({"id": "a", "text": "x" * (MAX_TEXT_CHARS + 1)}, "text: 100,001 characters"),
        ({"id": "a", "body": "x" * (MAX_TEXT_CHARS + 1)}, "body: 100,001 characters"),
        (
            {"id": "a", "text": "hi", "region": "UK"},
            "region: 'UK' is not an ISO 3166-1 alpha-2 code; use 'GB'",
        ),
        ({"id": "a", "text": "hi", "region": "ZZ"}, "region: 'ZZ' is not an ISO 3166-1"),
        ({"id": "a", "text": "hi", "region": 1}, "region: Input should be a valid string"),
        ({"id": "", "text": "hi"}, "id: String should have at least 1 character"),
        ({"id": "a", "text": "hi", "location": 3}, "location:"),
    ],
)
def test_invalid_records_name_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        parse_input(record)
    assert message in str(err.value)
    field = message.split(":", 1)[0]
    assert err.value.kind == f"invalid record: {field}"


def test_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidRecord, match="not a JSON object"):
        parse_input(["text"])


def test_check_region() -> None:
    assert check_region(" us") == "US"
    with pytest.raises(ValueError, match="use 'GB'"):
        check_region("uk")


def test_analyze_offsets_point_into_the_joined_text() -> None:
    ad = parse_input({"id": "a", "title": "Call (213) 555-0100", "body": "or 312.555.0142"})
    out = analyze(ad, "US")
    assert out.chars == len(ad.text)
    assert [p.e164 for p in out.phones] == ["+12135550100", "+13125550142"]
    for phone in out.phones:
        assert ad.text[phone.start : phone.end] == phone.raw
    assert out.flags == [] and out.risk_score == 0.0 and out.region == "US"


def test_analyze_uses_the_record_region_before_the_default() -> None:
    gb = analyze(parse_input({"id": "a", "text": "Ring 020 7946 0958", "region": "GB"}), "US")
    assert [p.e164 for p in gb.phones] == ["+442079460958"] and gb.region == "GB"
    default = analyze(parse_input({"id": "a", "text": "Ring 020 7946 0958"}), "GB")
    assert default.region == "GB" and [p.e164 for p in default.phones] == ["+442079460958"]


def test_json_lines_numbers_lines_and_skips_blanks() -> None:
    lines = [b'\xef\xbb\xbf{"a": 1}\n', b"\n", b"  \r\n", b"nope\n", b'{"b": 2}\r\n', b"[1]"]
    out = list(json_lines(lines))
    assert [n for n, _ in out] == [1, 4, 5, 6]
    assert out[0][1] == {"a": 1} and out[2][1] == {"b": 2}
    assert isinstance(out[1][1], InvalidRecord) and "not JSON" in str(out[1][1])
    assert isinstance(out[3][1], InvalidRecord) and out[3][1].kind == "not a JSON object"
