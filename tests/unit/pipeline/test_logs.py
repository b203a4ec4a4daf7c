"""Structured logs: phones masked, secrets redacted, one valid JSON object per line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from pipeline import logs
from pipeline.deadletter_cap import Trip, write_halt
from pipeline.logs import LogOptions, Redactor, mask_phones, redact_text
from pipeline.phones import extract_phones
from pipeline.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[3]
REQUIRED = ("timestamp", "level", "logger", "event")

# (as written, its E.164): every style the extractor reads, fictional 555-01XX numbers
PHONES = [
    ("702-555-0150", "+17025550150"),
    ("(702) 555-0151", "+17025550151"),
    ("+1 (702) 555-0152", "+17025550152"),
    ("+17025550153", "+17025550153"),
    ("17025550154", "+17025550154"),
    ("7025550155", "+17025550155"),
    ("702.555.0156", "+17025550156"),
    ("702 555 0157", "+17025550157"),
    ("1-702-555-0158", "+17025550158"),
    ("702/555/0159", "+17025550159"),
    ("[702] 555 0160", "+17025550160"),
    ("702 - 555 - 0161", "+17025550161"),
    ("702..555..0162", "+17025550162"),
    ("702~555~0163", "+17025550163"),
    ("702**555**0164", "+17025550164"),
    ("702\n555\n0165", "+17025550165"),
    ("7 0 2  5 5 5  0 1 6 6", "+17025550166"),
    ("7O2.555.O167", "+17025550167"),
    ("seven zero two five five five zero one six eight", "+17025550168"),
    ("Seven-Zero-Two-Five-Five-Five-Zero-One-Six-Nine", "+17025550169"),
    ("7zero2 555 01seven0", "+17025550170"),
    ("⑦⓪②⑤⑤⑤⓪①⑦①", "+17025550171"),
    ("７０２−５５５−０１７２", "+17025550172"),
    ("702 5550173", "+17025550173"),
    ("+44 20 7946 0174", "+442079460174"),
]

# Text with 7+ digits that is no phone: must stay as it is (ops grep for it).
NOT_PHONES = [
    "2026-11-28T07:47:28.123Z",
    "halted at 2026-11-28T07:47:28+00:00",
    "2026-11-28 07:47:28,123",
    "broker 127.0.0.1:43863 and 10.20.30.40",
    "dead-lettered t5-123456789.ads.raw[3]@155",
    "offset 1234567 of partition 3",
    "unix 1764316800 and 1764316800123 ms",
    "faust-streaming 0.15.3, drift 3.14159265",
    "wrote 500 ads, 0 rejected in 0.0123s",
    "TP(topic='t1-123.ads.raw', partition=3) offset=1234567 highwater=7654321",
    "key demo:000123, band t3:12345678",
    "time_spent_sleeping=1.000448717000836 since_epoch=2.000123456789012",
    "ApiVersionResponse_v0(error_code=0, api_versions=[(api_key=18, min_version=0)])",
    "ApiVersionsResponse(version=4, api_keys=[ApiVersion(version=4, api_key=17)])",
    "node=bootstrap-0[127.0.0.1:58283] Response 1 (14.123456789012315 ms)",
    "Response 2 (6.081234567890183 ms)",
    "topic_id=UUID('01a221b4-1234-5633-a4b2-123456789012')",
]


def digits_of(e164: str) -> str:
    return e164.lstrip("+")


@pytest.mark.parametrize(("written", "e164"), PHONES)
def test_phones_are_masked_in_every_style(written: str, e164: str) -> None:
    line = f"dead-lettered: record mentions {written} (stage enrich)"
    masked = mask_phones(line)
    assert masked != line
    assert not [p for p in extract_phones(masked, "US") if p.e164 == e164]
    national = digits_of(e164)[-10:]
    assert national not in "".join(ch for ch in masked if ch.isdigit())
    assert "(stage enrich)" in masked and masked.startswith("dead-lettered: record mentions ")


def test_masking_keeps_the_last_two_digits_and_the_shape() -> None:
    assert mask_phones("call +1 (702) 555-0150 now") == "call +* (***) ***-**50 now"
    assert mask_phones("phone:+17025550150") == "phone:+*********50"
    assert mask_phones("['+17025550150', '+17025550151']") == "['+*********50', '+*********51']"


@pytest.mark.parametrize("text", NOT_PHONES)
def test_other_numbers_stay_readable(text: str) -> None:
    assert mask_phones(text) == text
    assert redact_text(text) == text


def test_a_phone_next_to_a_long_number_is_still_masked() -> None:
    assert mask_phones("at 1764316800 702-555-0150") == "at 1764316800 ***-***-**50"
    assert mask_phones("+1 7025550150") == "+1 ********50"


def test_mask_digits_hides_all_but_the_last_two() -> None:
    assert logs.mask_digits("+1 702 555 0150") == "+* *** *** **50"
    assert logs.mask_digits("5") == "5"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login with password=hunter2x", "hunter2x"),
        ("smtp_password: 'p4ss-w0rd'", "p4ss-w0rd"),
        ('{"api_key": "k3y-value"}', "k3y-value"),
        ("webhook_secret=s3cr3t-hmac", "s3cr3t-hmac"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("header Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("https://hook.example/x?token=t0k3n-v&x=1", "t0k3n-v"),
        ("es at https://elastic:chang3me@es.local:9200/", "chang3me"),
        ("kafka://user:pa55word@broker:9092", "pa55word"),
        ("https://hooks.slack.com/services/T000/B000/XXXXsecret", "XXXXsecret"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert logs.MASK in out or "***" in out


def test_configured_secrets_are_redacted_wherever_they_appear() -> None:
    out = redact_text("connect failed for xK9-long-api-key-value here", ["xK9-long-api-key-value"])
    assert out == f"connect failed for {logs.MASK} here"


def test_pydantic_input_values_are_not_logged() -> None:
    message = (
        "1 validation error for EnrichedAd\nbody\n  Input should be a valid string "
        "[type=string_type, input_value={'body': 'sweet young thing, call 702 555 0150'}, "
        "input_type=dict]"
    )
    out = redact_text(message)
    assert "sweet young" not in out and "0150" not in out
    assert "input_value=<redacted>, input_type=dict]" in out


def test_record_values_printed_by_faust_and_aiokafka_are_left_out() -> None:
    value = b'{"body": "it\'s sunny, call 702 555 0150", "title": "Evening"}'
    faust_line = f"send: topic='t.ads.enriched' k=b'logs:ad-1' v={value!r} key_serializer=None"
    aiokafka_line = f"Sending (key=b'phone:+17025550150' value={value!r}) to TopicPartition(3)"
    assert redact_text(faust_line) == (
        "send: topic='t.ads.enriched' k=b'logs:ad-1' v=<record> key_serializer=None"
    )
    assert redact_text(aiokafka_line) == (
        "Sending (key=b'phone:+*********50' value=<record>) to TopicPartition(3)"
    )
    request = f"ProduceRequest_v7(partitions=[(partition=2, messages=bytearray({value!r}))])"
    assert redact_text(request) == (
        "ProduceRequest_v7(partitions=[(partition=2, messages=<record>)])"
    )
    dump = repr(b"\x00\x00\x01" * 10 + value)
    assert redact_text(f"Recv: {dump}") == f"Recv: <bytes: {len(dump)} chars>"


def test_ordinary_words_are_not_taken_for_secrets() -> None:
    text = "Basic authentication failed; 3 keys passed, ad_key demo:1"
    assert redact_text(text) == text
    assert (
        redact_text("password=1234 api_key=123456") == f"password={logs.MASK} api_key={logs.MASK}"
    )


def redact(event: dict[str, Any], method: str = "info", **kw: Any) -> dict[str, Any]:
    return dict(Redactor(**kw)(None, method, dict(event)))


def test_redactor_fields_by_name_and_content() -> None:
    out = redact(
        {
            "event": "sent to +17025550150",
            "api_key": "abc",
            "smtp_password": SecretStr("x"),
            "authorization": "Bearer tok",
            "phones": ["+17025550150", 7025550151],
            "body": "long ad text with 702 555 0150",
            "nested": {"password": "pw", "note": "ring 702.555.0152"},
            "count": 7025550153,
            "level": "INFO",
            "timestamp": "2026-11-28T07:47:28.123Z",
        }
    )
    assert out["event"] == "sent to +*********50"
    assert out["api_key"] == out["smtp_password"] == out["authorization"] == logs.MASK
    assert out["phones"] == ["+*********50", "********51"]
    assert out["body"] == "<30 chars>"
    assert out["nested"] == {"password": logs.MASK, "note": "ring ***.***.**52"}
    assert out["count"] == 7025550153  # a number field that is not a phone field stays
    assert out["level"] == "INFO" and out["timestamp"] == "2026-11-28T07:47:28.123Z"


def test_a_value_that_cannot_be_redacted_drops_the_line_not_the_secret() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    event = {"event": "call 702-555-0150", "obj": Unprintable(), "level": "INFO"}
    out = redact(event)
    assert out["event"] == "<line dropped: redaction failed>" and out["level"] == "INFO"
    assert "0150" not in json.dumps(out, default=str)


def test_debug_masks_phones_unless_the_setting_says_otherwise() -> None:
    event = {"event": "link key phone:+17025550150 password=pw12"}
    assert "+17025550150" not in redact(event, "debug")["event"]
    kept = redact(event, "debug", debug_phones=True)["event"]
    assert "+17025550150" in kept and "pw12" not in kept  # secrets: never
    assert "+17025550150" not in redact(event, "info", debug_phones=True)["event"]


def render(record: logging.LogRecord, options: LogOptions | None = None) -> str:
    stream = io.StringIO()
    handler = logs.make_handler(options or LogOptions(), stream)
    handler.handle(record)
    return stream.getvalue()


def record(
    name: str, level: int, msg: str, *args: Any, exc: bool = False, **extra: Any
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("refused 702-555-0150")
        except RuntimeError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_is_one_json_object_with_the_required_fields() -> None:
    rec = record(
        "adwatch.app",
        logging.WARNING,
        "dead-lettered %s at stage %s: %s",
        "t.ads.raw[2]@9",
        "validate",
        "not JSON",
        stage="validate",
        ad_key="demo:000042",
        reason="not JSON",
    )
    out = render(rec)
    assert out.endswith("\n") and out.count("\n") == 1
    line = json.loads(out)
    assert list(line)[:6] == ["timestamp", "level", "logger", "stage", "ad_key", "event"]
    assert line["level"] == "WARNING" and line["logger"] == "adwatch.app"
    assert line["event"] == "dead-lettered t.ads.raw[2]@9 at stage validate: not JSON"
    assert line["ad_key"] == "demo:000042" and line["reason"] == "not JSON"
    stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert line["timestamp"].endswith("Z") and stamp.utcoffset() is not None
    assert abs(stamp.timestamp() - rec.created) < 0.001


def test_faust_style_records_are_rendered_and_redacted() -> None:
    table = "┌Highwater──────────┬───┐\n│ t1-phones-changelog │ 0 │ 12 │\n└───────┘"
    recovery = render(record("faust.tables.recovery", logging.INFO, "[^---Recovery]: %s", table))
    assert json.loads(recovery)["event"] == f"[^---Recovery]: {table}"
    failed = render(
        record("faust.agents.agent", logging.ERROR, "[^Agent*: adwatch.enrich]: Crashed", exc=True)
    )
    line = json.loads(failed)
    assert line["level"] == "ERROR" and line["logger"] == "faust.agents.agent"
    assert line["exception"].startswith("Traceback")
    assert line["exception"].endswith("RuntimeError: refused ***-***-**50")
    assert failed.count("\n") == 1


def test_console_format_is_readable_and_redacted() -> None:
    rec = record("adwatch.link", logging.INFO, "scored ad phone:+17025550150", stage="link")
    out = render(rec, LogOptions(fmt="console"))
    assert "scored ad phone:+*********50" in out and "stage=link" in out
    assert "info" in out.lower() and not out.lstrip().startswith("{")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root logger and structlog after a test that configures them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = (sys.excepthook, sys.stderr)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)
    sys.excepthook, sys.stderr = hooks
    structlog.reset_defaults()


def test_configure_routes_stdlib_structlog_and_warnings(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(level="INFO"), stream, hooks=False)
    logging.getLogger("aiokafka.consumer").info("joined group adwatch")
    logging.getLogger("adwatch.app").debug("not at INFO")
    structlog.get_logger("adwatch.x").warning("native %s", "line", ad_key="a:1")
    logging.getLogger("py.warnings").warning("a warning")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["joined group adwatch", "native line", "a warning"]
    assert all(all(k in line for k in REQUIRED) for line in lines)
    assert lines[1]["ad_key"] == "a:1" and lines[1]["logger"] == "adwatch.x"


def test_faust_logging_config_reinstalls_the_handler(
    root_logging: None, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    from mode.utils.logging import setup_logging

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    settings = load_settings(kafka={"sasl_password": "very-secret-pw"}, log_level="INFO")
    config = logs.faust_logging_config(settings)
    setup_logging(loglevel="info", logging_config=config)  # what faust's worker does at start
    setup_logging(loglevel="info", logging_config=config)  # twice: the config is reusable
    logging.getLogger("faust.worker").info("connecting with very-secret-pw to 702-555-0150")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "faust.worker"
    assert line["event"] == f"connecting with {logs.MASK} to ***-***-**50"
    assert len(logging.getLogger().handlers) == 1


def test_known_secrets_come_from_the_settings(isolated_env: Path) -> None:
    settings = load_settings(
        kafka={"sasl_password": "kafka-pw-1"},
        index={"elasticsearch_password": "es-pw-22"},
        alerts={"smtp_username": "u", "smtp_password": "abc"},
    )
    assert logs.known_secrets(settings) == ("kafka-pw-1", "es-pw-22")  # "abc": too short
    assert LogOptions.from_settings(settings).secrets == ("kafka-pw-1", "es-pw-22")


def test_log_settings(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.log_format == "json" and settings.log_debug_phones is False
    assert settings.masked()["log_format"] == "json"
    monkeypatch.setenv("ADWATCH_LOG_FORMAT", "console")
    assert load_settings().log_format == "console"
    monkeypatch.setenv("ADWATCH_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="ADWATCH_LOG_FORMAT"):
        load_settings()


def test_each_record_binds_the_ad_only_while_it_is_handled(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(level="DEBUG"), stream, hooks=False)
    log = logging.getLogger("adwatch.test")

    async def events() -> AsyncIterator[Any]:
        for key in (b"demo:1", None, b"demo:3"):
            yield SimpleNamespace(message=SimpleNamespace(key=key))
            log.debug("between records")  # as faust's stream code would

    async def agent() -> None:
        async for _ in logs.each_record(events(), "enrich", logs.message_key):
            log.debug("handling")

    async def other_task() -> None:
        log.debug("another task")

    async def main() -> None:
        await asyncio.gather(agent(), other_task())

    asyncio.run(main())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [(line["event"], line.get("stage"), line.get("ad_key")) for line in lines]
    assert ("handling", "enrich", "demo:1") in ours
    assert ("handling", "enrich", None) in ours
    assert ("handling", "enrich", "demo:3") in ours
    assert all(ad is None for event, _, ad in ours if event == "between records")
    assert ("another task", None, None) in ours


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.worker"],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_reports_invalid_settings_as_one_json_line(tmp_path: Path) -> None:
    done = run_worker({"ADWATCH_KAFKA__PARTITIONS": "0", "ADWATCH_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 1 and lines[0]["level"] == "CRITICAL"
    assert "ADWATCH_KAFKA__PARTITIONS" in lines[0]["event"]
    assert "Traceback" not in done.stderr


def test_halted_worker_says_why_in_a_json_line(tmp_path: Path) -> None:
    write_halt(tmp_path, Trip(stage="enrich", dead=20, window=20, max_ratio=0.5))
    done = run_worker(
        {
            "ADWATCH_DATA_DIR": str(tmp_path),
            "ADWATCH_KAFKA__BOOTSTRAP": "127.0.0.1:9",
            "ADWATCH_MONITORING__DEADLETTER_WINDOW": "20",
        }
    )
    assert done.returncode == 78
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["stage"]) for line in lines] == [("CRITICAL", "enrich")]
    assert "halted at" in lines[0]["event"] and "dead-letter cap" in lines[0]["reason"]


def test_the_formatter_leaves_the_record_alone() -> None:
    """Other handlers (pytest's, a second one) still see the record as it was."""
    rec = record("adwatch.app", logging.INFO, "call %s", "702-555-0150", stage="enrich")
    render(rec)
    assert rec.getMessage() == "call 702-555-0150" and rec.stage == "enrich"  # type: ignore[attr-defined]


def test_dict_config_keeps_existing_loggers(isolated_env: Path) -> None:
    config = logs.faust_logging_config(load_settings(data_dir="x"))
    assert config["disable_existing_loggers"] is False
    assert config["root"]["handlers"] == ["adwatch"]
    assert callable(config["handlers"]["adwatch"]["()"])
