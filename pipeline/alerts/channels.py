"""Alert channels: render alerts (pure), then send them (I/O only at the edge).

    [Alert, ...] ──render_text / render_html / render_json──> message
        └──send_webhook   POST JSON, signed X-Adwatch-Signature: sha256=HMAC(body)
        └──send_slack     POST {"text": ...} (Slack incoming webhook)
        └──send_email     SMTP / SMTP_SSL, optional STARTTLS and login; text + HTML
        └──send_file      append one JSON line per alert

Every sender raises `DeliveryError` with ``retriable`` set; `pipeline.alerts.delivery`
decides about retries. Messages describe leads for review, never findings about a person.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pipeline.alerts.notifier_settings import DEFAULT_INDEX_LINK, NotifierSettings
from schemas.alerts import Alert, Channel, ChannelKind

NOTICE = "These are leads for review by a trained analyst, not findings about any person."
# A phone-like run: 7 to 15 digits, optionally with a leading + and light separators.
_PHONE_RUN = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]{0,2}\d){6,14}(?!\w)")


class DeliveryError(Exception):
    """A channel could not take the alerts; ``retriable`` says whether to try again."""

    def __init__(self, retriable: bool, message: str) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.message = message


# ── rendering (pure) ─────────────────────────────────────────────────────────────────────


def mask_phone(phone: str) -> str:
    """Hide the last four digits, keeping the country code and first digits: +1702555****."""
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    hidden = set(digits[-4:]) if len(digits) > 4 else set(digits[1:])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(phone))


def mask_phones_in(text: str) -> str:
    """Mask every phone-like run of digits in free text (best effort: digits only)."""
    return _PHONE_RUN.sub(lambda m: mask_phone(m.group(0)), text)


def index_link(template: str, key: str) -> str:
    """The index (Kibana) link of an ad: ``{key}`` escaped for KQL, rison, then the URL."""
    kql = key.replace("\\", "\\\\").replace('"', '\\"')
    rison = kql.replace("!", "!!").replace("'", "!'")
    return template.replace("{key}", quote(rison, safe=":@-_.~"))


def subject(alerts: Sequence[Alert]) -> str:
    """``adwatch: N new lead(s) for '<subscription name>'``."""
    first = _check_batch(alerts)
    n = len(alerts)
    return f"adwatch: {n} new lead{'s' if n != 1 else ''} for '{first.subscription_name}'"


def render_json(
    alerts: Sequence[Alert], mask: bool, *, link_template: str = DEFAULT_INDEX_LINK
) -> dict[str, Any]:
    """One alert or a digest as JSON-ready data (the webhook body and the file lines)."""
    first = _check_batch(alerts)
    return {
        "subject": subject(alerts),
        "notice": NOTICE,
        "subscription_id": first.subscription_id,
        "subscription_name": first.subscription_name,
        "count": len(alerts),
        "alerts": [_alert_data(a, mask, link_template) for a in alerts],
    }


def render_text(
    alerts: Sequence[Alert], mask: bool, *, link_template: str = DEFAULT_INDEX_LINK
) -> str:
    """Plain text for email and Slack."""
    data = render_json(alerts, mask, link_template=link_template)
    lines = [data["subject"], ""]
    for n, a in enumerate(data["alerts"], 1):
        lines.append(f"{n}. {a['title'] or a['ad_key']}")
        lines.append(f"   Ad: {a['ad_key']}")
        if a["excerpt"]:
            lines.append(f"   Excerpt: {a['excerpt']}")
        lines.append(f"   Matched: {'; '.join(a['reasons']) or '-'}")
        lines.append(f"   Risk score: {a['risk_score']:.2f}")
        for flag in a["flags"]:
            lines.append(f"   Flag {flag['id']}: " + " | ".join(_evidence_text(flag)))
        if a["phones"]:
            lines.append(f"   Phones: {', '.join(a['phones'])}")
        if a["url"]:
            lines.append(f"   Ad URL: {a['url']}")
        lines.append(f"   In the index: {a['index_link']}")
        lines.append("")
    lines.append(NOTICE)
    return "\n".join(lines) + "\n"


def render_html(
    alerts: Sequence[Alert], mask: bool, *, link_template: str = DEFAULT_INDEX_LINK
) -> str:
    """HTML for email; every value from an ad is escaped."""
    data = render_json(alerts, mask, link_template=link_template)
    e = html.escape
    parts = [f"<html><body><h2>{e(data['subject'])}</h2>", f"<p><em>{e(NOTICE)}</em></p>"]
    for a in data["alerts"]:
        parts.append(f"<h3>{e(a['title'] or a['ad_key'])}</h3><ul>")
        parts.append(f"<li>Ad: {e(a['ad_key'])}</li>")
        if a["excerpt"]:
            parts.append(f"<li>Excerpt: {e(a['excerpt'])}</li>")
        reasons = "".join(f"<li>{e(r)}</li>" for r in a["reasons"])
        parts.append(f"<li>Matched:<ul>{reasons}</ul></li>")
        parts.append(f"<li>Risk score: {a['risk_score']:.2f}</li>")
        for flag in a["flags"]:
            evidence = "".join(f"<li>{e(t)}</li>" for t in _evidence_text(flag))
            parts.append(f"<li>Flag {e(flag['id'])}<ul>{evidence}</ul></li>")
        if a["phones"]:
            parts.append(f"<li>Phones: {e(', '.join(a['phones']))}</li>")
        if a["url"]:
            parts.append(f"<li>Ad URL: {_link(a['url'])}</li>")
        parts.append(f"<li>In the index: {_link(a['index_link'])}</li></ul>")
    parts.append(f"<p><em>{e(NOTICE)}</em></p></body></html>")
    return "\n".join(parts)


def _check_batch(alerts: Sequence[Alert]) -> Alert:
    if not alerts:
        raise ValueError("no alerts to render")
    if len({a.subscription_id for a in alerts}) > 1:
        raise ValueError("a message carries the alerts of one subscription")
    return alerts[0]


def _alert_data(alert: Alert, mask: bool, link_template: str) -> dict[str, Any]:
    data = alert.model_dump(mode="json")
    data["index_link"] = index_link(link_template, alert.ad_key)
    if mask:
        data["phones"] = [mask_phone(p) for p in alert.phones]
        data["title"] = mask_phones_in(alert.title)
        data["excerpt"] = mask_phones_in(alert.excerpt)
        data["reasons"] = [mask_phones_in(r) for r in alert.reasons]
        for flag in data["flags"]:
            for ev in flag["evidence"]:
                ev["text"] = mask_phones_in(ev["text"])
                ev["note"] = ev["note"] and mask_phones_in(ev["note"])
    return data


def _evidence_text(flag: dict[str, Any]) -> list[str]:
    shown = [
        f'"{ev["text"]}"' + (f" ({ev['note']})" if ev["note"] else "") for ev in flag["evidence"]
    ]
    return shown or ["(no evidence text)"]


def _link(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url)}">{html.escape(url)}</a>'
    return html.escape(url)


# ── senders (I/O) ────────────────────────────────────────────────────────────────────────


def send_webhook(channel: Channel, alerts: Sequence[Alert], settings: NotifierSettings) -> None:
    """POST the JSON rendering, signed with the channel's secret when it has one."""
    payload = render_json(alerts, channel.mask_phones, link_template=settings.index_link_template)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Adwatch-Delivery": alerts[0].id}
    if channel.secret is not None:
        digest = hmac.new(channel.secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Adwatch-Signature"] = f"sha256={digest}"
    _post(channel.target, body, headers, settings.timeout_seconds)


def send_slack(channel: Channel, alerts: Sequence[Alert], settings: NotifierSettings) -> None:
    """POST ``{"text": ...}`` to a Slack-compatible incoming webhook."""
    text = render_text(alerts, channel.mask_phones, link_template=settings.index_link_template)
    # Slack reads <...> as links and mentions: ad text must not become either.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    _post(channel.target, body, {"Content-Type": "application/json"}, settings.timeout_seconds)


def send_email(channel: Channel, alerts: Sequence[Alert], settings: NotifierSettings) -> None:
    """Send a multipart/alternative (text and HTML) message over SMTP."""
    message = build_email(channel, alerts, settings)
    try:
        with _smtp_connect(settings) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username is not None:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            all(400 <= c < 500 for c in codes), f"recipient refused: {codes}"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(False, f"SMTP server does not support it: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        retriable = not 500 <= exc.smtp_code < 600  # 4xx and odd codes (-1: closed) are temporary
        raise DeliveryError(
            retriable, f"SMTP {exc.smtp_code}: {_smtp_text(exc.smtp_error)}"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(False, f"SMTP TLS certificate rejected: {exc.verify_message}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, timeouts
        raise DeliveryError(True, f"SMTP connection failed: {type(exc).__name__}: {exc}") from exc


def build_email(
    channel: Channel, alerts: Sequence[Alert], settings: NotifierSettings
) -> EmailMessage:
    """The message `send_email` sends (pure, for tests and previews)."""
    mask, template = channel.mask_phones, settings.index_link_template
    message = EmailMessage()
    message["Subject"] = subject(alerts)
    message["From"] = settings.mail_from
    message["To"] = channel.target
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2])
    message["X-Adwatch-Delivery"] = alerts[0].id
    message.set_content(render_text(alerts, mask, link_template=template))
    message.add_alternative(render_html(alerts, mask, link_template=template), subtype="html")
    return message


def send_file(channel: Channel, alerts: Sequence[Alert], settings: NotifierSettings) -> None:
    """Append one JSON line per alert to the target path, creating its directories."""
    data = render_json(alerts, channel.mask_phones, link_template=settings.index_link_template)
    lines = "".join(
        json.dumps({"notice": NOTICE, **a}, ensure_ascii=False) + "\n" for a in data["alerts"]
    )
    path = Path(channel.target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(lines)  # one write: a retry never leaves half a batch behind it
    except OSError as exc:
        raise DeliveryError(True, f"cannot append to the file: {exc.strerror or exc}") from exc


Sender = Callable[[Channel, Sequence[Alert], NotifierSettings], None]
SENDERS: dict[ChannelKind, Sender] = {
    "webhook": send_webhook,
    "slack": send_slack,
    "email": send_email,
    "file": send_file,
}


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise DeliveryError(True, f"timed out after {timeout:g}s") from exc
    except httpx.TransportError as exc:  # connection refused, reset, DNS
        raise DeliveryError(True, f"connection failed: {type(exc).__name__}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    retriable = status in (408, 429) or status >= 500
    raise DeliveryError(retriable, f"HTTP {status} {response.reason_phrase}".strip())


def _smtp_connect(settings: NotifierSettings) -> smtplib.SMTP:
    if settings.smtp_ssl:
        return smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)


def _smtp_text(error: bytes | str) -> str:
    return error.decode(errors="replace") if isinstance(error, bytes) else error
