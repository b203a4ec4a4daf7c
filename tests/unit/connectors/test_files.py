from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.files import TRUNCATED, LineResult, html_to_text, parse_timestamp, read_ads
from schemas import RawAd

AD = {"source": "site", "source_id": "a1", "title": "Oak table", "body": "Call 213-555-0100"}
HTML = (
    "<html><head><title>Oak &amp; Pine</title><style>p {color: red}</style></head>"
    "<body><script>var x = '<p>no</p>';</script><div>Solid oak&nbsp;table</div>"
    "<p>Call <b>213-555-0100</b><br>after 5 &lt;pm&gt;</p><ul><li>one</li><li>two</li></ul>"
    "</body></html>"
)
CDR_V2 = {
    "_id": "ABC123",
    "url": "http://ads.example/1",
    "timestamp": 1466000000000,
    "raw_content": HTML,
    "content_type": "text/html",
    "team": "HG",
    "crawler": "ache",
    "version": 2.0,
}
CDR_V3 = {
    "_id": "DEF456",
    "url": "http://ads.example/2",
    "timestamp_crawl": "2016-06-15T14:13:20Z",
    "extracted_text": "Plain text body",
    "extracted_metadata": {"title": "Meta title"},
    "team": "HG",
}


def write_lines(path: Path, lines: list[bytes]) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()


def results(path: Path, **kwargs: object) -> list[LineResult]:
    return list(read_ads(path, **kwargs))  # type: ignore[arg-type]


def test_rawad_jsonl(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ads.jsonl", [dumps(AD), dumps({**AD, "source_id": "a2"})])
    out = results(path)
    assert [r.line_no for r in out] == [1, 2]
    assert all(r.ok and r.error is None for r in out)
    assert out[0].ad is not None
    assert out[0].ad.model_dump(exclude={"scraped_at"}) == RawAd.model_validate(AD).model_dump(
        exclude={"scraped_at"}
    )
    assert out[1].ad is not None and out[1].ad.key == "site:a2"
    assert out[0].raw == dumps(AD)
    assert out[-1].file_pos == path.stat().st_size


def test_source_argument_is_a_default_for_rawad(tmp_path: Path) -> None:
    no_source = {k: v for k, v in AD.items() if k != "source"}
    path = write_lines(tmp_path / "ads.jsonl", [dumps(no_source), dumps(AD)])
    ads = [r.ad for r in results(path, source="mine")]
    assert [a.source for a in ads if a] == ["mine", "site"]


def test_blank_lines_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ads.jsonl", [b"", dumps(AD), b"   ", b"\r", dumps(AD)])
    assert [r.line_no for r in results(path)] == [2, 5]


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "ads.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + dumps(AD) + b"\r\n" + dumps(AD) + b"\r\n")
    out = results(path)
    assert all(r.ok for r in out)
    assert out[1].raw == dumps(AD)


def test_cdr_v2_from_html(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cdr.jsonl", [dumps(CDR_V2)])
    (res,) = results(path)
    ad = res.ad
    assert ad is not None
    assert (ad.source, ad.source_id, ad.url) == ("cdr", "ABC123", "http://ads.example/1")
    assert ad.title == "Oak & Pine"
    assert ad.body == "Solid oak table\nCall 213-555-0100\nafter 5 <pm>\none\ntwo"
    assert ad.scraped_at == datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)
    assert ad.extra == {"cdr": {"team": "HG", "crawler": "ache", "content_type": "text/html"}}


def test_cdr_v3_gzipped_with_source(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cdr.jsonl.gz", [dumps(CDR_V3), dumps(CDR_V2)])
    out = results(path, fmt="cdr", source="memex")
    ad = out[0].ad
    assert ad is not None
    assert (ad.key, ad.title, ad.body) == ("memex:DEF456", "Meta title", "Plain text body")
    assert ad.scraped_at == datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)
    assert ad.extra == {"cdr": {"team": "HG"}}
    assert out[1].ad is not None and out[1].ad.key == "memex:ABC123"
    assert out[-1].file_pos == path.stat().st_size


def test_auto_decides_per_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "mixed.jsonl", [dumps(AD), dumps(CDR_V3)])
    assert [r.ad.source for r in results(path) if r.ad] == ["site", "cdr"]


def test_jsonl_format_does_not_map_cdr(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cdr.jsonl", [dumps(CDR_V3)])
    (res,) = results(path, fmt="jsonl")
    assert res.error is not None and "_id" in res.error  # extra field forbidden by RawAd


def test_cdr_extracted_text_wins_over_html() -> None:
    doc = {**CDR_V2, "extracted_text": "Given text"}
    from connectors.files import cdr_to_fields

    assert cdr_to_fields(doc)["body"] == "Given text"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1466000000, datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
        (1466000000000, datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
        (1466000000.5, datetime(2016, 6, 15, 14, 13, 20, 500000, tzinfo=UTC)),
        ("1466000000000", datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
        ("2016-06-15T14:13:20Z", datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
        ("2016-06-15T14:13:20", datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
        ("2016-06-15T16:13:20+02:00", datetime(2016, 6, 15, 14, 13, 20, tzinfo=UTC)),
    ],
)
def test_timestamps(value: object, expected: datetime) -> None:
    assert parse_timestamp(value) == expected


def test_bad_cdr_timestamp_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cdr.jsonl", [dumps({**CDR_V3, "timestamp_crawl": "soon"})])
    (res,) = results(path)
    assert res.kind == "invalid CDR: timestamp"
    assert res.error is not None and "soon" in res.error


def test_html_to_text() -> None:
    title, text = html_to_text(HTML)
    assert title == "Oak & Pine"
    assert "var x" not in text and "color" not in text
    assert text.splitlines() == [
        "Solid oak table",
        "Call 213-555-0100",
        "after 5 <pm>",
        "one",
        "two",
    ]
    assert html_to_text("no tags &eacute;t&eacute;") == (None, "no tags été")
    # an unclosed <head> must not swallow the page
    assert html_to_text("<p>unclosed <head>head text")[1] == "unclosed head text"


BAD = [
    (b'{"source": "s", "source_id": "1", "title": "x"', "not JSON", "Expecting ',' delimiter"),
    (b"[1, 2]", "not a JSON object", "array"),
    (b'"text"', "not a JSON object", "string"),
    (b'{"source": "s", "source_id": "1", "title": "caf\xe9"}', "not UTF-8", "position 47"),
    (b"{}", "invalid record: source, source_id", "source: Field required"),
    (dumps({**AD, "source_id": None}), "invalid record: source_id", "source_id"),
    (dumps({**AD, "title": "", "body": " "}), "invalid record: record", "non-empty title"),
    (dumps({**AD, "region": "USA"}), "invalid record: region", "ISO 3166-1"),
    (dumps({**AD, "body": "a" * 100_001}), "invalid record: body", "at most 100000"),
    (dumps({"_id": 5.5, "extracted_text": "x"}), "invalid record: source_id", "string"),
]


@pytest.mark.parametrize(("line", "kind", "fragment"), BAD)
def test_every_bad_line_kind_is_an_error_with_its_line_number(
    tmp_path: Path, line: bytes, kind: str, fragment: str
) -> None:
    path = write_lines(tmp_path / "ads.jsonl", [dumps(AD), b"", line, dumps(AD)])
    out = results(path)
    assert [(r.line_no, r.ok) for r in out] == [(1, True), (3, False), (4, True)]
    bad = out[1]
    assert bad.raw == line and bad.ad is None and bad.kind == kind
    assert bad.error is not None and fragment in bad.error
    assert bad.describe() == f"{path}:3: {bad.error}"
    json.dumps(bad.details)  # JSON-safe
    if kind.startswith("invalid record"):
        assert bad.details and all("input" not in d and "url" not in d for d in bad.details)


def test_not_json_error_names_the_column(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ads.jsonl", [b'{"a": 1 "b": 2}'])
    (res,) = results(path)
    assert res.error == "not JSON: Expecting ',' delimiter (col 9)"


def test_truncated_gzip_reports_after_last_line(tmp_path: Path) -> None:
    lines = [
        dumps({**AD, "source_id": f"id{i}", "body": f"ad number {i} " * 20}) for i in range(300)
    ]
    data = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    out = results(path)
    good, last = out[:-1], out[-1]
    assert good and all(r.ok for r in good)
    assert [r.line_no for r in good] == list(range(1, len(good) + 1))
    assert last.kind == TRUNCATED and last.line_no == len(good) + 1 and last.raw == b""
    assert last.error == f"file is truncated after line {len(good)}; later lines are lost"


def test_not_gzip_at_all(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "plain.jsonl", [dumps(AD)]).rename(tmp_path / "fake.jsonl.gz")
    (res,) = results(path)
    assert res.kind == TRUNCATED and res.line_no == 1
    assert res.error is not None and "before the first line" in res.error


@pytest.mark.parametrize("name", ["fixture.jsonl", "fixture.jsonl.gz"])
def test_ingest_fixture_matches_reader(tmp_path: Path, name: str) -> None:
    # Imported here: `tests` is importable once pytest has set up the tests package; at
    # collection it is not while tests/unit/connectors has no __init__.py.
    from tests.fixtures.ingest_fixture import write_ingest_fixture

    fixture = write_ingest_fixture(tmp_path / name, n_valid=1_000)
    out = results(fixture.path)
    assert [r.ad.key for r in out if r.ad] == fixture.valid_keys
    assert {r.line_no: r.raw for r in out if not r.ok} == fixture.bad_bytes
    assert len(fixture.bad_lines) == 8 and len(fixture.valid_keys) == 1_000
    assert all(r.line_no not in fixture.blank_lines for r in out)


@pytest.mark.parametrize(
    "line",
    [b"[" * 100_000, b'{"source": "s", "source_id": "1", "title": "x", "n": ' + b"9" * 5000 + b"}"],
    ids=["deep-nesting", "huge-integer"],
)
def test_hostile_json_is_a_bad_line_not_a_crash(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(line + b"\n" + dumps(AD) + b"\n")
    results = list(read_ads(path))
    assert [r.ok for r in results] == [False, True]
    assert results[0].kind == "not JSON"
    assert results[0].line_no == 1
