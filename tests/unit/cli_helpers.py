"""Shared by the CLI tests: a Typer app holding one command module, and a checked run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer
from typer.testing import CliRunner, Result


def cli_app(
    register: Callable[[typer.Typer], None], monkeypatch: pytest.MonkeyPatch
) -> typer.Typer:
    """An app with the commands ``register`` adds (wide terminal, no pretty tracebacks)."""
    monkeypatch.setenv("COLUMNS", "200")
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)

    @app.command("noop")  # a second command keeps a lone command a named subcommand
    def noop() -> None: ...

    return app


def invoke(app: typer.Typer, args: list[str], input: str | bytes | None = None) -> Result:
    """Run ``args``; a user mistake may exit non-zero but must never raise or trace back."""
    result = CliRunner().invoke(app, args, input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result
