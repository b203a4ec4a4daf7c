"""``adwatch api``: serve the subscriptions HTTP API (`pipeline.alerts.api`) with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.alerts.api import ApiKeys, create_api
from pipeline.alerts.store import StoreError, SubscriptionStore, ensure_subscription_topic
from pipeline.cli.common import broker_address, fail, say, settings_or_exit


def register(app: typer.Typer) -> None:
    """Add ``adwatch api`` to ``app``."""
    app.command("api")(api)


def api(
    keys: Annotated[
        Path, typer.Option("--keys", metavar="FILE", help="YAML: KEY: {subscriber: S, admin: B}")
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8080,
    host: Annotated[
        str, typer.Option("--host", help="listen address; put TLS in front for other hosts")
    ] = "127.0.0.1",
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--bootstrap",
            help="broker host:port (default: ADWATCH_KAFKA__BOOTSTRAP, else `adwatch up`'s)",
        ),
    ] = None,
) -> None:
    """Serve the subscriptions API (OpenAPI docs at /docs); callers send X-API-Key."""
    import uvicorn

    try:
        api_keys = ApiKeys.load(keys)
    except ValueError as exc:
        fail(f"--keys: {exc}")
    settings = settings_or_exit()
    address = broker_address(bootstrap, settings)
    try:
        ensure_subscription_topic(settings, address)
    except StoreError as exc:
        fail(str(exc), 1)
    with SubscriptionStore(settings, address) as store:
        say(f"subscriptions API on http://{host}:{port} (docs at /docs), broker {address}")
        uvicorn.run(create_api(store, api_keys), host=host, port=port, log_level="info")
