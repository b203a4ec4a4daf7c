"""``adwatch entities``: the phone entity records in the index, with their flags' evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from pipeline.cli.common import console, say, settings_or_exit
from pipeline.cli.index_access import normalized_phone, open_elasticsearch, open_index
from pipeline.es_search import count_entities_es, phones_alias, search_entities_es
from pipeline.settings import Settings
from schemas import PhoneEntity

_SHOWN_VALUES = 5  # cities, names or ages listed in one table cell

HELP = (
    "Show phone entity records: what the ads of one phone number show over time (how many "
    "ads, in which cities, under which names and stated ages) and the entity-level flags "
    "raised on it, each with its evidence. Flags are leads for a human reviewer, not "
    "findings about anyone.\n\n"
    "Every criterion given must hold. Most recently seen phones first."
)


def register(app: typer.Typer) -> None:
    """Add the ``entities`` command to ``app``."""
    app.command("entities", help=HELP)(entities)


def entities(
    phone: Annotated[
        list[str] | None,
        typer.Option(
            "--phone",
            "-p",
            metavar="PHONE",
            help="phone in any common format; repeat for any of several",
        ),
    ] = None,
    flag: Annotated[
        list[str] | None,
        typer.Option(
            "--flag",
            metavar="ID",
            help="entity-level flag id, e.g. phone_multi_city; repeat for any of several",
        ),
    ] = None,
    min_ads: Annotated[
        int, typer.Option("--min-ads", min=1, metavar="N", help="at least N distinct ads")
    ] = 1,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, metavar="N", help="most phones to show")
    ] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object (a PhoneEntity) per line")
    ] = False,
) -> None:
    """Show phone entity records."""
    settings = settings_or_exit()
    phones = list(dict.fromkeys(normalized_phone(p, settings) for p in phone or []))
    found, total = read_entities(
        settings, phones=phones, flags=flag or [], min_ads=min_ads, limit=limit
    )
    if as_json:
        for entity in found:
            typer.echo(entity.model_dump_json())
        return
    _print(found, total=total, limit=limit, phones=phones)


def read_entities(
    settings: Settings,
    *,
    phones: Sequence[str],
    flags: Sequence[str],
    min_ads: int,
    limit: int,
) -> tuple[list[PhoneEntity], int]:
    """The matching entities and the number in the index; exits with a message on failure."""
    if settings.index.backend == "elasticsearch":
        prefix = settings.index.index_prefix
        with open_elasticsearch(settings, phones_alias(prefix)) as client:
            found = search_entities_es(
                client, prefix, phones=phones, flags=flags, min_ads=min_ads, limit=limit
            )
            return found, count_entities_es(client, prefix)
    with open_index(settings, "entities") as index:
        found = index.entities(phones=phones, flags=flags, min_ads=min_ads, limit=limit)
        return found, index.entity_count()


def _print(found: list[PhoneEntity], *, total: int, limit: int, phones: list[str]) -> None:
    if not found:
        if total == 0:
            say(
                "no phone entities in the index yet; the linking stage records them as ads "
                "with phone numbers arrive"
            )
        elif phones:
            say(f"no phone entity matches {', '.join(phones)} with the criteria given")
        else:
            say("no phone entities match the criteria given")
        return
    table = Table(show_lines=False, expand=False)
    table.add_column("phone", no_wrap=True)
    table.add_column("ads", justify="right", no_wrap=True)
    table.add_column("cities", max_width=36)
    table.add_column("names / ages", max_width=30)
    for column in ("first seen", "last seen"):
        table.add_column(column, min_width=10, max_width=16)  # date over time when narrow
    table.add_column("flags", no_wrap=True)
    for entity in found:
        # Text() so names and cities taken from ads are never read as rich markup.
        table.add_row(
            Text(entity.phone),
            Text(str(entity.ad_count)),
            Text(_some(entity.cities, "; ")),
            Text("\n".join(filter(None, [_some(entity.names), _some(entity.ages)]))),
            Text(_when(entity.first_seen)),
            Text(_when(entity.last_seen)),
            Text("\n".join(f.id for f in entity.flags)),
        )
    console.print(table)
    line = f"{len(found)} phone{'s' if len(found) != 1 else ''}"
    if len(found) == limit:
        line += f" (limit {limit} reached; use --limit for more)"
    say(line)
    _print_evidence(found)


def _print_evidence(found: list[PhoneEntity]) -> None:
    flagged = [e for e in found if e.flags]
    if not flagged:
        return
    say("")
    say("Why each flag was raised (leads for a reviewer to check, not findings):")
    for entity in flagged:
        for flag in entity.flags:
            say("")
            say(f"{entity.phone}  {flag.id}")
            for evidence in flag.evidence:
                say(f"  {evidence.text}")
                if evidence.note:
                    say(f"    {evidence.note}")


def _some(values: Sequence[object], sep: str = ", ") -> str:
    shown = sep.join(str(v) for v in values[:_SHOWN_VALUES])
    more = len(values) - _SHOWN_VALUES
    return f"{shown} (+{more} more)" if more > 0 else shown


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
