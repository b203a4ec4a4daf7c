"""``adwatch search``: the `SearchQuery` model from the command line, against the index."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from pipeline.cli.common import console, fail, settings_or_exit
from pipeline.cli.index_access import normalized_phone, open_elasticsearch, open_index
from pipeline.es_search import ads_alias, search_es
from pipeline.query_sql import split_terms
from pipeline.settings import Settings
from schemas import EnrichedAd, SearchQuery
from schemas.types import as_utc

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SNIPPET_CHARS = 80

HELP = (
    "Search indexed ads; every criterion given must hold.\n\n"
    "TEXT terms must all occur (case-insensitive, and accent-insensitive on the SQLite index "
    "but not on Elasticsearch; words joined by punctuation, "
    "like new-york, must be adjacent; emoji and other symbol-only terms match literally). "
    "With no criteria at all, lists the newest ads. Newest first; with TEXT, best matches "
    "first.\n\n"
    "WHEN is an ISO date or datetime (UTC unless it has an offset), or an age such as 30m, "
    "24h, 7d, 2w meaning that long before now."
)


def register(app: typer.Typer) -> None:
    """Add the ``search`` command to ``app``."""
    app.command("search", help=HELP)(search)


def search(
    text: Annotated[
        list[str] | None,
        typer.Argument(help="words to find (all must occur)", metavar="TEXT", show_default=False),
    ] = None,
    phone: Annotated[
        list[str] | None,
        typer.Option(
            "--phone",
            "-p",
            metavar="PHONE",
            help="phone in any common format; repeat for any of several",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="posted at or after WHEN", metavar="WHEN")
    ] = None,
    until: Annotated[str | None, typer.Option(help="posted before WHEN", metavar="WHEN")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", metavar="SOURCE", help="ad source; repeat for any of several"),
    ] = None,
    flag: Annotated[
        list[str] | None,
        typer.Option("--flag", metavar="ID", help="indicator id; repeat for any of several"),
    ] = None,
    min_score: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="minimum risk score, 0 to 1")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="most ads to show")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object (an EnrichedAd) per line")
    ] = False,
) -> None:
    """Search indexed ads."""
    settings = settings_or_exit()
    phrase = " ".join(text or []).strip() or None
    now = datetime.now(UTC)
    try:
        query = SearchQuery(
            text=phrase,
            phones=[normalized_phone(p, settings) for p in phone or []],
            since=parse_when(since, "--since", now) if since else None,
            until=parse_when(until, "--until", now) if until else None,
            sources=source or [],
            flags_any=flag or [],
            min_score=min_score,
            limit=limit,
        )
    except ValidationError as exc:
        fail("; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors()))
    ads = run_query(query, settings)
    if as_json:
        for ad in ads:
            typer.echo(ad.model_dump_json())
        return
    _print_table(ads, query)


def run_query(query: SearchQuery, settings: Settings) -> list[EnrichedAd]:
    """Run ``query`` against the configured index, exiting with a clear message on failure."""
    if settings.index.backend == "elasticsearch":
        prefix = settings.index.index_prefix
        with open_elasticsearch(settings, ads_alias(prefix)) as client:
            return search_es(client, prefix, query)
    with open_index(settings, "search") as index:
        return index.search(query)


def parse_when(value: str, option: str, now: datetime) -> datetime:
    """Parse an ISO date/datetime or an age like ``24h`` (``now`` minus it) into UTC-aware time.

    Exits with a message naming ``option`` when ``value`` is neither.
    """
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(
            f"{option}: {value!r} is not a date, datetime or age "
            "(try 2024-05-01, 2024-05-01T18:00, 30m, 24h, 7d)"
        )
    return as_utc(moment)


def _print_table(ads: list[EnrichedAd], query: SearchQuery) -> None:
    table = Table(show_lines=False, expand=False)
    # Identifiers stay on one line; the text excerpt takes the width that is left.
    for column in ("key", "phones", "score"):
        table.add_column(column, no_wrap=True)
    table.add_column("posted", min_width=10, max_width=16)  # date over time when narrow
    table.add_column("location", max_width=16)
    table.add_column("flags", max_width=20)
    table.add_column("text", ratio=1)
    estimated = False
    for ad in ads:
        when = ad.posted_at or ad.scraped_at
        estimated = estimated or ad.posted_at is None
        # Text() so ad content is never read as rich markup.
        table.add_row(
            Text(ad.key),
            Text("\n".join(sorted({p.e164 for p in ad.phones}))),
            Text(f"{ad.risk_score:.2f}"),
            Text(when.strftime("%Y-%m-%d %H:%M") + ("~" if ad.posted_at is None else "")),
            Text(ad.location or ""),
            Text(", ".join(f.id for f in ad.flags)),
            Text(snippet(ad.text, query.text)),
        )
    if ads:
        console.print(table)
    line = f"{len(ads)} ad{'s' if len(ads) != 1 else ''}"
    if len(ads) == query.limit:
        line += f" (limit {query.limit} reached; use --limit for more)"
    if estimated:
        line += "; ~ marks a scraped time where the posting time is unknown"
    console.print(line, highlight=False, markup=False)


def snippet(text: str, query_text: str | None, width: int = _SNIPPET_CHARS) -> str:
    """Return a one-line excerpt of about ``width`` chars around the first query term."""
    flat = " ".join(text.split())
    phrases, literals = split_terms(query_text or "")
    lowered = flat.casefold()
    hits = [i for t in (*phrases, *literals) if (i := lowered.find(t.casefold())) >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    excerpt = flat[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(flat) else ""
    return prefix + excerpt + suffix
