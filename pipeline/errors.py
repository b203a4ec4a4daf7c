"""Errors with fixed meanings across stages.

    Exception
     ├── InvalidRecord    the record can never be processed: dead-letter it, no retry
     └── RetriableError   a dependency is briefly unavailable: back off and retry
Anything else is a bug or an outage we do not understand: crash loudly.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class InvalidRecord(Exception):
    """A record that no retry will fix; it goes to the dead-letter topic."""

    def __init__(
        self, message: str, details: list[dict[str, Any]] | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.details = details or []
        self.kind = kind or "invalid record"  # short and countable, for summaries

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidRecord:
        """The record pydantic refused, with its errors (no input values) as details."""
        details = exc.errors(include_url=False, include_input=False)
        return cls(str(exc), [dict(d) for d in details])


class RetriableError(Exception):
    """A temporary failure (broker, index, network); retry with backoff."""
