"""Alert contracts: saved searches (subscriptions), the alerts they raise, their deliveries.

    alerts.subscriptions (compacted, key: subscription id) ──> every worker's view
    scored ads ──[match]──> alerts (key: subscription id) ──[notify]──> channels
                              Alert, Digest                      └──> deliveries log

Alerts describe leads for a human reviewer, never verdicts; messages say so.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.ads import Flag
from schemas.query import SearchQuery
from schemas.types import UtcDatetime

ChannelKind = Literal["webhook", "email", "slack", "file"]
SUBSCRIPTION_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Channel(BaseModel):
    """Where a subscription's alerts go.

    ``target`` is an http(s) URL (webhook, slack), an email address (email) or a file path
    (file, JSON lines). ``secret`` signs webhook bodies (HMAC-SHA256); it is stored with the
    subscription and never shown by the CLI or the API.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChannelKind
    target: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(default=None, max_length=500, description="webhook HMAC key")
    mask_phones: bool = Field(default=False, description="show numbers as +1702555****")

    @model_validator(mode="after")
    def _target_fits_kind(self) -> Channel:
        if self.kind in ("webhook", "slack") and not self.target.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"{self.kind} target must be an http(s) URL")
        if self.kind == "email" and "@" not in self.target:
            raise ValueError("email target must be an email address")
        if self.secret is not None and self.kind != "webhook":
            raise ValueError("only webhook channels take a secret")
        return self


class Subscription(BaseModel):
    """A saved search whose new matches are sent to its owner's channels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    id: str = Field(pattern=SUBSCRIPTION_ID)
    owner: str = Field(min_length=1, max_length=200, description="the subscriber")
    name: str = Field(min_length=1, max_length=200)
    rule: SearchQuery
    channels: list[Channel] = Field(min_length=1, max_length=20)
    realert_after: timedelta = Field(
        default=timedelta(days=7),
        description="an ad alerts a subscription once; again only after this long",
    )
    digest_every: timedelta | None = Field(
        default=None, description="batch matches into one message this often (None: at once)"
    )
    active: bool = True
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _positive_windows(self) -> Subscription:
        if self.realert_after <= timedelta(0):
            raise ValueError("realert_after must be positive")
        if self.digest_every is not None and self.digest_every < timedelta(minutes=1):
            raise ValueError("digest_every must be at least one minute")
        return self


class Alert(BaseModel):
    """One ad matching one subscription: what matched and why, for the notifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    id: str = Field(description="alert_id(subscription, ad key, window): stable across replays")
    subscription_id: str
    subscription_name: str
    owner: str
    ad_key: str
    reasons: list[str] = Field(description="why it matched: 'phone +1…', 'flag …', 'score ≥ …'")
    flags: list[Flag] = Field(default_factory=list, description="the ad's flags with evidence")
    risk_score: float = Field(ge=0.0, le=1.0)
    title: str = ""
    excerpt: str = Field(default="", max_length=500)
    phones: list[str] = Field(default_factory=list)
    url: str | None = Field(default=None, description="the ad's own URL, if any")
    event_at: UtcDatetime
    matched_at: UtcDatetime


class Digest(BaseModel):
    """A subscription's alerts batched into one message, on its way to the channels.

    The notifier sends it to the ``alerts`` topic when the digest is due and delivers it
    from there, so a digest no channel took is dead-lettered whole and can be replayed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    subscription_id: str
    alerts: list[Alert] = Field(min_length=1)
    dropped: int = Field(default=0, ge=0, description="matches past the digest's cap")


class Delivery(BaseModel):
    """One attempt to deliver an alert (or a digest) through one channel: the delivery log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    alert_ids: list[str] = Field(min_length=1)
    subscription_id: str
    channel: ChannelKind
    target: str = Field(description="where, with secrets and address local parts masked")
    attempt: int = Field(ge=1)
    status: Literal["delivered", "retrying", "failed"]
    error: str | None = None
    at: UtcDatetime


def alert_id(subscription_id: str, ad_key: str, window: int = 0) -> str:
    """A stable alert id: the same ad, subscription and re-alert window give the same id."""
    digest = hashlib.blake2b(f"{subscription_id}\x00{ad_key}\x00{window}".encode(), digest_size=12)
    return digest.hexdigest()
