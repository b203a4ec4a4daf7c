"""``adwatch setup``: install the Elasticsearch templates and the Kibana saved objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import fail, say, settings_or_exit, warn
from pipeline.es_client import make_client
from pipeline.es_setup import (
    FAMILIES,
    SetupError,
    bootstrap_index,
    desired_resources,
    setup_elasticsearch,
)
from pipeline.kibana_setup import setup_kibana
from pipeline.settings import IndexSettings

setup_app = typer.Typer(
    name="setup",
    help=(
        "Production set-up: Elasticsearch index templates, ILM retention and aliases; Kibana "
        "data views and dashboard. Safe to run again; run both after every upgrade."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``setup`` command group to ``app``."""
    app.add_typer(setup_app, name="setup")


@setup_app.command("elasticsearch")
def elasticsearch(
    files: Annotated[
        Path | None,
        typer.Option(
            "--files",
            metavar="DIR",
            help="read the JSON files from DIR (default: the packaged copy of "
            "deploy/elasticsearch)",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print the requests it would send, send nothing"),
    ] = False,
) -> None:
    """Install or upgrade ILM policies, templates and the first indices with their aliases.

    Names start with index.index_prefix; raw_retention_days and lead_retention_days set
    the ILM delete phases. Prints what was created, updated or left unchanged.
    """
    settings = settings_or_exit()
    index = settings.index
    if dry_run:
        _print_requests(index, files)
        return
    if not index.elasticsearch_url:
        fail(
            "index.elasticsearch_url is not set: set ADWATCH_INDEX__ELASTICSEARCH_URL or "
            "elasticsearch_url under [index] in adwatch.toml"
        )
    try:  # the sink's client: the same hosts, credentials, TLS and timeout as the workers
        client = make_client(index)
    except (ValueError, OSError) as exc:  # no URL, a CA bundle with http://, no CA file
        fail(str(exc))
    try:
        with client:
            lines = setup_elasticsearch(client, index, files=files)
    except SetupError as exc:
        fail(f"Elasticsearch at {index.elasticsearch_url}: {exc}", code=1)
    _print(lines)


@setup_app.command("kibana")
def kibana(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="import this NDJSON file (default: the packaged copy of "
            "deploy/kibana/adwatch.ndjson)",
        ),
    ] = None,
) -> None:
    """Import the data views, visualizations, map, saved searches and dashboard into Kibana.

    Uses index.kibana_url and the Elasticsearch credentials and TLS settings; existing
    objects with the same ids are replaced.
    """
    settings = settings_or_exit()
    index = settings.index
    if not index.kibana_url:
        fail(
            "index.kibana_url is not set: set ADWATCH_INDEX__KIBANA_URL or kibana_url under "
            "[index] in adwatch.toml"
        )
    try:
        lines = setup_kibana(index, path=file)
    except SetupError as exc:
        fail(f"Kibana at {index.kibana_url}: {exc}", code=1)
    _print(lines)


def _print(lines: list[str]) -> None:
    for line in lines:
        (warn if line.startswith("warning") else say)(line)


def _print_requests(index: IndexSettings, files: Path | None) -> None:
    try:
        resources = desired_resources(index, files)
    except SetupError as exc:
        fail(str(exc), code=1)
    for res in resources:
        say(f"PUT {res.path}")
        say(json.dumps(res.body, indent=2))
    for family in FAMILIES:
        name, body = bootstrap_index(family.name, index.index_prefix)
        say(f"# only if the alias {index.index_prefix}-{family.name} does not exist yet:")
        say(f"PUT /{name}")
        say(json.dumps(body, indent=2))
