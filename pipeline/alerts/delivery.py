"""Deliver alerts through one channel with retries, logging every attempt.

    deliver(channel, alerts) ──send──> ok ─────────────────> Delivery(delivered) → True
                                  └──> DeliveryError
                                        ├── retriable, attempts left → Delivery(retrying),
                                        │                              sleep(backoff), again
                                        └── otherwise ──────────────> Delivery(failed) → False

Backoff starts at ``initial_backoff_seconds``, doubles, and stops growing at
``max_backoff_seconds``. Errors other than `DeliveryError` are bugs: they propagate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipeline.alerts.channels import SENDERS, DeliveryError
from pipeline.alerts.notifier_settings import NotifierSettings
from schemas.alerts import Alert, Channel, Delivery


def deliver(
    channel: Channel,
    alerts: Sequence[Alert],
    settings: NotifierSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[Delivery], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> bool:
    """Send ``alerts`` (one alert or a digest) through ``channel``; True once delivered."""
    if not alerts:
        raise ValueError("nothing to deliver")
    send = SENDERS[channel.kind]
    target = masked_target(channel)
    ids = [a.id for a in alerts]

    def record(attempt: int, status: str, error: str | None = None) -> None:
        log(
            Delivery.model_validate(
                {
                    "alert_ids": ids,
                    "subscription_id": alerts[0].subscription_id,
                    "channel": channel.kind,
                    "target": target,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "at": now(),
                }
            )
        )

    for attempt in range(1, settings.max_attempts + 1):
        try:
            send(channel, alerts, settings)
        except DeliveryError as exc:
            if not exc.retriable or attempt == settings.max_attempts:
                kind = "retriable" if exc.retriable else "permanent"
                record(attempt, "failed", f"{exc.message} ({kind})")
                return False
            record(attempt, "retrying", exc.message)
            sleep(backoff_seconds(attempt, settings))
        else:
            record(attempt, "delivered")
            return True
    raise AssertionError("unreachable: max_attempts >= 1")


def backoff_seconds(attempt: int, settings: NotifierSettings) -> float:
    """The pause after failed attempt ``attempt`` (1-based): initial, doubling, capped."""
    delay = settings.initial_backoff_seconds * 2.0 ** min(attempt - 1, 60)
    return min(delay, settings.max_backoff_seconds)


def masked_target(channel: Channel) -> str:
    """A channel's target fit for logs, secrets and personal parts removed.

    URLs lose credentials, query and fragment (and a Slack URL its token path); an email
    address keeps the first letter of its local part: ``a***@example.org``.
    """
    if channel.kind == "email":
        local, _, domain = channel.target.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if channel.kind in ("webhook", "slack"):
        parts = urlsplit(channel.target)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6
        netloc = f"{host}:{parts.port}" if parts.port else host
        path = "/***" if channel.kind == "slack" and parts.path not in ("", "/") else parts.path
        return urlunsplit((parts.scheme, netloc, path, "", ""))
    return channel.target


class DeliveryLog:
    """The delivery log: `Delivery` records appended as JSON lines to one file.

    Pass an instance as ``deliver(..., log=DeliveryLog(path))``; safe across threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        """Append one record (and create the file's directory on first use)."""
        line = delivery.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)

    def read(self) -> list[Delivery]:
        """Every record so far, oldest first (none when the file does not exist yet)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as lines:
            return [Delivery.model_validate_json(line) for line in lines if line.strip()]
