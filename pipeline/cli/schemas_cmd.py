"""``adwatch schemas``: the record contracts as JSON Schema files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import console, fail
from schemas.export import export_json_schemas

schemas_app = typer.Typer(
    name="schemas", help="JSON Schemas of adwatch records.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``schemas`` command group to ``app``."""
    app.add_typer(schemas_app, name="schemas")


@schemas_app.command("export")
def export(
    directory: Annotated[
        Path, typer.Argument(help="directory to write into (created if missing)", metavar="DIR")
    ],
) -> None:
    """Write raw_ad, enriched_ad, dead_letter and search_query .schema.json files into DIR."""
    try:
        paths = export_json_schemas(directory)
    except OSError as exc:
        fail(f"cannot write schemas to {directory}: {exc}", code=1)
    for path in paths:
        console.print(str(path), highlight=False, markup=False, soft_wrap=True)
