"""``adwatch api``: serve the subscriptions HTTP API (`pipeline.alerts.api`) with uvicorn.

Its output is log lines on stderr (`pipeline.logs`, stage ``api``): ours, uvicorn's (the
access log with ``client``, ``method``, ``path`` and ``status`` as fields) and the
subscription store's Kafka client's. The API keys are redacted like any secret.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from pipeline.alerts.api import ApiKeys, create_api
from pipeline.alerts.store import StoreError, SubscriptionStore, ensure_subscription_topic
from pipeline.cli.common import broker_address, fail, settings_or_exit
from pipeline.log_service import service_logging

log = logging.getLogger("adwatch.api")
STAGE = "api"


def register(app: typer.Typer) -> None:
    """Add ``adwatch api`` to ``app``."""
    app.command("api")(api)


class AccessFields(logging.Filter):
    """uvicorn's access lines get their parts as fields: client, method, path, status."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the fields (uvicorn logs them as the message's arguments); keep the line."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            record.__dict__.update(client=client, method=method, path=path, status=status)
        return True


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
    """Serve the subscriptions API (OpenAPI docs at /docs); callers send X-API-Key.

    It logs to stderr in `log_format` (JSON by default), errors at start included.
    """
    import uvicorn

    with service_logging(STAGE) as service:
        try:
            api_keys = ApiKeys.load(keys)
        except ValueError as exc:
            fail(f"--keys: {exc}")
        settings = settings_or_exit()
        service.configure(settings, secrets=tuple(api_keys.keys))
        address = broker_address(bootstrap, settings)
        try:
            ensure_subscription_topic(settings, address)
        except StoreError as exc:
            fail(str(exc), 1)
        logging.getLogger("uvicorn.access").addFilter(AccessFields())
        with SubscriptionStore(settings, address) as store:
            log.info(
                "subscriptions API on http://%s:%d (docs at /docs), broker %s",
                host,
                port,
                address,
                extra={"url": f"http://{host}:{port}", "broker": address},
            )
            uvicorn.run(
                create_api(store, api_keys),
                host=host,
                port=port,
                log_config=None,  # keep our handler: uvicorn's lines go through it
                log_level=settings.log_level.lower(),
            )
