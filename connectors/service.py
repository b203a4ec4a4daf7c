"""Connectors as a running service: state store + producer + runner, wired from settings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from connectors.base import ConnectorContext, Report
from connectors.config import ConnectorSpec, build
from connectors.producer import AdProducer
from connectors.runner import ConnectorRunner
from connectors.state import SourceState
from pipeline.settings import Settings


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
        try:
            for spec in specs:
                runner.add(build(spec, ctx), spec.every_seconds)
            yield runner
        finally:
            runner.close()
            # Whatever failed on the way was re-sent or is still unmarked (sent next run):
            # a failure count here is no reason to raise on the way out.
            producer.close(raise_on_failure=False)
