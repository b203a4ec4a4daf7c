"""``adwatch subscriptions …``: manage saved searches that raise alerts for human review.

Subscriptions live in the compacted topic ``alerts.subscriptions`` of the running broker
(`pipeline.alerts.store`). Webhook secrets are stored but never printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from pipeline.alerts.api import SubscriptionOut, new_id, unknown_flags
from pipeline.alerts.store import StoreError, SubscriptionStore, ensure_subscription_topic
from pipeline.cli.common import broker_address, fail, say, settings_or_exit
from pipeline.cli.index_access import normalized_phone
from pipeline.cli.search_cmd import run_query
from schemas.alerts import Channel, Subscription
from schemas.query import SearchQuery

app = typer.Typer(
    help="Saved searches that alert their owner to new matching ads (leads for human review).",
    no_args_is_help=True,
)
SHOWN_KEYS = 5
_DURATION = TypeAdapter(timedelta)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="broker host:port (default: ADWATCH_KAFKA__BOOTSTRAP, else a running `adwatch up`)",
    ),
]


def register(root: typer.Typer) -> None:
    """Add ``adwatch subscriptions`` to ``root``."""
    root.add_typer(app, name="subscriptions")


@contextmanager
def _store(bootstrap: str | None) -> Iterator[SubscriptionStore]:
    settings = settings_or_exit()
    address = broker_address(bootstrap, settings)
    try:
        ensure_subscription_topic(settings, address)
        with SubscriptionStore(settings, address) as store:
            yield store
    except StoreError as exc:
        fail(str(exc), 1)
    except Exception as exc:  # kafka-python's errors: no traceback for a person
        if type(exc).__module__.startswith("kafka"):
            fail(f"broker at {address}: {exc}", 1)
        raise


def parse_duration(value: str, option: str) -> timedelta:
    """``30m``, ``1h``, ``7d``, ``2w`` or ISO 8601 (``PT1H``); exits naming ``option``."""
    text = value.strip().lower()
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
    try:
        return _DURATION.validate_python(value.strip())
    except ValidationError:
        fail(f"{option}: {value!r} is not a duration (try 30m, 1h, 7d, 2w)")


def _channel(
    webhook: str | None, secret: str | None, email: str | None, slack: str | None, file: str | None
) -> Channel:
    given = [
        (kind, target)
        for kind, target in (
            ("webhook", webhook),
            ("email", email),
            ("slack", slack),
            ("file", file),
        )
        if target is not None
    ]
    if len(given) != 1:
        fail("give exactly one channel: --webhook URL, --email ADDR, --slack URL or --file PATH")
    kind, target = given[0]
    if secret is not None and kind != "webhook":
        fail("--secret: only a --webhook channel takes a secret")
    try:
        return Channel(kind=kind, target=target, secret=secret)
    except ValidationError as exc:
        fail(f"--{kind}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")


def _option_of(loc: tuple[Any, ...]) -> str:
    names = {
        "rule": "--phone/--flag/--min-score/--text/--source",
        "phones": "--phone",
        "flags_any": "--flag",
        "min_score": "--min-score",
        "text": "--text",
        "sources": "--source",
        "channels": "--webhook/--email/--slack/--file",
        "realert_after": "--realert-after",
        "digest_every": "--digest-every",
        "name": "--name",
        "owner": "--owner",
        "id": "--id",
    }
    for part in reversed(loc):
        if str(part) in names:
            return names[str(part)]
    return ".".join(str(p) for p in loc) or "subscription"


def _invalid(exc: ValidationError) -> str:
    first = exc.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    return f"{_option_of(tuple(first['loc']))}: {msg}"


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="what the search is for")],
    owner: Annotated[str, typer.Option("--owner", help="the subscriber")],
    webhook: Annotated[str | None, typer.Option("--webhook", metavar="URL")] = None,
    secret: Annotated[
        str | None, typer.Option("--secret", help="HMAC key signing webhook bodies")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", metavar="ADDR")] = None,
    slack: Annotated[str | None, typer.Option("--slack", metavar="URL")] = None,
    file: Annotated[str | None, typer.Option("--file", metavar="PATH", help="JSON lines")] = None,
    phone: Annotated[
        list[str] | None, typer.Option("--phone", metavar="PHONE", help="repeat for any of several")
    ] = None,
    flag: Annotated[
        list[str] | None, typer.Option("--flag", metavar="ID", help="indicator id; any of several")
    ] = None,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="minimum risk score, 0 to 1")
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="words that must all occur")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", metavar="SOURCE")] = None,
    mask_phones: Annotated[
        bool, typer.Option("--mask-phones", help="show numbers as +1702555****")
    ] = False,
    realert_after: Annotated[
        str, typer.Option("--realert-after", metavar="DURATION", help="e.g. 7d")
    ] = "7d",
    digest_every: Annotated[
        str | None, typer.Option("--digest-every", metavar="DURATION", help="e.g. 1h")
    ] = None,
    sub_id: Annotated[
        str | None, typer.Option("--id", help="default: slug of the name + random suffix")
    ] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Save a search; its new matches are sent to the channel."""
    settings = settings_or_exit()
    try:
        rule = SearchQuery(
            text=text,
            phones=[normalized_phone(p, settings) for p in phone or []],
            sources=source or [],
            flags_any=flag or [],
            min_score=min_score,
        )
        channel = _channel(webhook, secret, email, slack, file)
        channel = channel.model_copy(update={"mask_phones": mask_phones})
        now = datetime.now(UTC)
        sub = Subscription(
            id=sub_id or new_id(name),
            owner=owner,
            name=name,
            rule=rule,
            channels=[channel],
            realert_after=parse_duration(realert_after, "--realert-after"),
            digest_every=parse_duration(digest_every, "--digest-every") if digest_every else None,
            created_at=now,
            updated_at=now,
        )
    except ValidationError as exc:
        fail(_invalid(exc))
    problem = unknown_flags(sub.rule)
    if problem is not None:
        fail(f"--flag: {problem}")
    with _store(bootstrap) as store:
        if store.get(sub.id) is not None:
            fail(f"--id: subscription {sub.id!r} already exists")
        store.put(sub)
    say(f"added {sub.id}")


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option("--owner", help="only this subscriber's")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """List subscriptions (secrets are never shown)."""
    with _store(bootstrap) as store:
        subs = sorted(store.all().values(), key=lambda s: s.id)
    for sub in subs:
        if owner is not None and sub.owner != owner:
            continue
        if as_json:
            typer.echo(SubscriptionOut.of(sub).model_dump_json())
        else:
            state = "active" if sub.active else "paused"
            kinds = ",".join(c.kind for c in sub.channels)
            say(f"{sub.id}  {state}  owner={sub.owner}  channels={kinds}  {sub.name}")


@app.command("show")
def show(sub_id: Annotated[str, typer.Argument(metavar="ID")], bootstrap: Bootstrap = None) -> None:
    """Show one subscription as JSON (secrets never shown)."""
    with _store(bootstrap) as store:
        sub = _existing(store, sub_id)
    typer.echo(json.dumps(SubscriptionOut.of(sub).model_dump(mode="json"), indent=2))


@app.command("pause")
def pause(
    sub_id: Annotated[str, typer.Argument(metavar="ID")], bootstrap: Bootstrap = None
) -> None:
    """Stop alerting until resumed."""
    _set_active(sub_id, False, bootstrap)


@app.command("resume")
def resume(
    sub_id: Annotated[str, typer.Argument(metavar="ID")], bootstrap: Bootstrap = None
) -> None:
    """Alert again."""
    _set_active(sub_id, True, bootstrap)


@app.command("delete")
def delete(
    sub_id: Annotated[str, typer.Argument(metavar="ID")], bootstrap: Bootstrap = None
) -> None:
    """Delete a subscription."""
    with _store(bootstrap) as store:
        _existing(store, sub_id)
        store.delete(sub_id)
    say(f"deleted {sub_id}")


@app.command("test")
def test(sub_id: Annotated[str, typer.Argument(metavar="ID")], bootstrap: Bootstrap = None) -> None:
    """Run the subscription's search against the index: how many ads match now."""
    with _store(bootstrap) as store:
        sub = _existing(store, sub_id)
    settings = settings_or_exit()
    ads = run_query(sub.rule.model_copy(update={"limit": 10_000}), settings)
    more = "+" if len(ads) >= 10_000 else ""
    say(f"{len(ads)}{more} ad{'s' if len(ads) != 1 else ''} match {sub_id} now")
    for ad in ads[:SHOWN_KEYS]:
        say(f"  {ad.key}")


def _existing(store: SubscriptionStore, sub_id: str) -> Subscription:
    sub = store.get(sub_id)
    if sub is None:
        fail(f"no subscription {sub_id!r}", 1)
    return sub


def _set_active(sub_id: str, active: bool, bootstrap: str | None) -> None:
    with _store(bootstrap) as store:
        sub = _existing(store, sub_id)
        store.put(sub.model_copy(update={"active": active, "updated_at": datetime.now(UTC)}))
    say(f"{'resumed' if active else 'paused'} {sub_id}")
