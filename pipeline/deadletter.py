"""Build and read dead-letter records (Kafka Connect–style error headers)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas import DeadLetter
from schemas.deadletter import (
    H_CLASS,
    H_DETAILS,
    H_FAILED_AT,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_STAGE,
    H_TOPIC,
)
from schemas.types import as_utc

Headers = list[tuple[str, bytes]]
MAX_MESSAGE_CHARS = 2_000


def error_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    stage: str,
    exc: BaseException,
    details: Sequence[dict[str, Any]] = (),
    failed_at: datetime | None = None,
) -> Headers:
    """Headers for a dead-letter record about ``exc`` raised on one source record.

    For records that never reached a topic (a bad line in an ingested file), ``topic`` is
    ``file:PATH`` and ``offset`` the 1-based line number, with partition ``-1``.
    """
    message = str(exc)[:MAX_MESSAGE_CHARS]
    when = failed_at or datetime.now(UTC)
    return [
        (H_TOPIC, topic.encode()),
        (H_PARTITION, str(partition).encode()),
        (H_OFFSET, str(offset).encode()),
        (H_STAGE, stage.encode()),
        (H_CLASS, f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
        (H_MESSAGE, message.encode("utf-8", errors="replace")),
        (H_DETAILS, json.dumps(list(details), default=str).encode()),
        (H_FAILED_AT, when.isoformat().encode()),
    ]


def read_deadletter(
    value: bytes | None, headers: Iterable[tuple[str, bytes]], key: bytes | None = None
) -> DeadLetter:
    """Rebuild a `DeadLetter` from a record of the dead-letter topic."""
    h = {name: raw.decode("utf-8", errors="replace") for name, raw in headers}
    details: list[dict[str, Any]] = []
    try:
        parsed = json.loads(h.get(H_DETAILS, "[]"))
        if isinstance(parsed, list):
            details = [d for d in parsed if isinstance(d, dict)]
    except json.JSONDecodeError:
        pass
    return DeadLetter(
        key=key.decode("utf-8", errors="replace") if key is not None else None,
        original=value or b"",
        topic=h.get(H_TOPIC, ""),
        partition=_int(h.get(H_PARTITION)),
        offset=_int(h.get(H_OFFSET)),
        stage=h.get(H_STAGE, ""),
        exception_class=h.get(H_CLASS, ""),
        message=h.get(H_MESSAGE, ""),
        details=details,
        failed_at=_time(h.get(H_FAILED_AT)),
    )


# A garbled header must not break a dead-letter listing: fall back to "unknown".
def _int(text: str | None) -> int:
    try:
        return int(text) if text else -1
    except ValueError:
        return -1


def _time(text: str | None) -> datetime:
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        when = None
    if when is None:
        return datetime.now(UTC)
    return as_utc(when)
