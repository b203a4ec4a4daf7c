"""Alerts end to end on the real broker, a real SMTP server and a real HTTP receiver.

Subscriptions on a phone (typed as a person types it) to a webhook that fails three times
before it recovers, on a flag with a minimum score to email, on a keyword to a JSON-lines
file, and a paused one. A stream of ads, some matching each rule and some none: each
subscriber gets exactly its matching ads, once, through its channel, also when the same
ads are scraped again. A digest subscription gets one message for all its matches; alerts
no channel takes are dead-lettered and can be replayed once the receiver is back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.alerts.delivery import DeliveryLog
from pipeline.alerts.store import SubscriptionStore
from pipeline.deadletter import read_deadletter
from pipeline.phones import normalize_phone
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from schemas import RawAd, SearchQuery
from schemas.alerts import Channel, Subscription
from tests.fixtures.receivers import FlakyHttpReceiver, SmtpReceiver
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

SECRET = "webhook-secret"
NOW = datetime.now(UTC)


def sub(sub_id: str, rule: SearchQuery, channel: Channel, **extra: Any) -> Subscription:
    return Subscription(
        id=sub_id,
        owner=f"owner-{sub_id}",
        name=f"watch {sub_id}",
        rule=rule,
        channels=[channel],
        created_at=NOW,
        updated_at=NOW,
        **extra,
    )


def ad(i: int, body: str, source: str = "alerts") -> RawAd:
    return RawAd(source=source, source_id=str(i), title=f"Listing {i}", body=body)


STREAM = [
    ad(0, "Quiet evenings downtown, text 702-555-0142 for times."),  # phone
    ad(1, "Sweet young fresh face, new to the scene, text 213 555 0177."),  # flag
    ad(2, "Studio near the harbor view promenade, call 415-555-0190."),  # keyword
    ad(3, "Mountain bike for sale, barely used, 503-555-0161."),  # nothing
    ad(4, "Ask for Mia, seven oh two five five five oh one four two, discreet."),  # phone
    ad(5, "Teen looking sweetheart, innocent and shy, 312-555-0133."),  # flag
    ad(6, "Piano lessons for beginners on Saturdays, 503-555-0162."),  # nothing
]
FAST_RETRIES = {"initial_backoff_seconds": 0.2, "max_backoff_seconds": 1.0, "max_attempts": 6}


def file_keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["ad_key"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_subscriber_gets_its_matches_once(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    with FlakyHttpReceiver(fail_first=3) as hook, SmtpReceiver() as smtp:
        out, paused_out = tmp_path / "alerts.jsonl", tmp_path / "paused.jsonl"
        settings = settings_factory(
            alerts={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, **FAST_RETRIES}
        )
        assert settings.kafka.bootstrap
        phone = normalize_phone("(702) 555-0142")
        assert phone == "+17025550142"
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
            store.put(
                sub(
                    "paused",
                    SearchQuery(phones=[phone]),
                    Channel(kind="file", target=str(paused_out)),
                    active=False,
                )
            )
        worker = worker_factory(settings)
        with AdProducer(settings, settings.kafka.bootstrap) as producer:
            for raw in STREAM:
                producer.publish(raw)

        def delivered_hooks() -> list[dict[str, Any]]:
            return [json.loads(r.body) for r in hook.requests[hook.fail_first :]]

        wait_for(
            lambda: len(delivered_hooks()) >= 2 and len(smtp.messages) >= 2 and out.exists(),
            180,
            "alerts through the webhook (after 3 failures), email and file",
        )
        wait_for(lambda: index_count(settings) == len(STREAM), 60, "every ad indexed")

        # The same ads scraped again, and one new ad per subscription after them: the new
        # ones arrive, the repeats do not (an ad alerts a subscription once per window).
        with AdProducer(settings, settings.kafka.bootstrap) as producer:
            for raw in STREAM:
                producer.publish(raw)
            producer.publish(ad(7, "Evenings only, 702.555.0142, ask for Mia."))
            producer.publish(ad(8, "Sweet young fresh face, innocent, text 213-555-0178."))
            producer.publish(ad(9, "Flat with a harbor view, quiet street, 415-555-0191."))
        wait_for(
            lambda: len(delivered_hooks()) >= 3 and len(smtp.messages) >= 3,
            120,
            "the new ads' alerts",
        )
        wait_for(lambda: len(file_keys(out)) >= 2, 60, "the new keyword alert")
        wait_for(lambda: index_count(settings) == len(STREAM) + 3, 60, "the new ads indexed")
        assert worker.stop() == 0  # a graceful stop, with the notifier running, does not hang

    # the webhook: 3 refused attempts, then each phone ad exactly once, signed
    assert len(hook.requests) == 3 + 3
    for request in hook.requests:
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Adwatch-Signature"] == f"sha256={expected}"
    keys = sorted(a["ad_key"] for body in delivered_hooks() for a in body["alerts"])
    assert keys == ["alerts:0", "alerts:4", "alerts:7"]  # typed three ways, one in words
    first = delivered_hooks()[0]["alerts"][0]
    assert first["reasons"] == ["phone +17025550142"]

    # email: the youth-language ads scoring at least 0.3, phones masked
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 3 and all("watch by-flag" in s for s in subjects)
    plain = [m.get_body(("plain",)) for m in smtp.messages]
    bodies = "\n".join(part.get_content() for part in plain if part is not None)
    assert len(plain) == 3 and "+1213555****" in bodies
    assert "2135550177" not in bodies.replace(" ", "").replace("-", "")
    assert sorted(m["X-Adwatch-Delivery"] for m in smtp.messages) == sorted(
        {m["X-Adwatch-Delivery"] for m in smtp.messages}
    )  # three different alert ids

    # the file: the keyword ads; the paused subscription got nothing
    assert sorted(file_keys(out)) == ["alerts:2", "alerts:9"]
    assert not paused_out.exists()

    # the delivery log: every attempt, the three failures as "retrying"
    log = DeliveryLog(settings.delivery_log_path).read()
    webhook = [d for d in log if d.channel == "webhook"]
    assert [d.status for d in webhook[:4]] == ["retrying"] * 3 + ["delivered"]
    assert all(SECRET not in d.model_dump_json() for d in log)


def test_digest_and_undeliverable_alerts(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    """A digest holds every match of its minute; what no channel takes is dead-lettered."""
    with FlakyHttpReceiver(fail_first=10**6) as down:
        out = tmp_path / "digest.jsonl"
        settings = settings_factory(
            alerts={"initial_backoff_seconds": 0.1, "max_backoff_seconds": 0.2, "max_attempts": 2}
        )
        bootstrap = settings.kafka.bootstrap
        assert bootstrap
        rule = SearchQuery(phones=["+17025550142"])
        with SubscriptionStore(settings, bootstrap) as store:
            store.put(
                sub(
                    "digest",
                    rule,
                    Channel(kind="file", target=str(out)),
                    digest_every=timedelta(minutes=1),
                )
            )
            store.put(sub("down", rule, Channel(kind="webhook", target=f"{down.url}/hook")))
        worker_factory(settings)
        matching = [ad(i, f"Call 702-555-0142, option {i}.", source="digest") for i in range(3)]
        with AdProducer(settings, bootstrap) as producer:
            for raw in matching:
                producer.publish(raw)

        dead = [
            read_deadletter(r.value, r.headers, r.key)
            for r in read_records(settings, bootstrap, topics.DEADLETTER, min_count=3, timeout=90)
        ]
        assert len(dead) == 3
        assert {d.stage for d in dead} == {"notify"}
        assert all(d.key == "down" for d in dead)
        for d in dead:
            assert d.message and "not delivered to http://127.0.0.1:" in d.message
        assert len(down.requests) == 3 * 2  # two attempts each
        assert not out.exists()  # the digest waits for its minute

        # The receiver is back: replaying the dead letters to the alerts topic delivers them.
        down.fail_first = len(down.requests)
        with AdProducer(settings, bootstrap) as producer:
            for d in dead:
                producer.publish_raw(topics.ALERTS, (d.key or "").encode(), d.original, [])
        wait_for(lambda: len(down.requests) == 3 * 2 + 3, 60, "the replayed alerts")
        replayed = sorted(
            a["ad_key"] for r in down.requests[6:] for a in json.loads(r.body)["alerts"]
        )
        assert replayed == ["digest:0", "digest:1", "digest:2"]

        wait_for(lambda: len(file_keys(out)) >= 3, 120, "the digest after its minute")
        digests = [
            d
            for d in DeliveryLog(settings.delivery_log_path).read()
            if d.subscription_id == "digest"
        ]
        assert [(d.status, len(d.alert_ids)) for d in digests] == [("delivered", 3)]  # one message
        assert sorted(file_keys(out)) == ["digest:0", "digest:1", "digest:2"]
