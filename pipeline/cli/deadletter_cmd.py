"""``adwatch deadletter list|show|replay``: what could not be processed, and replaying it.

Reads ``ads.deadletter`` of the running broker without joining a consumer group
(`pipeline.topic_reader`); a dead letter's id is its ``PARTITION:OFFSET`` in that topic.
Replay publishes the original bytes with the original key back where they belong, after
the validation the worker will run, so a record still invalid is reported, not bounced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from connectors.producer import AdProducer, BrokerUnreachable, DeliveryError
from pipeline import topics
from pipeline.cli.common import broker_address, console, fail, say, settings_or_exit, warn
from pipeline.cli.search_cmd import parse_when
from pipeline.deadletter_tools import (
    SKIP_INVALID,
    Entry,
    Filters,
    Planned,
    entry_from_record,
    entry_json,
    missing_ids,
    one_line,
    origin,
    parse_id,
    plan_counts,
    plan_replay,
    pretty_original,
    reason_kind,
    replay_headers,
    select,
    short_class,
    summarize,
    summary_line,
    when,
)
from pipeline.settings import Settings
from pipeline.topic_reader import read_records

app = typer.Typer(
    help="Records that could not be processed: list, show, and replay them after a fix.",
    no_args_is_help=True,
)
DEFAULT_LIMIT = 100
REASON_CHARS = 60
# Read until the topic is quiet this long: end offsets are not to be trusted on Tansu.
READ_IDLE_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 120.0
_VERB = len("would replay ")

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="broker host:port (default: ADWATCH_KAFKA__BOOTSTRAP, else a running `adwatch up`)",
    ),
]
Stage = Annotated[
    list[str] | None,
    typer.Option(
        "--stage",
        metavar="S",
        help="ingest, validate, enrich, link, index, notify or connector; repeatable",
    ),
]
Topic = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        metavar="T",
        help="where the record was: ads.raw, a full topic name or file:* (glob); repeatable",
    ),
]
Reason = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="text in the reason or exception class"),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since", metavar="WHEN", help="failed at or after WHEN: ISO date or time, or 24h, 7d"
    ),
]


def register(root: typer.Typer) -> None:
    """Add ``adwatch deadletter`` to ``root``."""
    root.add_typer(app, name="deadletter")


@app.command("list")
def list_(
    stage: Stage = None,
    topic: Topic = None,
    reason: Reason = None,
    since: Since = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            metavar="N",
            help=f"show the N most recent (default {DEFAULT_LIMIT}; all with --json)",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="one JSON object per line, the original as text or base64"),
    ] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """List dead letters, oldest first, with counts by stage and reason."""
    settings = settings_or_exit()
    filters = _filters(stage, topic, reason, since, ())
    entries = _read(settings, bootstrap)
    matched = select(entries, filters, settings.topic_prefix)
    shown = select(matched, Filters(), settings.topic_prefix, limit or _default_limit(as_json))
    if as_json:
        for entry in shown:
            typer.echo(_json_line(entry, settings))
        return
    if not entries:
        say(f"no dead letters in {settings.topic(topics.DEADLETTER)}")
        return
    if not matched:
        say(f"no dead letters match ({len(entries)} in {settings.topic(topics.DEADLETTER)})")
        return
    _print_table(shown)
    say(summary_line(summarize(matched), len(shown)))


@app.command("show")
def show(
    dead_id: Annotated[
        str, typer.Argument(metavar="ID", help="PARTITION:OFFSET, as `list` shows it")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="as one JSON object")] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """Show one dead letter in full: headers, details and the original record."""
    settings = settings_or_exit()
    wanted = _id(dead_id)
    found = [e for e in _read(settings, bootstrap) if (e.partition, e.offset) == wanted]
    if not found:
        fail(f"no dead letter {dead_id.strip()} in {settings.topic(topics.DEADLETTER)}", 1)
    entry = found[0]
    if as_json:
        typer.echo(_json_line(entry, settings))
        return
    _print_entry(entry, settings)


@app.command("replay")
def replay(
    stage: Stage = None,
    topic: Topic = None,
    reason: Reason = None,
    since: Since = None,
    dead_id: Annotated[
        list[str] | None,
        typer.Option("--id", metavar="ID", help="PARTITION:OFFSET from `list`; repeatable"),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, metavar="N", help="only the N most recent")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be replayed and skipped; send nothing")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="replay records that would fail validation again too")
    ] = False,
    all_: Annotated[
        bool, typer.Option("--all", help="replay every dead letter (needed with no filter)")
    ] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """Publish dead letters' original records again, with their keys, where they belong.

    Records of ``ingest``, ``validate`` and ``enrich`` (and ``file:`` origins) go to
    ``ads.raw``, others to the topic they came from, each with an ``adwatch.replay-of``
    header. Records that would fail validation again are skipped unless ``--force``.
    Replaying twice is harmless: the index, the linking state and alerts go by ad key.
    """
    filters = _filters(stage, topic, reason, since, [_id(i) for i in dead_id or []])
    if filters.is_empty() and not all_:
        fail(
            "replay needs a filter (--stage, --topic, --reason, --since or --id); "
            "to replay every dead letter, say --all"
        )
    settings = settings_or_exit()
    entries = _read(settings, bootstrap)
    missing = missing_ids(entries, filters.ids)
    if missing:
        fail(
            f"no dead letter {', '.join(missing)} in {settings.topic(topics.DEADLETTER)}; "
            "nothing replayed",
            1,
        )
    chosen = select(entries, filters, settings.topic_prefix, limit)
    plan = plan_replay(chosen, settings.topic_prefix, force=force)
    for item in plan:
        say(_plan_line(item, settings, dry_run))
    if dry_run or not plan:
        say(_totals(plan, dry_run=True) if plan else "no dead letters match; nothing to replay")
        return
    _publish(plan, settings, bootstrap)
    say(_totals(plan, dry_run=False))


def _filters(
    stage: list[str] | None,
    topic: list[str] | None,
    reason: str | None,
    since: str | None,
    ids: Sequence[tuple[int, int]],
) -> Filters:
    return Filters(
        stages=tuple(stage or ()),
        topics=tuple(topic or ()),
        reason=reason or None,
        since=parse_when(since, "--since", datetime.now(UTC)) if since else None,
        ids=tuple(ids),
    )


def _id(text: str) -> tuple[int, int]:
    try:
        return parse_id(text)
    except ValueError as exc:
        fail(str(exc))


def _json_line(entry: Entry, settings: Settings) -> str:
    return json.dumps(entry_json(entry, settings.topic_prefix), ensure_ascii=False, default=str)


def _default_limit(as_json: bool) -> int | None:
    return None if as_json else DEFAULT_LIMIT


def _read(settings: Settings, bootstrap: str | None) -> list[Entry]:
    """Every record of the dead-letter topic (read until it is quiet)."""
    address = broker_address(bootstrap, settings)
    started = time.monotonic()
    try:
        records = read_records(
            settings,
            address,
            topics.DEADLETTER,
            timeout=READ_TIMEOUT_SECONDS,
            idle=READ_IDLE_SECONDS,
        )
    except Exception as exc:  # kafka-python's errors: no traceback for a person
        if type(exc).__module__.startswith("kafka"):
            fail(f"broker at {address}: {exc}", 1)
        raise
    if time.monotonic() - started >= READ_TIMEOUT_SECONDS:
        warn(
            f"stopped reading {settings.topic(topics.DEADLETTER)} after "
            f"{READ_TIMEOUT_SECONDS:.0f} s while records were still arriving: what follows "
            "may be incomplete"
        )
    return [entry_from_record(r.partition, r.offset, r.key, r.value, r.headers) for r in records]


def _print_table(entries: Sequence[Entry]) -> None:
    table = Table(show_lines=False, expand=False, show_edge=False)
    # The id must stay whole to be copied; the rest folds to fit 80 columns.
    table.add_column("id", no_wrap=True, min_width=max(len(e.id) for e in entries))
    table.add_column("from", overflow="fold", min_width=10)
    table.add_column("stage", overflow="fold", min_width=5)
    table.add_column("error", overflow="fold", min_width=8)
    table.add_column("reason", min_width=14, max_width=REASON_CHARS)
    table.add_column("key", overflow="fold", min_width=6)
    table.add_column("failed at", min_width=10)
    for entry in entries:
        dl = entry.letter
        # Text() so nothing taken from a record is read as rich markup.
        table.add_row(
            Text(entry.id),
            Text(origin(dl)),
            Text(dl.stage),
            Text(short_class(dl.exception_class)),
            Text(one_line(dl.message, REASON_CHARS)),
            Text(dl.key or "-"),
            Text(when(dl.failed_at)),
        )
    console.print(table)


def _print_entry(entry: Entry, settings: Settings) -> None:
    dl = entry.letter
    (planned,) = plan_replay([entry], settings.topic_prefix)
    fields = [
        ("from", origin(dl)),
        ("stage", dl.stage),
        ("exception", dl.exception_class),
        ("reason kind", reason_kind(dl)),
        ("key", dl.key if dl.key is not None else "(none)"),
        ("failed at", dl.failed_at.isoformat()),
        ("replay", _replay_note(planned, settings)),
    ]
    say(f"dead letter {entry.id} of {settings.topic(topics.DEADLETTER)}")
    for name, value in fields:
        say(f"  {name:<13}{value}")
    say("message")
    for line in (dl.message or "(none)").splitlines():
        say(f"  {line}")
    say("headers")
    for name, raw in entry.headers:
        say(f"  {name}: {raw.decode('utf-8', errors='backslashreplace')}")
    if dl.details:
        say("details")
        _say_indented(json.dumps(dl.details, indent=2, ensure_ascii=False, default=str))
    label, text = pretty_original(dl.original)
    say(f"original ({label})")
    _say_indented(text)


def _say_indented(text: str) -> None:
    for line in text.splitlines() or [""]:
        say(f"  {line}")


def _replay_note(item: Planned, settings: Settings) -> str:
    if item.target is None:
        return f"not replayable: {item.why}"
    where = settings.topic(item.target)
    if item.skip == SKIP_INVALID:
        return f"to {where}, but skipped: still invalid: {one_line(item.why, 200)}"
    return f"to {where}"


def _plan_line(item: Planned, settings: Settings, dry_run: bool) -> str:
    entry, where = item.entry, origin(item.entry.letter)
    if item.skip is not None:
        return f"{'skip':<{_VERB}}{entry.id}  {where}  {item.skip}: {one_line(item.why, 200)}"
    verb = "would replay" if dry_run else "replay"
    assert item.target is not None
    key = item.key.decode("utf-8", errors="backslashreplace") if item.key is not None else "-"
    forced = f"  (forced; invalid: {one_line(item.why, 120)})" if item.forced else ""
    return f"{verb:<{_VERB}}{entry.id}  {where} -> {settings.topic(item.target)}  key {key}{forced}"


def _publish(plan: Sequence[Planned], settings: Settings, bootstrap: str | None) -> None:
    address = broker_address(bootstrap, settings)
    dead_topic = settings.topic(topics.DEADLETTER)
    try:
        with AdProducer(settings, address, client_id="adwatch-deadletter-replay") as producer:
            for item in plan:
                if item.replayed and item.target is not None:
                    producer.publish_raw(
                        item.target,
                        item.key,
                        item.entry.letter.original,
                        replay_headers(item.entry, dead_topic),
                    )
    except BrokerUnreachable as exc:
        fail(f"{exc}; nothing replayed", 1)
    except DeliveryError as exc:
        fail(f"{exc}; replaying the same records again is safe", 1)


def _totals(plan: Sequence[Planned], *, dry_run: bool) -> str:
    replayed, skipped = plan_counts(plan)
    forced = sum(p.forced for p in plan)
    verb = "would replay" if dry_run else "replayed"
    parts: list[str] = [f"{verb} {replayed}"]
    if forced:
        parts[0] += f" ({forced} forced)"
    n_skipped = sum(skipped.values())
    reasons = ", ".join(f"{why} {n}" for why, n in sorted(skipped.items()))
    parts.append(f"skipped {n_skipped}" + (f" ({reasons})" if reasons else ""))
    line = ", ".join(parts)
    return line + (" (dry run: nothing sent)" if dry_run else "")
