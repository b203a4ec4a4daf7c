"""Helpers shared by CLI commands: settings loading and user-facing errors."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.settings import Settings, SettingsError, load_settings

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
