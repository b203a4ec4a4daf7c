"""Entry point of the ``adwatch`` console script: wires command modules into one Typer app."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="adwatch",
    help="Watch classified ads for trafficking indicators; flags are leads for human review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _register() -> None:
    # Each command module exposes `register(app)`; imported here so `adwatch --help` lists all.
    from pipeline.cli import (
        api_cmd,
        bench_cmd,
        config_cmd,
        connectors_cmd,
        deadletter_cmd,
        entities_cmd,
        eval_cmd,
        extract_cmd,
        ingest_cmd,
        schemas_cmd,
        search_cmd,
        setup_cmd,
        status_cmd,
        subscriptions_cmd,
        up_cmd,
    )

    for module in (
        up_cmd,
        status_cmd,
        ingest_cmd,
        connectors_cmd,
        extract_cmd,
        search_cmd,
        entities_cmd,
        eval_cmd,
        bench_cmd,
        config_cmd,
        schemas_cmd,
        setup_cmd,
        subscriptions_cmd,
        api_cmd,
        deadletter_cmd,
    ):
        module.register(app)


def main() -> None:
    """Run the CLI."""
    _register()
    app()
