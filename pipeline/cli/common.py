"""Helpers shared by CLI commands: settings loading and user-facing errors."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from pipeline.runfile import running_broker
from pipeline.settings import KafkaSettings, Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)


def say(line: str) -> None:
    """Print ``line`` to stdout as plain text (no markup, no highlighting, no wrapping)."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def warn(line: str) -> None:
    """Print ``line`` to stderr as plain text."""
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a user-facing error (no traceback) and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """Load settings, or exit with the readable validation message."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def broker_address(bootstrap: str | None, settings: Settings) -> str:
    """The broker to use: ``--bootstrap``, else the configured one, else a running `up`."""
    if bootstrap is None:
        if settings.kafka.bootstrap is not None:
            return settings.kafka.bootstrap
        running = running_broker(settings)
        if running is None:
            fail(
                f"no broker address: start the embedded stack with `adwatch up` (from the "
                f"same directory, data dir {settings.data_dir}), pass --bootstrap HOST:PORT, "
                "or set ADWATCH_KAFKA__BOOTSTRAP"
            )
        return running
    try:
        checked = KafkaSettings(bootstrap=bootstrap).bootstrap
    except ValidationError as exc:
        fail(f"--bootstrap {bootstrap!r}: {exc.errors()[0]['msg']}")
    if checked is None:
        fail("--bootstrap is empty")
    return checked
