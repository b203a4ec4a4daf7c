"""Sinks: where scored ads end up. Every sink is idempotent by ad key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from schemas import EnrichedAd


@runtime_checkable
class Sink(Protocol):
    """Writes batches of enriched ads; re-writing an ad with the same key overwrites it.

    ``write`` raises `pipeline.errors.RetriableError` when the backend is temporarily
    unavailable (the caller backs off and retries the whole batch, which is safe because
    writes are idempotent) and `pipeline.errors.InvalidRecord` only for a record that no
    retry will ever store.
    """

    name: str

    def write(self, batch: Sequence[EnrichedAd]) -> None:
        """Store (insert or overwrite) every ad of ``batch``, atomically where possible."""
        ...

    def close(self) -> None:
        """Release connections; further writes are an error."""
        ...
