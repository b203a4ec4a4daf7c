"""Alerts end to end on the real broker, a real SMTP server and a real HTTP receiver.

Three subscriptions: a phone (given as a person types it) to a webhook that fails three
times before it recovers, a flag with a minimum score to email, a keyword to a JSON-lines
file. A stream of ads, some matching each rule and some none: each subscriber gets exactly
its matching ads, once, through its channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.producer import AdProducer
from pipeline.alerts.store import SubscriptionStore
from pipeline.phones import normalize_phone
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from schemas import RawAd, SearchQuery
from schemas.alerts import Channel, Subscription
from tests.fixtures.receivers import FlakyHttpReceiver, SmtpReceiver
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

SECRET = "webhook-secret"
NOW = datetime.now(UTC)


def sub(sub_id: str, rule: SearchQuery, channel: Channel) -> Subscription:
    return Subscription(
        id=sub_id,
        owner=f"owner-{sub_id}",
        name=f"watch {sub_id}",
        rule=rule,
        channels=[channel],
        created_at=NOW,
        updated_at=NOW,
    )


def ad(i: int, body: str) -> RawAd:
    return RawAd(source="alerts", source_id=str(i), title=f"Listing {i}", body=body)


STREAM = [
    ad(0, "Quiet evenings downtown, text 702-555-0142 for times."),  # phone
    ad(1, "Sweet young fresh face, new to the scene, text 213 555 0177."),  # flag
    ad(2, "Studio near the harbor view promenade, call 415-555-0190."),  # keyword
    ad(3, "Mountain bike for sale, barely used, 503-555-0161."),  # nothing
    ad(4, "Ask for Mia, seven oh two five five five oh one four two, discreet."),  # phone
    ad(5, "Teen looking sweetheart, innocent and shy, 312-555-0133."),  # flag
    ad(6, "Piano lessons for beginners on Saturdays, 503-555-0162."),  # nothing
]


def test_each_subscriber_gets_its_matches_once(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    with FlakyHttpReceiver(fail_first=3) as hook, SmtpReceiver() as smtp:
        out = tmp_path / "alerts.jsonl"
        settings = settings_factory(
            alerts={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "initial_backoff_seconds": 0.2,
                "max_backoff_seconds": 1.0,
                "max_attempts": 6,
            }
        )
        assert settings.kafka.bootstrap
        phone = normalize_phone("(702) 555-0142")
        with SubscriptionStore(settings, settings.kafka.bootstrap) as store:
            store.put(
                sub(
                    "by-phone",
                    SearchQuery(phones=[phone]),
                    Channel(kind="webhook", target=f"{hook.url}/hook", secret=SECRET),
                )
            )
            store.put(
                sub(
                    "by-flag",
                    SearchQuery(flags_any=["youth_language"], min_score=0.3),
                    Channel(kind="email", target="analyst@example.org", mask_phones=True),
                )
            )
            store.put(
                sub(
                    "by-word",
                    SearchQuery(text="harbor view"),
                    Channel(kind="file", target=str(out)),
                )
            )
        worker_factory(settings)
        with AdProducer(settings, settings.kafka.bootstrap) as producer:
            for raw in STREAM:
                producer.publish(raw)

        def delivered_hooks() -> list[dict[str, object]]:
            return [json.loads(r.body) for r in hook.requests[hook.fail_first :]]

        wait_for(
            lambda: len(delivered_hooks()) >= 2 and len(smtp.messages) >= 2 and out.exists(),
            180,
            "alerts through the webhook (after 3 failures), email and file",
        )
        wait_for(lambda: len(hook.requests) >= 5, 30, "both webhook alerts")

    # the webhook: 3 refused attempts, then each phone ad exactly once, signed
    posted = [r for r in hook.requests]
    assert len(posted) == 3 + 2
    for request in posted:
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Adwatch-Signature"] == f"sha256={expected}"
    keys = sorted(a["ad_key"] for body in delivered_hooks() for a in body["alerts"])  # type: ignore[attr-defined]
    assert keys == ["alerts:0", "alerts:4"]  # typed plainly and spelled out in words

    # email: the two youth-language ads, phones masked
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert len(subjects) == 2 and all("watch by-flag" in s for s in subjects)
    bodies = "\n".join(m.get_body(("plain",)).get_content() for m in smtp.messages)
    assert "213555" in bodies.replace(" ", "") or "+1213555" in bodies
    assert "2135550177" not in bodies.replace(" ", "").replace("-", "")

    # the file: the one keyword ad
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["ad_key"] for line in lines] == ["alerts:2"]
