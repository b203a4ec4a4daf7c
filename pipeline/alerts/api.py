"""HTTP API for saved searches (subscriptions): `create_api(store, keys)` builds the app.

Callers authenticate with the ``X-API-Key`` header; keys come from a YAML file mapping each
key to ``{subscriber: NAME, admin: BOOL}``. A subscriber sees and changes only their own
subscriptions: another subscriber's id answers 404, like an id that does not exist, so ids
do not leak. Webhook secrets are accepted but never returned. Matches are leads for human
review, never verdicts.
"""

# No `from __future__ import annotations`: FastAPI must resolve the dependency annotations
# of the route functions defined inside `create_api` (closures over local names).
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, FastAPI, HTTPException, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.alerts.store import SubscriptionStore
from pipeline.indicators.scoring import INDICATOR_IDS
from schemas.alerts import SUBSCRIPTION_ID, Channel, ChannelKind, Subscription
from schemas.query import SearchQuery

API_KEY_HEADER = "X-API-Key"


class ApiKey(BaseModel):
    """Who holds one API key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriber: str = Field(min_length=1, max_length=200)
    admin: bool = False


class ApiKeys(BaseModel):
    """API keys and their holders, from a YAML file of ``KEY: {subscriber, admin}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: dict[str, ApiKey]

    @classmethod
    def load(cls, path: Path) -> "ApiKeys":
        """Read ``path``; raises ``ValueError`` (with the file named) when it is malformed."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read API keys file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"API keys file {path}: expected a mapping of key -> holder")
        try:
            return cls(keys={str(k): v for k, v in data.items()})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][1:])
            raise ValueError(f"API keys file {path}: {where}: {first['msg']}") from None

    def holder(self, key: str | None) -> ApiKey | None:
        """The holder of ``key``, compared in constant time; None if unknown."""
        if not key:
            return None
        found = None
        for known, holder in self.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                found = holder
        return found


class ChannelOut(BaseModel):
    """A channel as shown to callers: the secret is never returned, only whether one is set."""

    kind: ChannelKind
    target: str
    mask_phones: bool
    has_secret: bool


class SubscriptionOut(BaseModel):
    """A subscription as returned by the API; durations in seconds.

    Seconds, not ISO 8601: pydantic writes long durations with years ("P1083Y230D"), which
    JSON Schema's ``duration`` format does not accept. Requests take either form.
    """

    model_config = ConfigDict(ser_json_timedelta="float")

    id: str
    owner: str
    name: str
    rule: SearchQuery
    channels: list[ChannelOut]
    realert_after: timedelta
    digest_every: timedelta | None
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> "SubscriptionOut":
        """Public view of ``sub``."""
        data = sub.model_dump(exclude={"channels", "schema_version"})
        channels = [
            ChannelOut(
                kind=c.kind, target=c.target, mask_phones=c.mask_phones, has_secret=bool(c.secret)
            )
            for c in sub.channels
        ]
        return cls(**data, channels=channels)


class SubscriptionIn(BaseModel):
    """A new subscription; ``owner`` is forced to the caller unless the caller is an admin."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=SUBSCRIPTION_ID, description="default: generated")
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    rule: SearchQuery
    channels: list[Channel] = Field(min_length=1, max_length=20)
    realert_after: timedelta = timedelta(days=7)
    digest_every: timedelta | None = None
    active: bool = True


class SubscriptionPatch(BaseModel):
    """Fields to change; ``channels`` replaces the whole list (secrets included)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    rule: SearchQuery | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=20)
    realert_after: timedelta | None = None
    digest_every: timedelta | None = None
    active: bool | None = None


class ErrorOut(BaseModel):
    """An error answer."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown API key"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "no such subscription (or not yours)"},
}

CONFLICT: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": ErrorOut, "description": "a subscription with this id exists"},
}


def new_id(name: str) -> str:
    """A subscription id: a slug of ``name`` plus a short random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-")
    suffix = secrets.token_hex(3)
    return f"{slug}-{suffix}" if slug else f"sub-{suffix}"


def unknown_flags(rule: SearchQuery) -> str | None:
    """Why ``rule`` names a flag no indicator raises (a typo would never match), or None."""
    unknown = [
        f for f in dict.fromkeys([*rule.flags_any, *rule.flags_all]) if f not in INDICATOR_IDS
    ]
    if not unknown:
        return None
    return (
        f"unknown flag {', '.join(map(repr, unknown))}; known: {', '.join(sorted(INDICATOR_IDS))}"
    )


def build(values: dict[str, Any]) -> Subscription:
    """A `Subscription` from ``values``; pydantic's errors become a 422 answer."""
    try:
        sub = Subscription.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    problem = unknown_flags(sub.rule)
    if problem is not None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "rule"), "msg": problem, "input": None}]
        )
    return sub


def create_api(store: SubscriptionStore, keys: ApiKeys) -> FastAPI:
    """The subscriptions API over ``store``, authenticated by ``keys``."""
    app = FastAPI(
        title="adwatch subscriptions",
        version="1",
        description=(
            "Saved searches whose new matches are sent to their owner. Alerts describe "
            "leads for human review, never verdicts."
        ),
    )
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def caller(key: Annotated[str | None, Security(header)]) -> ApiKey:
        holder = keys.holder(key)
        if holder is None:
            raise HTTPException(401, "missing or unknown API key", {"WWW-Authenticate": "API-Key"})
        return holder

    Caller = Annotated[ApiKey, Depends(caller)]

    def owned(sub_id: str, who: ApiKey) -> Subscription:
        sub = store.get(sub_id)
        if sub is None or not (who.admin or sub.owner == who.subscriber):
            raise HTTPException(404, f"no subscription {sub_id!r}")
        return sub

    def changed(sub: Subscription, **changes: Any) -> Subscription:
        values = sub.model_dump() | changes | {"updated_at": datetime.now(UTC)}
        updated = build(values)
        store.put(updated)
        return updated

    @app.get("/subscriptions", responses=ERRORS, tags=["subscriptions"])
    def list_subscriptions(who: Caller) -> list[SubscriptionOut]:
        """Your subscriptions (an admin sees everyone's)."""
        subs = store.all().values()
        mine = [s for s in subs if who.admin or s.owner == who.subscriber]
        return [SubscriptionOut.of(s) for s in sorted(mine, key=lambda s: s.id)]

    @app.post("/subscriptions", status_code=201, responses=CONFLICT, tags=["subscriptions"])
    def create_subscription(body: SubscriptionIn, who: Caller) -> SubscriptionOut:
        """Create a subscription; 409 if the id is taken."""
        sub_id = body.id or new_id(body.name)
        if store.get(sub_id) is not None:
            raise HTTPException(409, f"subscription {sub_id!r} already exists")
        now = datetime.now(UTC)
        values = body.model_dump(exclude={"id", "owner"})
        owner = body.owner if who.admin and body.owner else who.subscriber
        sub = build(values | {"id": sub_id, "owner": owner, "created_at": now, "updated_at": now})
        store.put(sub)
        return SubscriptionOut.of(sub)

    @app.get("/subscriptions/{sub_id}", responses=NOT_FOUND, tags=["subscriptions"])
    def show_subscription(sub_id: str, who: Caller) -> SubscriptionOut:
        """One subscription."""
        return SubscriptionOut.of(owned(sub_id, who))

    @app.patch("/subscriptions/{sub_id}", responses=NOT_FOUND, tags=["subscriptions"])
    def update_subscription(sub_id: str, body: SubscriptionPatch, who: Caller) -> SubscriptionOut:
        """Change some fields; ``digest_every: null`` turns digests off."""
        sub = owned(sub_id, who)
        changes = body.model_dump(exclude_unset=True)
        for field in ("name", "rule", "channels", "realert_after", "active"):
            if field in changes and changes[field] is None:
                del changes[field]  # null means "unchanged" for fields that need a value
        return SubscriptionOut.of(changed(sub, **changes))

    @app.delete(
        "/subscriptions/{sub_id}", status_code=204, responses=NOT_FOUND, tags=["subscriptions"]
    )
    def delete_subscription(sub_id: str, who: Caller) -> Response:
        """Delete a subscription."""
        owned(sub_id, who)
        store.delete(sub_id)
        return Response(status_code=204)

    @app.post("/subscriptions/{sub_id}/pause", responses=NOT_FOUND, tags=["subscriptions"])
    def pause_subscription(sub_id: str, who: Caller) -> SubscriptionOut:
        """Stop alerting until resumed."""
        return SubscriptionOut.of(changed(owned(sub_id, who), active=False))

    @app.post("/subscriptions/{sub_id}/resume", responses=NOT_FOUND, tags=["subscriptions"])
    def resume_subscription(sub_id: str, who: Caller) -> SubscriptionOut:
        """Alert again."""
        return SubscriptionOut.of(changed(owned(sub_id, who), active=True))

    return app


__all__ = [
    "API_KEY_HEADER",
    "ApiKey",
    "ApiKeys",
    "SubscriptionIn",
    "SubscriptionOut",
    "SubscriptionPatch",
    "create_api",
    "new_id",
]
