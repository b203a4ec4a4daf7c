"""Worker logs on the real broker: JSON lines with stage and ad key, no phone number in them.

A worker at DEBUG (the level with per-record lines, and faust's and aiokafka's own chatter)
processes three ads whose phones are written three ways, and one invalid record that
quotes a phone. Its log must be one JSON object per line, say which stage did what to which
ad, name the reason of the dead letter, and hold none of those phone numbers in any form.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.phones import extract_phones
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from schemas import RawAd
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

ADS = [  # (source_id, body, phone as E.164, as written)
    ("ad-1", "Quiet evening company downtown, call 702-555-0150 after six.", "+17025550150"),
    ("ad-2", "Relaxed dinner dates near the river, text (213) 555-0161 first.", "+12135550161"),
    (
        "ad-3",
        "New in town for a week, ring seven zero two five five five zero one seven two.",
        "+17025550172",
    ),
]
BAD_KEY = "logs:bad-1"
BAD_PHONE = "+13125550183"
BAD = json.dumps(
    {"source": "logs", "source_id": "bad-1", "body": 5, "location": "call 312-555-0183"}
).encode()  # body must be text: dead-lettered at stage validate
REQUIRED = ("timestamp", "level", "logger", "event")


# --- helpers, shared with tests/integration/test_cli_logs.py ------------------------------


def log_lines(path: Path) -> list[str]:
    """The non-empty lines of the log file at ``path`` (none before it exists)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()]


def parsed_so_far(path: Path) -> list[dict[str, Any]]:
    """The lines of ``path`` that parse as JSON, for waiting on a line to appear."""
    out = []
    for line in log_lines(path):
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # checked strictly at the end; a line may be half written now
    return out


def strings(value: Any) -> list[str]:
    """Every string in a parsed JSON value, nested ones included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_json_lines(raw: list[str]) -> list[dict[str, Any]]:
    """Every line one JSON object with the required fields, UTC timestamp, known level."""
    lines = [json.loads(line) for line in raw]
    for line in lines:
        assert all(field in line for field in REQUIRED), line
        stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
        assert line["timestamp"].endswith("Z") and stamp.utcoffset() is not None
        assert line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    return lines


def assert_no_phones(raw: list[str], phones: list[str], spelled: tuple[str, ...] = ()) -> None:
    """No number of ``phones`` (E.164, US) in any form in the log lines ``raw``.

    Not as digits with or without separators, not as ``555-XXXX``, not written in
    ``spelled`` words, and not extractable by our own phone extractor from any value.
    """
    text = "\n".join(raw)
    for phone in phones:
        national = phone[2:]
        assert phone not in text and national not in text, phone
        assert f"{national[:3]}-{national[3:6]}-{national[6:]}" not in text, phone
        assert f"555-{national[6:]}" not in text and f"555 {national[6:]}" not in text, phone
    for words in spelled:
        assert words not in text, words
    for line in (json.loads(line) for line in raw):
        for value in strings(line):
            found = {p.e164 for p in extract_phones(value, "US")}
            assert not found & set(phones), (line, found)


# --- the worker ---------------------------------------------------------------------------


def test_worker_log_is_json_with_stage_and_ad_key_and_no_phone_numbers(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    settings = settings_factory(log_level="DEBUG")
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    worker = worker_factory(settings)
    keys = {f"logs:{source_id}" for source_id, _, _ in ADS}
    with AdProducer(settings, bootstrap) as producer:
        for source_id, body, _ in ADS:
            producer.publish(
                RawAd(source="logs", source_id=source_id, title="Evening plans", body=body)
            )
        producer.publish_raw(topics.RAW, BAD_KEY.encode(), BAD, [])

    wait_for(lambda: index_count(settings) >= len(ADS), 180, f"{len(ADS)} ads indexed")

    def indexed_lines() -> set[str]:
        return {
            line.get("ad_key", "")
            for line in parsed_so_far(worker.log_path)
            if line.get("stage") == "index" and line["event"].startswith("indexed")
        }

    wait_for(lambda: keys <= indexed_lines(), 120, "an 'indexed' line for every ad")
    wait_for(
        lambda: any(line.get("ad_key") == BAD_KEY for line in parsed_so_far(worker.log_path)),
        60,
        "the dead-letter line",
    )
    assert worker.stop() == 0  # graceful: its shutdown lines are in the log too

    raw = log_lines(worker.log_path)
    lines = assert_json_lines(raw)  # every line is one JSON object
    assert len(lines) > 50  # faust's and aiokafka's own lines are there, as JSON
    assert {line["logger"].split(".")[0] for line in lines} >= {"adwatch", "faust", "aiokafka"}

    # Each ad: a line per stage it went through, carrying its key.
    for key in keys:
        stages = {line.get("stage") for line in lines if line.get("ad_key") == key}
        assert {"enrich", "index"} <= stages and stages & {"route", "link"}, (key, stages)

    # The dead letter: stage, reason and the record's key, as fields.
    dead = [line for line in lines if line["event"].startswith("dead-lettered")]
    assert len(dead) == 1, dead
    assert dead[0]["ad_key"] == BAD_KEY and dead[0]["logger"] == "adwatch.app"
    assert dead[0]["level"] == "WARNING" and dead[0]["stage"] == "validate"
    assert dead[0]["reason"].startswith("body: ") and dead[0]["exception_class"] == "InvalidRecord"
    assert dead[0]["topic"] == settings.topic(topics.RAW)

    # No phone number of these records, in any form, anywhere in the log.
    phones = [phone for _, _, phone in ADS] + [BAD_PHONE]
    assert_no_phones(raw, phones, spelled=("seven zero two five five five",))
    # Nor their text: faust and aiokafka print records at DEBUG, the redactor leaves them out.
    text = "\n".join(raw)
    assert "Quiet evening company" not in text and "Relaxed dinner dates" not in text
