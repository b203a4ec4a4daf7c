"""``adwatch connectors list|run|test``: the configured sources, run them, try a site config."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from connectors.base import ConnectorError
from connectors.config import ConnectorSpec, load_connectors
from connectors.producer import BrokerUnreachable
from connectors.runner import ConnectorStats
from connectors.service import open_runner
from connectors.state import SourceState
from pipeline.cli.common import broker_address, console, fail, say, settings_or_exit
from pipeline.log_service import service_logging
from pipeline.settings import Settings

log = logging.getLogger("adwatch.connectors")
STAGE = "connector"  # of every log line of `connectors run`; the runner adds ``source``

connectors_app = typer.Typer(
    help="The sources that publish ads: list them, run them, test a site config.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="connectors YAML file (default: connectors.config setting, else the demo source)",
        show_default=False,
    ),
]


def _specs(settings: Settings, config: Path | None) -> tuple[list[ConnectorSpec], Path]:
    try:
        file, base_dir = load_connectors(config or settings.connectors.config)
    except ConnectorError as exc:
        fail(str(exc))
    return file.connectors, base_dir


def _pick(specs: list[ConnectorSpec], names: list[str]) -> list[ConnectorSpec]:
    known = {s.name: s for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        fail(f"no connector named {', '.join(map(repr, unknown))}; configured: {', '.join(known)}")
    return [known[n] for n in names] if names else [s for s in specs if s.enabled]


@connectors_app.command("list")
def list_connectors(config: ConfigOpt = None) -> None:
    """The configured connectors, their schedules and how many ads each has published."""
    settings = settings_or_exit()
    specs, _ = _specs(settings, config)
    published: dict[str, int] = {}
    if settings.connector_state_path.exists():
        with SourceState(settings.connector_state_path) as state:
            published = {s.name: state.published_count(s.name) for s in specs}
    table = Table("name", "type", "every", "enabled", "published", "options")
    for spec in specs:
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items()) or "defaults"
        table.add_row(
            spec.name,
            spec.type,
            f"{spec.every_seconds:g} s",
            "yes" if spec.enabled else "no",
            f"{published.get(spec.name, 0):,}",
            options,
        )
    console.print(table)
    say(f"config: {config or settings.connectors.config or 'built-in demo source'}")
    say(f"state: {settings.connector_state_path}")


@connectors_app.command("run")
def run(
    names: Annotated[
        list[str] | None, typer.Argument(help="connectors to run (default: every enabled one)")
    ] = None,
    config: ConfigOpt = None,
    until_done: Annotated[
        bool, typer.Option("--until-done", help="stop when every finite source is exhausted")
    ] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(help="broker host:port (default: configured, else a running `adwatch up`)"),
    ] = None,
) -> None:
    """Run connectors, publishing new or changed ads to ads.raw, until Ctrl-C or SIGTERM.

    Its output is log lines on stderr (`log_format`: JSON by default), problems included (a
    page missing a field, an HTTP error, a bad line), and at the end a summary on stdout. A
    restart publishes only ads that are new or changed since the last run.
    """
    with service_logging(STAGE) as service:
        settings = settings_or_exit()  # its error, like every later one, is a log line
        service.configure(settings)
        specs, base_dir = _specs(settings, config)
        chosen = _pick(specs, names or [])
        if not chosen:
            fail("no enabled connector to run")
        address = broker_address(bootstrap, settings)
        stop = threading.Event()
        log.info(
            "running %s; publishing to %s",
            ", ".join(spec.name for spec in chosen),
            address,
            extra={"connectors": [spec.name for spec in chosen], "broker": address},
        )
        try:
            with open_runner(settings, chosen, base_dir, address) as runner, _stop_on_sigterm(stop):
                try:
                    runner.run(stop, until_exhausted=until_done)
                except KeyboardInterrupt:
                    stop.set()
                _summary(runner.stats)
        except BrokerUnreachable as exc:
            fail(f"{exc}; is `adwatch up` running? It prints its broker address.", 1)
        except ConnectorError as exc:
            fail(str(exc))


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (``docker stop``, Kubernetes) stops the run as Ctrl-C does: flushed, closed."""

    def handle(signum: int, frame: object) -> None:
        stop.set()  # nothing else: logging from a signal handler could interleave lines

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary(stats: list[ConnectorStats]) -> None:
    for s in stats:
        say(
            f"{s.name}: polled {s.polls:,}, returned {s.returned:,}, published {s.published:,}, "
            f"unchanged {s.unchanged:,}, problems {s.problems:,}, errors {s.errors:,}"
            + (" (done)" if s.exhausted else "")
        )
        log.info(
            "stopped: polled %d, published %d, problems %d, errors %d",
            s.polls,
            s.published,
            s.problems,
            s.errors,
            extra={
                "source": s.name,
                "polls": s.polls,
                "returned": s.returned,
                "published": s.published,
                "unchanged": s.unchanged,
                "problems": s.problems,
                "errors": s.errors,
                "exhausted": s.exhausted,
            },
        )


@connectors_app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="a connector of type 'site'")],
    url: Annotated[str, typer.Option("--url", help="the page to fetch and parse")],
    config: ConfigOpt = None,
) -> None:
    """Fetch one page and show what the site config extracts from it (for config authors).

    Nothing is published. robots.txt, the User-Agent and the rate limit apply as in a run.
    """
    settings = settings_or_exit()
    specs, base_dir = _specs(settings, config)
    (spec,) = _pick(specs, [name])
    if spec.type != "site":
        fail(f"connector {name!r} is of type {spec.type!r}; test works for 'site' connectors")
    from connectors.site import test_connector_page  # a site's dependencies, only when used

    try:
        result: dict[str, Any] = test_connector_page(
            spec.options, base_dir, url, user_agent=settings.connectors.user_agent
        )
    except ConnectorError as exc:
        fail(str(exc))
    table = Table("field", "extracted")
    for field, value in result.items():
        table.add_row(field, "" if value is None else str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``adwatch connectors …`` to ``app``."""
    app.add_typer(connectors_app, name="connectors")
