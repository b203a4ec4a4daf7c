"""Alert rendering, channels and retries, against real servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from pipeline.alerts.channels import (
    NOTICE,
    DeliveryError,
    NotifierSettings,
    index_link,
    mask_phone,
    render_html,
    render_json,
    render_text,
    send_email,
    send_file,
    send_slack,
    send_webhook,
    subject,
)
from pipeline.alerts.delivery import DeliveryLog, backoff_seconds, deliver, masked_target
from schemas.ads import Evidence, Flag
from schemas.alerts import Alert, Channel, Delivery
from tests.fixtures.receivers import FlakyHttpReceiver, SmtpReceiver, free_port

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PHONE = "+17025551234"
AlertFactory = Callable[..., Alert]
# The AUTH tests run plain SMTP on 127.0.0.1; aiosmtpd rightly warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def alert_factory() -> AlertFactory:
    def make(n: int = 1, **overrides: Any) -> Alert:
        fields: dict[str, Any] = {
            "id": f"alert{n:04d}",
            "subscription_id": "vegas-watch",
            "subscription_name": "Vegas watch",
            "owner": "analyst1",
            "ad_key": f"testsite:{n}",
            "reasons": [f"phone {PHONE}", "flag third_party_language"],
            "flags": [
                Flag(
                    id="third_party_language",
                    evidence=[Evidence(text=f"ask for daddy at {PHONE}", start=0, end=29)],
                    weight=0.4,
                )
            ],
            "risk_score": 0.72,
            "title": f"New in town {n}",
            "excerpt": f"call 702-555-1234 now, ad {n}",
            "phones": [PHONE],
            "url": f"https://ads.example.org/ad/{n}",
            "event_at": T0,
            "matched_at": T0,
        }
        fields.update(overrides)
        return Alert(**fields)

    return make


def settings(**overrides: Any) -> NotifierSettings:
    base: dict[str, Any] = {"timeout_seconds": 2.0, "max_attempts": 5}
    return NotifierSettings(**{**base, **overrides})


def no_sleep(seconds: float) -> None:
    pass


# ── rendering ──────────────────────────────────────────────────────────────────────────


def test_subject_counts_leads(alert_factory: AlertFactory) -> None:
    assert subject([alert_factory()]) == "adwatch: 1 new lead for 'Vegas watch'"
    two = [alert_factory(1), alert_factory(2)]
    assert subject(two) == "adwatch: 2 new leads for 'Vegas watch'"


def test_text_shows_reasons_score_flags_phones_links_and_notice(
    alert_factory: AlertFactory,
) -> None:
    text = render_text([alert_factory(1), alert_factory(2)], mask=False)
    assert text.startswith("adwatch: 2 new leads for 'Vegas watch'\n")
    assert "phone +17025551234; flag third_party_language" in text
    assert "Risk score: 0.72" in text
    assert 'Flag third_party_language: "ask for daddy at +17025551234"' in text
    assert "Phones: +17025551234" in text
    assert "Ad URL: https://ads.example.org/ad/2" in text
    assert index_link(NotifierSettings().index_link_template, "testsite:2") in text
    assert text.rstrip().endswith(NOTICE)


def test_masking_hides_last_digits_everywhere(alert_factory: AlertFactory) -> None:
    assert mask_phone(PHONE) == "+1702555****"
    assert mask_phone("+447911123456") == "+44791112****"
    masked = render_text([alert_factory()], mask=True)
    assert "1234" not in masked
    assert "Phones: +1702555****" in masked
    assert "ask for daddy at +1702555****" in masked
    assert "call 702-555-**** now" in masked
    data = render_json([alert_factory()], mask=True)
    assert data["alerts"][0]["phones"] == ["+1702555****"]
    assert "1234" not in json.dumps(data)


def test_html_escapes_ad_text(alert_factory: AlertFactory) -> None:
    evil = alert_factory(
        title="<script>alert(1)</script>",
        excerpt='"><img src=x onerror=alert(2)>',
        url="javascript:alert(3)",
    )
    page = render_html([evil], mask=False)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert 'href="javascript' not in page  # shown as text, never a link
    assert NOTICE in page


def test_index_link_escapes_the_key() -> None:
    link = index_link("http://kibana/#/?q='key:\"{key}\"'", 'site:it\'s "x"')
    assert link == "http://kibana/#/?q='key:\"site:it%21%27s%20%5C%22x%5C%22\"'"


def test_a_message_is_one_subscription(alert_factory: AlertFactory) -> None:
    with pytest.raises(ValueError, match="one subscription"):
        render_json([alert_factory(1), alert_factory(2, subscription_id="other")], mask=False)
    with pytest.raises(ValueError, match="no alerts"):
        render_text([], mask=False)


# ── webhook and slack ──────────────────────────────────────────────────────────────────


def test_webhook_body_and_signature(alert_factory: AlertFactory) -> None:
    alerts = [alert_factory(1), alert_factory(2)]
    with FlakyHttpReceiver() as receiver:
        channel = Channel(kind="webhook", target=receiver.url + "/hook?token=t", secret="s3cret")
        send_webhook(channel, alerts, settings())
    (request,) = receiver.requests
    assert request.path == "/hook?token=t"
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Adwatch-Signature"] == f"sha256={expected}"
    assert request.headers["X-Adwatch-Delivery"] == "alert0001"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body == render_json(alerts, mask=False)
    assert body["notice"] == NOTICE
    assert [a["id"] for a in body["alerts"]] == ["alert0001", "alert0002"]


def test_webhook_without_secret_is_unsigned_and_masks_when_asked(
    alert_factory: AlertFactory,
) -> None:
    with FlakyHttpReceiver() as receiver:
        channel = Channel(kind="webhook", target=receiver.url, mask_phones=True)
        send_webhook(channel, [alert_factory()], settings())
    (request,) = receiver.requests
    assert "X-Adwatch-Signature" not in request.headers
    assert b"1234" not in request.body
    assert json.loads(request.body)["alerts"][0]["phones"] == ["+1702555****"]


def test_slow_receiver_times_out_retriably(alert_factory: AlertFactory) -> None:
    with FlakyHttpReceiver(delay=5.0) as receiver:
        channel = Channel(kind="webhook", target=receiver.url)
        with pytest.raises(DeliveryError) as caught:
            send_webhook(channel, [alert_factory()], settings(timeout_seconds=0.2))
    assert caught.value.retriable
    assert "timed out" in caught.value.message


def test_refused_connection_is_retriable(alert_factory: AlertFactory) -> None:
    channel = Channel(kind="webhook", target=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(DeliveryError) as caught:
        send_webhook(channel, [alert_factory()], settings())
    assert caught.value.retriable


@pytest.mark.parametrize(("status", "retriable"), [(503, True), (429, True), (404, False)])
def test_http_status_decides_retry(
    alert_factory: AlertFactory, status: int, retriable: bool
) -> None:
    with FlakyHttpReceiver(fail_first=1, fail_status=status) as receiver:
        channel = Channel(kind="webhook", target=receiver.url)
        with pytest.raises(DeliveryError) as caught:
            send_webhook(channel, [alert_factory()], settings())
    assert caught.value.retriable is retriable
    assert str(status) in caught.value.message


def test_three_failures_then_delivered_on_attempt_four(alert_factory: AlertFactory) -> None:
    records: list[Delivery] = []
    pauses: list[float] = []
    ns = settings(initial_backoff_seconds=1.0, max_backoff_seconds=3.0)
    with FlakyHttpReceiver(fail_first=3) as receiver:
        channel = Channel(kind="webhook", target=receiver.url + "/h?token=secret")
        ok = deliver(channel, [alert_factory()], ns, sleep=pauses.append, log=records.append)
    assert ok
    assert len(receiver.requests) == 4
    assert [(r.attempt, r.status) for r in records] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "retrying"),
        (4, "delivered"),
    ]
    assert pauses == [1.0, 2.0, 3.0]  # doubling, capped
    assert all(r.error and "503" in r.error for r in records[:3])
    assert records[3].error is None
    assert {r.target for r in records} == {receiver.url + "/h"}
    assert all(r.alert_ids == ["alert0001"] and r.channel == "webhook" for r in records)


def test_bad_request_is_not_retried(alert_factory: AlertFactory) -> None:
    records: list[Delivery] = []
    with FlakyHttpReceiver(fail_first=10, fail_status=400) as receiver:
        channel = Channel(kind="webhook", target=receiver.url)
        ok = deliver(channel, [alert_factory()], settings(), sleep=no_sleep, log=records.append)
    assert not ok
    assert len(receiver.requests) == 1
    assert [(r.attempt, r.status) for r in records] == [(1, "failed")]
    assert records[0].error is not None and "400" in records[0].error


def test_gives_up_after_max_attempts(alert_factory: AlertFactory) -> None:
    records: list[Delivery] = []
    with FlakyHttpReceiver(fail_first=10) as receiver:
        channel = Channel(kind="webhook", target=receiver.url)
        ok = deliver(
            channel, [alert_factory()], settings(max_attempts=3), sleep=no_sleep, log=records.append
        )
    assert not ok
    assert len(receiver.requests) == 3
    assert [r.status for r in records] == ["retrying", "retrying", "failed"]


def test_slack_payload_is_text(alert_factory: AlertFactory) -> None:
    alerts = [alert_factory(1), alert_factory(2, title="<!channel> & <http://x|y>")]
    with FlakyHttpReceiver() as receiver:
        channel = Channel(kind="slack", target=receiver.url + "/services/T0/B0/XYZ")
        send_slack(channel, alerts, settings())
    (request,) = receiver.requests
    assert request.path == "/services/T0/B0/XYZ"
    payload = json.loads(request.body)
    assert list(payload) == ["text"]
    assert payload["text"].startswith("adwatch: 2 new leads for 'Vegas watch'\n")
    assert "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" in payload["text"]
    assert "<!channel>" not in payload["text"]
    assert NOTICE in payload["text"]


# ── email ──────────────────────────────────────────────────────────────────────────────


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    page = message.get_body(preferencelist=("html",))
    assert text is not None and page is not None
    return text.get_content(), page.get_content()


def test_email_arrives_with_text_and_html(alert_factory: AlertFactory) -> None:
    alerts = [alert_factory(1), alert_factory(2, title="<b>bold</b>")]
    with SmtpReceiver() as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="adwatch@example.org")
        send_email(Channel(kind="email", target="lead-desk@example.org"), alerts, ns)
    (message,) = smtp.messages
    assert message["Subject"] == "adwatch: 2 new leads for 'Vegas watch'"
    assert message["To"] == "lead-desk@example.org"
    assert message.get_content_type() == "multipart/alternative"
    assert smtp.collector.envelopes == [("adwatch@example.org", ["lead-desk@example.org"])]
    text, page = _parts(message)
    assert "Phones: +17025551234" in text and NOTICE in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and NOTICE in page


def test_email_masks_phones_when_asked(alert_factory: AlertFactory) -> None:
    with SmtpReceiver() as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port)
        channel = Channel(kind="email", target="desk@example.org", mask_phones=True)
        send_email(channel, [alert_factory()], ns)
    text, page = _parts(smtp.messages[0])
    assert "+1702555****" in text and "+1702555****" in page
    assert "1234" not in text and "1234" not in page


def test_email_logs_in_when_username_set(alert_factory: AlertFactory) -> None:
    with SmtpReceiver(credentials=("mailer", "pw")) as smtp:
        ns = settings(
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_username="mailer",
            smtp_password=SecretStr("pw"),
        )
        send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert smtp.logins == [("mailer", "pw")]
    assert len(smtp.messages) == 1


def test_email_wrong_password_is_permanent(alert_factory: AlertFactory) -> None:
    with SmtpReceiver(credentials=("mailer", "pw")) as smtp:
        ns = settings(
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_username="mailer",
            smtp_password=SecretStr("wrong"),
        )
        with pytest.raises(DeliveryError) as caught:
            send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert not caught.value.retriable
    assert "535" in caught.value.message
    assert smtp.messages == []


def test_email_without_login_where_auth_is_required_is_refused(
    alert_factory: AlertFactory,
) -> None:
    with SmtpReceiver(credentials=("mailer", "pw")) as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port)
        with pytest.raises(DeliveryError) as caught:
            send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert not caught.value.retriable  # 530 authentication required
    assert smtp.logins == []


def test_starttls_is_attempted(alert_factory: AlertFactory) -> None:
    # This server offers no STARTTLS: asking for it must fail, permanently, before sending.
    with SmtpReceiver() as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=True)
        with pytest.raises(DeliveryError) as caught:
            send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert not caught.value.retriable
    assert "STARTTLS" in caught.value.message
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("reply", "retriable"), [("451 4.3.0 busy", True), ("550 5.7.1 no", False)]
)
def test_smtp_reply_code_decides_retry(
    alert_factory: AlertFactory, reply: str, retriable: bool
) -> None:
    with SmtpReceiver(reject_first=1, reject_reply=reply) as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port)
        with pytest.raises(DeliveryError) as caught:
            send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert caught.value.retriable is retriable


def test_email_retried_through_deliver(alert_factory: AlertFactory) -> None:
    records: list[Delivery] = []
    with SmtpReceiver(reject_first=2) as smtp:
        ns = settings(smtp_host="127.0.0.1", smtp_port=smtp.port)
        channel = Channel(kind="email", target="lead-desk@example.org")
        assert deliver(channel, [alert_factory()], ns, sleep=no_sleep, log=records.append)
    assert len(smtp.messages) == 1
    assert [r.status for r in records] == ["retrying", "retrying", "delivered"]
    assert {r.target for r in records} == {"l***@example.org"}


def test_smtp_connection_refused_is_retriable(alert_factory: AlertFactory) -> None:
    ns = settings(smtp_host="127.0.0.1", smtp_port=free_port())
    with pytest.raises(DeliveryError) as caught:
        send_email(Channel(kind="email", target="desk@example.org"), [alert_factory()], ns)
    assert caught.value.retriable


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="not both"):
        NotifierSettings(smtp_ssl=True, smtp_starttls=True)
    with pytest.raises(ValidationError, match="needs smtp_username"):
        NotifierSettings(smtp_password=SecretStr("pw"))
    with pytest.raises(ValidationError, match="max_backoff_seconds"):
        NotifierSettings(initial_backoff_seconds=10, max_backoff_seconds=1)
    with pytest.raises(ValidationError, match="key"):
        NotifierSettings(index_link_template="http://kibana/")
    assert "pw" not in repr(NotifierSettings(smtp_username="u", smtp_password=SecretStr("pw")))


# ── file channel and the delivery log ──────────────────────────────────────────────────


def test_file_channel_appends_lines(alert_factory: AlertFactory, tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "alerts.jsonl"
    channel = Channel(kind="file", target=str(path), mask_phones=True)
    send_file(channel, [alert_factory(1), alert_factory(2)], settings())
    send_file(channel, [alert_factory(3)], settings())
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["alert0001", "alert0002", "alert0003"]
    assert all(line["notice"] == NOTICE for line in lines)
    assert lines[0]["phones"] == ["+1702555****"]
    assert lines[0]["index_link"] == index_link(
        NotifierSettings().index_link_template, "testsite:1"
    )


def test_file_channel_os_error_is_retriable(alert_factory: AlertFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    channel = Channel(kind="file", target=str(blocker / "alerts.jsonl"))
    with pytest.raises(DeliveryError) as caught:
        send_file(channel, [alert_factory()], settings())
    assert caught.value.retriable


def test_delivery_log_appends_records(alert_factory: AlertFactory, tmp_path: Path) -> None:
    log = DeliveryLog(tmp_path / "logs" / "deliveries.jsonl")
    assert log.read() == []
    with FlakyHttpReceiver(fail_first=1) as receiver:
        channel = Channel(kind="webhook", target=receiver.url)
        assert deliver(channel, [alert_factory()], settings(), sleep=no_sleep, log=log)
    records = log.read()
    assert [(r.attempt, r.status) for r in records] == [(1, "retrying"), (2, "delivered")]
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize(
    ("kind", "target", "shown"),
    [
        (
            "webhook",
            "https://user:pw@hooks.example.org:8443/in?token=abc#x",
            "https://hooks.example.org:8443/in",
        ),
        ("slack", "https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/***"),
        ("email", "lead-desk@example.org", "l***@example.org"),
        ("file", "/var/lib/adwatch/alerts.jsonl", "/var/lib/adwatch/alerts.jsonl"),
    ],
)
def test_masked_target(kind: str, target: str, shown: str) -> None:
    assert masked_target(Channel.model_validate({"kind": kind, "target": target})) == shown


def test_backoff_doubles_and_caps() -> None:
    ns = settings(initial_backoff_seconds=0.5, max_backoff_seconds=3.0)
    assert [backoff_seconds(n, ns) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
