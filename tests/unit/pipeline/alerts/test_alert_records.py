"""The records of the alerts topic: each kind decodes as itself, anything else is refused."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline import alert_agents
from pipeline.alert_agents import AlertsMessage, DigestTick
from pipeline.alerts.store import SubscriptionStore
from pipeline.settings import load_settings
from schemas.alerts import Alert, Digest, Subscription, alert_id

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def alert(n: int) -> Alert:
    return Alert(
        id=alert_id("sub", f"demo:{n}"),
        subscription_id="sub",
        subscription_name="watch",
        owner="ana",
        ad_key=f"demo:{n}",
        reasons=["phone +17025550142"],
        risk_score=0.4,
        event_at=AT,
        matched_at=AT,
    )


def test_each_kind_decodes_as_itself() -> None:
    one = alert(1)
    digest = Digest(subscription_id="sub", alerts=[alert(1), alert(2)], dropped=3)
    assert AlertsMessage.validate_json(one.model_dump_json()) == one
    assert AlertsMessage.validate_json(digest.model_dump_json()) == digest
    assert AlertsMessage.validate_json(b'{"tick":"sub"}') == DigestTick(tick="sub")


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'"a string"',
        b'{"tick": 5}',
        b'{"subscription_id": "sub", "alerts": []}',  # an empty digest
        b'{"subscription_id": "sub"}',  # half an alert
    ],
)
def test_anything_else_is_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        AlertsMessage.validate_json(raw)


def test_a_subscriptions_read_that_hangs_is_abandoned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stuck read must not hold every ad behind `ready`: the next read uses a new client."""
    monkeypatch.setattr(alert_agents, "READ_TIMEOUT_SECONDS", 0.2)
    stores: list[SubscriptionStore] = []

    def read_all(store: SubscriptionStore) -> dict[str, Subscription]:
        stores.append(store)
        if len(stores) == 1:
            time.sleep(1.0)  # the first read hangs past the timeout
        return {}

    monkeypatch.setattr(SubscriptionStore, "all", read_all)
    monkeypatch.delenv("ADWATCH_CONFIG", raising=False)
    settings = load_settings(data_dir=tmp_path, kafka={"bootstrap": "127.0.0.1:9"})
    view = alert_agents.SubscriptionView(settings, ThreadPoolExecutor(max_workers=3))

    async def refresh_twice() -> tuple[bool, bool]:
        return await view.refresh(), await view.refresh()

    assert asyncio.run(refresh_twice()) == (False, True)
    assert len(stores) == 2 and stores[0] is not stores[1]
