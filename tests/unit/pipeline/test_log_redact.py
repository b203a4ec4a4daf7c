"""Redaction of log lines: phones masked in every style, secrets and ad text left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline import log_redact, logs
from pipeline.log_redact import (
    MASK,
    Redactor,
    known_secrets,
    mask_digits,
    mask_phones,
    redact_text,
    secrets_to_replace,
)
from pipeline.logs import LogOptions
from pipeline.phones import extract_phones
from pipeline.settings import load_settings

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
    assert mask_digits("+1 702 555 0150") == "+* *** *** **50"
    assert mask_digits("5") == "5"


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
    assert MASK in out or "***" in out


def test_configured_secrets_are_redacted_wherever_they_appear() -> None:
    out = redact_text("connect failed for xK9-long-api-key-value here", ["xK9-long-api-key-value"])
    assert out == f"connect failed for {MASK} here"


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
    assert redact_text("password=1234 api_key=123456") == f"password={MASK} api_key={MASK}"


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
    assert out["api_key"] == out["smtp_password"] == out["authorization"] == MASK
    assert out["phones"] == ["+*********50", "********51"]
    assert out["body"] == "<30 chars>"
    assert out["nested"] == {"password": MASK, "note": "ring ***.***.**52"}
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


def test_known_secrets_come_from_the_settings(isolated_env: Path) -> None:
    settings = load_settings(
        kafka={"sasl_password": "kafka-pw-1"},
        index={"elasticsearch_password": "es-pw-22"},
        alerts={"smtp_username": "u", "smtp_password": "abc"},
    )
    assert known_secrets(settings) == ("kafka-pw-1", "es-pw-22")  # "abc": too short
    assert LogOptions.from_settings(settings).secrets == ("kafka-pw-1", "es-pw-22")


def test_secrets_to_replace_are_distinct_long_enough_and_longest_first() -> None:
    assert secrets_to_replace(["abc", "k3y-one", "k3y-one-longer", "k3y-one"]) == (
        "k3y-one-longer",
        "k3y-one",
    )
    text = redact_text(
        "keys k3y-one-longer and k3y-one", secrets_to_replace(["k3y-one", "k3y-one-longer"])
    )
    assert text == f"keys {MASK} and {MASK}"


def test_log_options_add_the_commands_secrets(isolated_env: Path) -> None:
    settings = load_settings(kafka={"sasl_password": "kafka-pw-1"})
    options = LogOptions.from_settings(settings, "api", ("api-key-0123456789", "ab"))
    assert options.secrets == ("api-key-0123456789", "kafka-pw-1")  # "ab": too short
    assert options.stage == "api"


@pytest.mark.parametrize(
    "name",
    [
        "MASK",
        "Redactor",
        "is_secret_name",
        "known_secrets",
        "mask_digits",
        "mask_phones",
        "redact_secrets",
        "redact_text",
    ],
)
def test_redaction_names_are_still_importable_from_pipeline_logs(name: str) -> None:
    assert getattr(logs, name) is getattr(log_redact, name)
