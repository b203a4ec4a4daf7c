"""The long-running commands log like the worker: `connectors run` and `api` as real processes.

Each runs at DEBUG (every line of kafka-python, httpx and uvicorn) on the real broker, fed
with ads and requests that hold fictional phone numbers written several ways, then is
stopped with a signal. Every line on its stderr must be one JSON object with the required
fields and its stage, and no phone number (nor an API key, nor a webhook secret) may appear
in any written form.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline import topics
from pipeline.broker import free_port, worker_env
from pipeline.phones import extract_phones
from pipeline.processes import stop_process
from pipeline.settings import Settings
from pipeline.topic_reader import read_records
from tests.fixtures.site_server import AD_IDS, MISSING_TITLE_AD, SITE_DIR, SiteServer
from tests.integration.conftest import wait_for
from tests.integration.test_connectors_e2e import site_config
from tests.integration.test_logs import assert_json_lines, assert_no_phones, log_lines

pytestmark = pytest.mark.integration

ADWATCH = [sys.executable, "-m", "pipeline.cli"]
FILE_ADS = [  # (source_id, body, phone as E.164)
    ("f1", "Quiet evening company downtown, call 702-555-0150 after six.", "+17025550150"),
    ("f2", "Relaxed dinner dates near the river, text (213) 555-0161 first.", "+12135550161"),
    ("f3", "New in town, ring seven zero two five five five zero one seven two.", "+17025550172"),
]
SPELLED = "seven zero two five five five"
BAD_TITLE = {"source": "shop", "source_id": "b1", "title": ["call 312-555-0183"]}
BAD_LINES = [  # invalid lines that quote a phone: reported and dead-lettered, never logged
    (json.dumps(BAD_TITLE), "+13125550183"),
    ("not json, call 312 555 0184", "+13125550184"),
]


def start(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``adwatch ARGS`` as a process, stdout and stderr to files (a pipe could fill up)."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([*ADWATCH, *args], cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    return proc, err


def debug_env(settings: Settings) -> dict[str, str]:
    assert settings.kafka.bootstrap
    return worker_env(settings, settings.kafka.bootstrap) | {"ADWATCH_LOG_LEVEL": "DEBUG"}


def site_phones() -> list[str]:
    """The numbers in the fixture site's ad pages."""
    pages = [(SITE_DIR / "ad" / f"{ad_id}.html").read_text() for ad_id in AD_IDS]
    return sorted({p.e164 for page in pages for p in extract_phones(page, "US")})


def test_connectors_run_logs_json_lines_with_source_and_no_phone_numbers(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    ads = [
        {"source": "shop", "source_id": i, "title": "Evening", "body": b} for i, b, _ in FILE_ADS
    ]
    lines = [json.dumps(ad) for ad in ads] + [line for line, _ in BAD_LINES]
    (tmp_path / "ads.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "connectors.yaml").write_text(
        "connectors:\n"
        "  - {name: shop, type: files, options: {paths: [ads.jsonl]}}\n"
        "  - {name: site, type: site, every_seconds: 3600, options: {site: site.yaml}}\n"
    )
    expected = {f"shop:{i}" for i, _, _ in FILE_ADS}
    expected |= {f"fixture-classifieds:{i}" for i in AD_IDS if i != MISSING_TITLE_AD}

    with SiteServer() as server:
        site_config(tmp_path, server)
        proc, err = start(
            ["connectors", "run", "-c", "connectors.yaml"], debug_env(settings), tmp_path
        )
        try:
            records = read_records(
                settings, bootstrap, topics.RAW, min_count=len(expected), timeout=180
            )
            assert {r.key.decode() for r in records} >= expected
            assert proc.poll() is None, (tmp_path / "stdout.txt").read_text()
        finally:
            code = stop_process(proc, 60)  # SIGTERM: stops like Ctrl-C
    assert code == 0, log_lines(err)[-5:]
    summary = (tmp_path / "stdout.txt").read_text()  # the result stays human text on stdout
    assert "shop: polled" in summary and "site: polled" in summary

    raw = log_lines(err)
    parsed = assert_json_lines(raw)  # every stderr line is one JSON object
    assert {line["logger"].split(".")[0] for line in parsed} >= {"adwatch", "connectors", "kafka"}
    assert all(line["stage"] == "connector" for line in parsed)
    assert any(line["logger"] == "httpx" for line in parsed)  # its per-request lines, at DEBUG
    problems = [line for line in parsed if line["logger"] == "connectors.runner"]
    by_source = {(line["source"], line["level"]) for line in problems}
    assert ("shop", "WARNING") in by_source and ("site", "WARNING") in by_source
    assert sum(line["source"] == "shop" for line in problems) == len(BAD_LINES)
    stopped = {line["source"] for line in parsed if line["event"].startswith("stopped:")}
    assert stopped == {"shop", "site"}

    phones = [phone for _, _, phone in FILE_ADS] + [phone for _, phone in BAD_LINES]
    on_site = site_phones()
    assert len(on_site) >= len(AD_IDS) - 1  # the fixture's pages do hold numbers
    assert_no_phones(raw, phones + on_site, spelled=(SPELLED,))
    text = "\n".join(raw)
    assert "Quiet evening company" not in text and "Relaxed dinner dates" not in text


def test_api_logs_json_lines_without_phones_or_keys(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    user_key, admin_key, hook_secret = "k3y-ana-4f1c9e2d", "k3y-ops-7a0b3c5e", "hm4c-s3cret-v4lue"
    (tmp_path / "keys.yaml").write_text(
        f"{user_key}: {{subscriber: ana}}\n{admin_key}: {{subscriber: ops, admin: true}}\n"
    )
    port = free_port()
    proc, err = start(
        ["api", "--keys", "keys.yaml", "--port", str(port)], debug_env(settings), tmp_path
    )
    base = f"http://127.0.0.1:{port}"
    phones = ["+17025550150", "+12135550161", "+13125550183"]
    try:

        def answers() -> bool:
            assert proc.poll() is None, log_lines(err)[-5:]
            try:
                return httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 120, "the API to answer")
        rule: dict[str, Any] = {"phones": ["(702) 555-0150", "213.555.0161"]}
        hook = {"kind": "webhook", "target": "https://example.org/hook", "secret": hook_secret}
        body = {"name": "watch 312-555-0183", "rule": rule, "channels": [hook]}
        created = httpx.post(
            f"{base}/subscriptions", json=body, headers={"X-API-Key": user_key}, timeout=30
        )
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        listed = httpx.get(f"{base}/subscriptions", headers={"X-API-Key": admin_key}, timeout=30)
        assert [s["id"] for s in listed.json()] == [sub_id]
        refused = httpx.get(f"{base}/subscriptions", headers={"X-API-Key": "nope"}, timeout=30)
        assert refused.status_code == 401
        missing = httpx.get(
            f"{base}/subscriptions/x?ref=312-555-0183", headers={"X-API-Key": user_key}, timeout=30
        )
        assert missing.status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)  # uvicorn stops gracefully on SIGINT and SIGTERM
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            code = stop_process(proc, 5)
    assert code == 0, log_lines(err)[-5:]

    raw = log_lines(err)
    parsed = assert_json_lines(raw)
    assert all(line["stage"] == "api" for line in parsed)
    assert {line["logger"].split(".")[0] for line in parsed} >= {"adwatch", "uvicorn", "kafka"}
    access = [line for line in parsed if line["logger"] == "uvicorn.access"]
    assert [(a["method"], a["path"], a["status"]) for a in access] == [
        ("GET", "/openapi.json", 200),  # the probe that found it up (refused ones never arrive)
        ("POST", "/subscriptions", 201),
        ("GET", "/subscriptions", 200),
        ("GET", "/subscriptions", 401),
        ("GET", "/subscriptions/x?ref=***-***-**83", 404),  # a phone in a URL is masked too
    ]
    assert all(a["client"].startswith("127.0.0.1:") for a in access)
    assert any(line["event"].startswith("subscriptions API on") for line in parsed)
    assert not any("color_message" in line for line in parsed)

    assert_no_phones(raw, phones)
    text = "\n".join(raw)
    for secret in (user_key, admin_key, hook_secret):
        assert secret not in text
    assert os.path.getsize(tmp_path / "stdout.txt") == 0  # nothing but log lines
