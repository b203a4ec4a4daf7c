"""FileConnector: CDR/JSONL files in batches, bad lines and damaged gzip as problems, and a
cursor that resumes after a restart without skipping a line. State is the real SQLite store."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Connector, ConnectorContext, ConnectorError, ProblemLog
from connectors.file_source import FileConnector, parse_cursor
from connectors.state import SourceState
from schemas import RawAd

FIXTURES = Path(__file__).parents[2] / "fixtures"
CDR = FIXTURES / "cdr"
V2_IDS = [f"c2-000{i}" for i in range(1, 7)]
V3_IDS = [f"c3-000{i}" for i in range(1, 6)]

Build = Callable[..., FileConnector]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SourceState]:
    with SourceState(tmp_path / "state" / "connectors.sqlite3") as s:
        yield s


@pytest.fixture
def problems() -> ProblemLog:
    return ProblemLog()


@pytest.fixture
def build(state: SourceState, problems: ProblemLog) -> Build:
    def make(
        base_dir: Path = FIXTURES,
        name: str = "import",
        st: SourceState | None = None,
        **options: object,
    ) -> FileConnector:
        ctx = ConnectorContext(state=st or state, report=problems, base_dir=base_dir)
        return FileConnector.from_config(name, options, ctx)

    return make


def drain(conn: FileConnector, max_polls: int = 1000) -> list[list[RawAd]]:
    """Poll until exhausted, as the runner would; the batches returned."""
    conn.open()
    batches: list[list[RawAd]] = []
    for _ in range(max_polls):
        if conn.exhausted:
            return batches
        batches.append(conn.poll())
    raise AssertionError("connector never exhausted")


def flat(batches: list[list[RawAd]]) -> list[RawAd]:
    return [ad for batch in batches for ad in batch]


def ad_line(i: int, **changes: object) -> bytes:
    record = {"source": "site", "source_id": f"ad{i}", "title": f"Listing {i}", "body": "x"}
    return json.dumps({**record, **changes}).encode()


def write(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


# -- fixtures import correctly -------------------------------------------------------------
@pytest.mark.parametrize("name", ["cdr_v2.jsonl", "cdr_v2.jsonl.gz"])
def test_cdr_v2_fixture(build: Build, problems: ProblemLog, name: str) -> None:
    ads = flat(drain(build(paths=[f"cdr/{name}"])))
    assert [a.source_id for a in ads] == V2_IDS
    assert all(a.source == "import" for a in ads)  # the connector's name by default
    first, fifth = ads[0], ads[4]
    assert first.url == "https://classifieds.example/denver/furniture/0001.html"
    assert first.title == "Solid oak dining table - $350"  # the page's <title>
    assert first.body == (
        "Solid oak dining table - $350\nMoving sale, table and 6 chairs.\n"
        "Pickup only. Text 303-555-0110."
    )  # visible text, the script dropped
    assert (fifth.title, fifth.body.splitlines()[-2]) == (
        "Math tutoring & SAT prep",
        "Patient tutor, evenings & weekends.",
    )
    assert [a.scraped_at.hour for a in ads] == [12, 13, 14, 15, 16, 17]
    assert first.scraped_at == datetime(2025, 6, 1, 12, tzinfo=UTC)  # epoch milliseconds
    assert all(a.posted_at is None for a in ads)  # CDR records only the crawl time
    assert first.extra == {
        "cdr": {
            "team": "Example Team",
            "crawler": "example-crawler",
            "content_type": "text/html; charset=utf-8",
        }
    }
    assert problems.count == 0


@pytest.mark.parametrize("name", ["cdr_v3.jsonl", "cdr_v3.jsonl.gz"])
def test_cdr_v3_fixture(build: Build, problems: ProblemLog, name: str) -> None:
    ads = flat(drain(build(paths=[f"cdr/{name}"], source="memex", format="cdr")))
    assert [a.key for a in ads] == [f"memex:{i}" for i in V3_IDS]
    sofa = ads[0]
    assert sofa.url == "https://classifieds.example/miami/furniture/0101.html"
    assert sofa.title == "Gray sectional sofa, like new"  # extracted_metadata.title
    assert sofa.body == "Pet free, smoke free home. Must go this weekend. Call 305-555-0120."
    assert sofa.scraped_at == datetime(2025, 6, 2, 10, tzinfo=UTC)  # timestamp_crawl
    assert ads[2].scraped_at == datetime(2025, 6, 2, 13, 45, tzinfo=UTC)
    assert all(a.posted_at is None for a in ads)
    assert problems.count == 0


@pytest.mark.parametrize("name", ["cdr_v2", "cdr_v3"])
def test_gzipped_fixtures_hold_the_plain_ones(name: str) -> None:
    plain = (CDR / f"{name}.jsonl").read_bytes()
    assert gzip.decompress((CDR / f"{name}.jsonl.gz").read_bytes()) == plain
    assert b"555-01" in plain


def test_globs_sorted_and_deduplicated(build: Build) -> None:
    conn = build(paths=["cdr/*.jsonl.gz", str(CDR / "cdr_v2.jsonl.gz"), "cdr/cdr_v3.jsonl"])
    ads = flat(drain(conn))
    assert [a.source_id for a in ads] == V2_IDS + V3_IDS + V3_IDS  # v2.gz, v3.gz, v3 plain


def test_a_single_path_string_is_accepted(build: Build) -> None:
    assert len(flat(drain(build(paths="cdr/cdr_v3.jsonl")))) == 5


def test_jsonl_lines_keep_their_source_and_lines_without_one_get_the_default(
    build: Build, tmp_path: Path
) -> None:
    no_source = {"source_id": "n1", "title": "Bookshelf", "body": "Call 213-555-0130"}
    write(tmp_path / "ads.jsonl", [ad_line(1), json.dumps(no_source).encode()])
    ads = flat(drain(build(tmp_path, paths=["ads.jsonl"])))
    assert [a.key for a in ads] == ["site:ad1", "import:n1"]


# -- batches and exhaustion ---------------------------------------------------------------
def test_at_most_batch_lines_per_poll_then_exhausted(build: Build) -> None:
    conn = build(paths=["cdr/cdr_v2.jsonl", "cdr/cdr_v3.jsonl.gz"], batch=4)
    assert isinstance(conn, Connector)
    batches = drain(conn)
    assert [len(b) for b in batches] == [4, 4, 3, 0]  # the last poll saves the cursors
    assert [a.source_id for a in flat(batches)] == V2_IDS + V3_IDS
    assert conn.exhausted and not conn.backlog
    assert conn.poll() == []


def test_backlog_until_the_last_lines_are_saved(build: Build, state: SourceState) -> None:
    conn = build(paths=["cdr/cdr_v3.jsonl"], batch=5)
    conn.open()
    assert conn.backlog and not conn.exhausted
    assert len(conn.poll()) == 5
    assert conn.backlog and not conn.exhausted  # those 5 are not yet known to be out
    assert state.cursor("import", str(CDR / "cdr_v3.jsonl")) is None
    assert conn.poll() == []
    assert state.cursor("import", str(CDR / "cdr_v3.jsonl")) == "5 eof"
    assert conn.exhausted


# -- bad lines and damaged files ----------------------------------------------------------
def test_bad_lines_are_problems_with_path_and_line(
    build: Build, problems: ProblemLog, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "mixed.jsonl",
        [ad_line(1), b'{"source": "site", "title": ', b"", ad_line(3, region="USA"), ad_line(4)],
    )
    batches = drain(build(tmp_path, paths=["mixed.jsonl"], batch=2))
    assert [[a.source_id for a in b] for b in batches] == [["ad1"], ["ad4"], []]
    assert [(p.where, p.field, p.fatal) for p in problems.problems] == [
        (f"{path}:2", None, False),
        (f"{path}:4", "region", False),
    ]
    assert problems.problems[0].reason.startswith("not JSON:")
    assert "ISO 3166-1" in problems.problems[1].reason
    assert all(p.source == "import" for p in problems.problems)
    # the bad lines keep their bytes and line numbers, for the dead-letter topic
    assert [(p.original, p.line) for p in problems.problems] == [
        (b'{"source": "site", "title": ', 2),
        (ad_line(3, region="USA"), 4),
    ]


def test_bad_cdr_timestamp_names_the_field(
    build: Build, problems: ProblemLog, tmp_path: Path
) -> None:
    doc = {"_id": "x1", "extracted_text": "Sofa, call 212-555-0131", "timestamp_crawl": "soon"}
    path = write(tmp_path / "cdr.jsonl", [json.dumps(doc).encode()])
    assert flat(drain(build(tmp_path, paths=["cdr.jsonl"]))) == []
    (problem,) = problems.problems
    assert (problem.where, problem.field) == (f"{path}:1", "timestamp")


def many_lines(n: int) -> list[bytes]:
    # varied text so the gzip stream is long enough to cut in the middle
    return [
        ad_line(i, body=f"Ad {i}: call 212-555-01{i % 100:02d}, ref {i * 7919}") for i in range(n)
    ]


def test_truncated_gzip_is_fatal_with_the_count_and_keeps_what_came_before(
    build: Build, problems: ProblemLog, tmp_path: Path
) -> None:
    data = gzip.compress(b"".join(line + b"\n" for line in many_lines(3000)))
    cut = tmp_path / "a-cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    shutil.copy(CDR / "cdr_v3.jsonl.gz", tmp_path / "b-next.jsonl.gz")
    batches = drain(build(tmp_path, paths=["*.jsonl.gz"], batch=500))
    ads = flat(batches)
    before = [a for a in ads if a.source == "site"]
    assert 1000 < len(before) < 3000
    assert [a.source_id for a in before] == [f"ad{i}" for i in range(len(before))]
    assert [a.source_id for a in ads[len(before) :]] == V3_IDS  # the next file is still read
    (problem,) = problems.problems
    assert problem.fatal and problem.where == str(cut)
    assert problem.reason == (
        f"truncated gzip after {len(before):,} ads: file is truncated after line "
        f"{len(before)}; later lines are lost"
    )
    assert "," in f"{len(before):,}"


def test_corrupt_gzip(build: Build, problems: ProblemLog, tmp_path: Path) -> None:
    (tmp_path / "fake.jsonl.gz").write_bytes(ad_line(1) + b"\n")
    assert flat(drain(build(tmp_path, paths=["fake.jsonl.gz"]))) == []
    (problem,) = problems.problems
    assert problem.fatal
    assert problem.reason.startswith("corrupt gzip after 0 ads: file is unreadable (")
    assert problem.reason.endswith("before the first line; later lines are lost")


def test_a_file_gone_after_open_is_reported_and_the_rest_read(
    build: Build, problems: ProblemLog, tmp_path: Path
) -> None:
    gone = write(tmp_path / "a.jsonl", [ad_line(1)])
    write(tmp_path / "b.jsonl", [ad_line(2)])
    conn = build(tmp_path, paths=["*.jsonl"])
    conn.open()
    gone.unlink()
    assert [a.source_id for a in flat(drain(conn))] == ["ad2"]
    (problem,) = problems.problems
    assert problem.fatal and problem.where == str(gone)
    assert problem.reason.startswith("cannot read: ")


# -- resuming ------------------------------------------------------------------------------
def test_restart_resumes_after_the_last_saved_line(
    build: Build, state: SourceState, tmp_path: Path
) -> None:
    path = write(tmp_path / "ads.jsonl.gz", many_lines(10))
    first = build(tmp_path, paths=["ads.jsonl.gz"], batch=3)
    seen = [a.source_id for _ in range(3) for a in first.poll()]  # lines 1-9
    assert seen == [f"ad{i}" for i in range(9)]
    first.close()  # shutdown: lines 7-9 were returned but not known to be published
    assert state.cursor("import", str(path)) == "6"
    state.close()

    with SourceState(state.path) as reopened:
        again = build(tmp_path, paths=["ads.jsonl.gz"], batch=3, st=reopened)
        rest = [a.source_id for a in flat(drain(again))]
        assert rest == [f"ad{i}" for i in range(6, 10)]  # starts right after line 6
        assert reopened.cursor("import", str(path)) == "10 eof"
        # together: every line, and only the unconfirmed batch twice
        assert sorted(set(seen + rest)) == sorted(f"ad{i}" for i in range(10))
        assert len(seen + rest) == 10 + 3


def test_a_run_that_completed_reads_nothing_again(
    build: Build, problems: ProblemLog, tmp_path: Path
) -> None:
    write(tmp_path / "ads.jsonl", [ad_line(1), b"not json", ad_line(3)])
    assert len(flat(drain(build(tmp_path, paths=["ads.jsonl"])))) == 2
    assert problems.count == 1
    again = build(tmp_path, paths=["ads.jsonl"])
    assert drain(again) == [[]]
    assert again.exhausted and problems.count == 1  # the bad line is not reported twice


def test_lines_appended_after_a_confirmed_position_are_read(build: Build, tmp_path: Path) -> None:
    path = write(tmp_path / "ads.jsonl", [ad_line(1), ad_line(2)])
    first = build(tmp_path, paths=["ads.jsonl"], batch=1)
    assert [a.source_id for a in first.poll()] == ["ad1"]
    assert [a.source_id for a in first.poll()] == ["ad2"]  # saves line 1
    first.close()
    with path.open("ab") as f:
        f.write(ad_line(3) + b"\n")
    assert [a.source_id for a in flat(drain(build(tmp_path, paths=["ads.jsonl"])))] == [
        "ad2",
        "ad3",
    ]


def test_unreadable_saved_position_is_reported_and_reading_starts_over(
    build: Build, state: SourceState, problems: ProblemLog, tmp_path: Path
) -> None:
    path = write(tmp_path / "ads.jsonl", [ad_line(1)])
    state.set_cursor("import", str(path), "line five")
    assert len(flat(drain(build(tmp_path, paths=["ads.jsonl"])))) == 1
    (problem,) = problems.problems
    assert "'line five'" in problem.reason and not problem.fatal


@pytest.mark.parametrize(
    ("value", "parsed"), [("0", (0, False)), ("12", (12, False)), ("7 eof", (7, True))]
)
def test_parse_cursor(value: str, parsed: tuple[int, bool]) -> None:
    assert parse_cursor(value) == parsed


@pytest.mark.parametrize("value", ["", "-1", "x", "3eof", "eof"])
def test_parse_cursor_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_cursor(value)


# -- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "paths: Field required"),
        ({"paths": []}, "paths: List should have at least 1 item"),
        ({"paths": ["a"], "format": "xml"}, "format: Input should be 'auto', 'jsonl' or 'cdr'"),
        ({"paths": ["a"], "batch": 0}, "batch: Input should be greater than or equal to 1"),
        ({"paths": ["a"], "source": "a b"}, "source: String should match pattern"),
        ({"paths": ["a"], "recursive": True}, "recursive: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_the_field(
    build: Build, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConnectorError, match="connector 'import'") as err:
        build(**options)
    assert fragment in str(err.value)


def test_paths_that_match_nothing_fail_at_open(build: Build) -> None:
    conn = build(paths=["cdr/cdr_v2.jsonl", "cdr/none-*.jsonl", "missing.jsonl"])
    with pytest.raises(ConnectorError) as err:
        conn.open()
    assert "no file matches 'cdr/none-*.jsonl', 'missing.jsonl'" in str(err.value)


def test_runner_imports_everything_once(build: Build, state: SourceState) -> None:
    from connectors.runner import ConnectorRunner

    class Publisher:
        failed = 0
        pending = 0

        def __init__(self) -> None:
            self.sent: list[RawAd] = []

        def publish(self, ad: RawAd) -> None:
            self.sent.append(ad)

        def flush(self, timeout: float | None = None) -> None:
            pass

    publisher = Publisher()
    runner = ConnectorRunner(state, publisher)
    runner.add(build(paths=["cdr/*.jsonl"], batch=4), every_seconds=3600)
    for _ in range(10):
        runner.step()
        if not runner.active:
            break
    assert not runner.active
    assert sorted(a.source_id for a in publisher.sent) == sorted(V2_IDS + V3_IDS)
    assert state.cursor("import", str(CDR / "cdr_v2.jsonl")) == "6 eof"
    assert state.cursor("import", str(CDR / "cdr_v3.jsonl")) == "5 eof"
