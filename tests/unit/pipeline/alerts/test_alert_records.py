"""The records of the alerts topic: each kind decodes as itself, anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.alert_agents import AlertsMessage, DigestTick
from schemas.alerts import Alert, Digest, alert_id

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
