"""What the commands that read the index share: opening it, and phones typed by people."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.cli.common import fail
from pipeline.phones import PhoneNumberError, normalize_phone
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SchemaVersionError, SQLiteIndex


@contextmanager
def open_index(settings: Settings, command: str) -> Iterator[SQLiteIndex]:
    """The configured index, read-only use; exits with a clear message when it cannot be read.

    ``command`` names the command in the message for a backend it cannot read yet.
    """
    if settings.index.backend == "elasticsearch":
        fail(
            f"the Elasticsearch backend is not available yet for `adwatch {command}`; "
            "set ADWATCH_INDEX__BACKEND=sqlite",
            code=1,
        )
    path = settings.index_path
    try:
        with SQLiteIndex.open(path, create=False) as index:
            yield index
    except FileNotFoundError:
        fail(f"no index at {path} yet; run `adwatch up` or `adwatch ingest` first", code=1)
    except (SchemaVersionError, sqlite3.DatabaseError) as exc:
        fail(f"cannot read index at {path}: {exc}", code=1)


def normalized_phone(raw: str, settings: Settings) -> str:
    """E.164 of a phone given on the command line; exits naming ``--phone`` when invalid."""
    try:
        return normalize_phone(raw, settings.pipeline.default_region)
    except PhoneNumberError as exc:
        fail(f"--phone: {exc}")
