"""Dead-letter records: what failed, where, and why — with the original bytes kept."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Header names follow Kafka Connect's dead-letter queue so existing tooling reads them.
HEADER_PREFIX = "__connect.errors."
H_TOPIC = HEADER_PREFIX + "topic"
H_PARTITION = HEADER_PREFIX + "partition"
H_OFFSET = HEADER_PREFIX + "offset"
H_STAGE = HEADER_PREFIX + "stage"
H_CLASS = HEADER_PREFIX + "exception.class.name"
H_MESSAGE = HEADER_PREFIX + "exception.message"
# Ours: pydantic's ValidationError.errors() (or other structured detail) as JSON.
H_DETAILS = "adwatch.errors.details"
H_FAILED_AT = "adwatch.errors.failed_at"


class DeadLetter(BaseModel):
    """One record that a stage could not process; value on ``ads.deadletter``.

    On the topic, the record's value is the original bytes and these fields travel as
    headers; this model is how tools (and tests) read a dead-letter record back.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    key: str | None = None
    original: bytes = Field(description="the record's original value, byte for byte")
    topic: str
    partition: int
    offset: int
    stage: str
    exception_class: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def original_text(self) -> str:
        """Original value as text, with undecodable bytes shown as escapes."""
        return self.original.decode("utf-8", errors="backslashreplace")

    def original_b64(self) -> str:
        """Original value, base64-encoded, for JSON output."""
        return base64.b64encode(self.original).decode("ascii")
