"""Handles: found next to a platform cue, as "platform:handle"."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snap: mia_22", ["snapchat:mia_22"]),
        ("Snapchat - sweetmia22", ["snapchat:sweetmia22"]),
        ("add me on snapchat sweetmia22", ["snapchat:sweetmia22"]),
        ("👻 mia22", ["snapchat:mia22"]),
        ("IG @mia.22", ["instagram:mia.22"]),
        ("insta: Mia.Rose", ["instagram:mia.rose"]),
        ("kik me mia22", ["kik:mia22"]),
        ("Telegram @miamia", ["telegram:miamia"]),
        ("t.me/mia22", ["telegram:mia22"]),
        ("OF: sweetmia", ["onlyfans:sweetmia"]),
        ("onlyfans.com/sweetmia", ["onlyfans:sweetmia"]),
        ("only fans: sweet_mia", ["onlyfans:sweet_mia"]),
        ("twitter @mia_22", ["twitter:mia_22"]),
        ("X: @mia_22", ["twitter:mia_22"]),
        ("tiktok: mia.dance", ["tiktok:mia.dance"]),
        ("discord: mia_22", ["discord:mia_22"]),
        ("@mia22 on insta", ["instagram:mia22"]),
        ("SC: mia22", ["snapchat:mia22"]),
        ("snapchat kik: mia22", ["kik:mia22"]),
        ("whatsapp: mia_rose", ["whatsapp:mia_rose"]),
    ],
)
def test_handles_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "handle") == expected


@pytest.mark.parametrize(
    "text",
    [
        "no snapchat",
        "snapchat only please",
        "Snapchat and Kik",
        "one of them",
        "full of fun",  # "of" in lower case is a word, not OnlyFans
        "Greenville, SC 29601",
        "Whatsapp +1 555 0100 only",
        "whatsapp 5550100",
        "signal strength is low",
        "2021 Ford F-150 XLT 4x4",
        "snap: amber@gmail.com",
        "kik me",
    ],
)
def test_not_handles(values: Values, text: str) -> None:
    assert values(text, "handle") == []


def test_raw_span_covers_cue_and_handle(extract: Callable[..., list]) -> None:
    [handle] = extract("add me on snapchat sweetmia22 ok", "handle")
    assert handle.raw == "snapchat sweetmia22"
    assert handle.confidence == 0.9
    [plain] = extract("snap sweetmia", "handle")
    assert plain.confidence < handle.confidence
