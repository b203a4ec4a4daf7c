"""`adwatch status`: is the stack healthy? Broker, workers, lag, index, last error — for a human.

Exit code 0 when every row is fine, 1 when something is wrong (scriptable), 2 for bad
settings. Works from the directory of a running `adwatch up` without options; for workers
elsewhere, name their endpoints with ``--url``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.common import console, settings_or_exit
from pipeline.status import Report, gather


def render(report: Report) -> Table:
    """The report as a two-column table; problems in red with a cross."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for row in report.rows:
        mark = "[green]✓[/]" if row.ok else "[bold red]✗[/]"
        text = escape(row.text)
        table.add_row(row.name, mark, text if row.ok else f"[red]{text}[/]")
    return table


def status(
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            help="A worker's endpoint (http://HOST:PORT), besides those recorded in the data dir.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each worker's answer.", min=0.1)
    ] = 3.0,
) -> None:
    """Show broker, workers, lag, index and the last error; exit 1 when something is wrong."""
    settings = settings_or_exit()
    report = gather(settings, url or [], timeout=timeout)
    console.print(render(report), markup=True, highlight=False)
    if not report.ok:
        problems = sum(not r.ok for r in report.rows)
        console.print(f"[bold red]{problems} problem(s)[/]", highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `status` to the CLI."""
    app.command("status")(status)
