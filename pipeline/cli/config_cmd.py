"""``adwatch config``: print the effective settings, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pipeline.cli.common import err_console, settings_or_exit
from pipeline.settings import CONFIG_ENV, config_file_path


def register(app: typer.Typer) -> None:
    """Add the ``config`` command to ``app``."""
    app.command("config")(config)


def config(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the settings as one JSON object")
    ] = False,
) -> None:
    """Print the effective settings (defaults, adwatch.toml, ADWATCH_* env), secrets masked.

    The output is TOML in the layout of adwatch.toml; settings without a value are shown as
    comments. With --json, stdout carries only the settings and the config-file line goes
    to stderr.
    """
    settings = settings_or_exit()
    data = settings.masked()
    path = config_file_path()
    source = (
        f"config file: {path}"
        if path
        else f"config file: none (no ${CONFIG_ENV}, no ./adwatch.toml)"
    )
    if as_json:
        err_console.print(source, highlight=False, markup=False, soft_wrap=True)
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    typer.echo(f"# {source}")
    typer.echo(f"# index file: {settings.index_path}")
    typer.echo(to_toml(data))


def to_toml(data: dict[str, Any]) -> str:
    """Render nested settings as TOML: scalars first, then one ``[table]`` per sub-model.

    ``None`` has no TOML spelling, so unset settings appear as ``# name = (unset)``.
    """
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(_line(key, value))
    for name, table in tables:
        lines.extend(["", f"[{name}]"])
        lines.extend(_line(key, value) for key, value in table.items())
    return "\n".join(lines)


def _line(key: str, value: Any) -> str:
    if value is None:
        return f"# {key} = (unset)"
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"{key} = {value}"
    if isinstance(value, list):
        return f"{key} = [{', '.join(json.dumps(str(v)) for v in value)}]"
    # JSON string escapes are valid TOML basic-string escapes.
    return f"{key} = {json.dumps(str(value), ensure_ascii=False)}"
