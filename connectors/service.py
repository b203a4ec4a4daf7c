"""Connectors as a running service: state store + producer + runner, wired from settings.

With ``monitoring.connectors_http_port`` set, the process also serves ``/metrics`` (each
connector's polls, ads, published, problems and errors, read from the runner's counts at
scrape time) and ``/healthz`` on that port, recorded under ``DATA_DIR/run/workers``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import ConnectorContext, ConnectorError, Report
from connectors.config import ConnectorSpec, build
from connectors.producer import AdProducer
from connectors.runner import ConnectorRunner
from connectors.state import SourceState
from pipeline.metrics import ConnectorStatsCollector, new_registry
from pipeline.settings import Settings
from pipeline.worker_http import (
    EndpointServer,
    json_response,
    metrics_route,
    remove_endpoint,
    write_endpoint,
)


@contextmanager
def open_runner(
    settings: Settings,
    specs: Sequence[ConnectorSpec],
    base_dir: Path,
    bootstrap: str,
    report: Report | None = None,
) -> Iterator[ConnectorRunner]:
    """A runner with ``specs`` built and opened, publishing to ``bootstrap``.

    On exit the connectors are closed, then the producer is flushed and closed, then the
    state store: what was acknowledged is on record, what was not is sent again next time.
    Raises `ConnectorError` for a bad connector entry, `BrokerUnreachable` for no broker.
    """
    with SourceState(settings.connector_state_path) as state:
        # not fail_fast: a long-running runner re-sends a failed batch once the broker is
        # back, instead of refusing every send after the first failure
        producer = AdProducer(settings, bootstrap, client_id="adwatch-connectors", fail_fast=False)
        runner = ConnectorRunner(state, producer, report=report)
        ctx = ConnectorContext(
            state=state,
            report=runner.report,
            base_dir=base_dir,
            user_agent=settings.connectors.user_agent,
        )
        server: EndpointServer | None = None
        endpoint: Path | None = None
        try:
            server, endpoint = _serve_metrics(settings, runner)
            for spec in specs:
                runner.add(build(spec, ctx), spec.every_seconds)
            yield runner
        finally:
            if server is not None:
                server.stop()
                remove_endpoint(endpoint)
            runner.close()
            # Whatever failed on the way was re-sent or is still unmarked (sent next run):
            # a failure count here is no reason to raise on the way out.
            producer.close(raise_on_failure=False)


def _serve_metrics(
    settings: Settings, runner: ConnectorRunner
) -> tuple[EndpointServer | None, Path | None]:
    """The connectors' metrics server, when ``monitoring.connectors_http_port`` is set."""
    port = settings.monitoring.connectors_http_port
    if port is None:
        return None, None
    registry = new_registry()
    registry.register(ConnectorStatsCollector(lambda: runner.stats))

    def healthz() -> tuple[int, str, bytes]:
        stats = [
            {"name": s.name, "published": s.published, "errors": s.errors} for s in runner.stats
        ]
        return json_response(True, {"ok": True, "state": "running", "connectors": stats})

    routes = {"/metrics": metrics_route(registry), "/healthz": healthz, "/readyz": healthz}
    try:
        server = EndpointServer(settings.monitoring.http_host, port, routes).start()
    except OSError as exc:
        raise ConnectorError(
            f"cannot serve the connectors' metrics on {settings.monitoring.http_host}:{port} "
            f"({exc}); set ADWATCH_MONITORING__CONNECTORS_HTTP_PORT to a free port or unset it"
        ) from None
    started = datetime.now(UTC).isoformat(timespec="seconds")
    return server, write_endpoint(settings.data_dir, "connectors", server.url, started)
