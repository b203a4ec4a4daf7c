"""Sinks: where scored ads and phone entities end up, idempotent by ad key and by phone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from schemas import EnrichedAd, PhoneEntity


@runtime_checkable
class Sink(Protocol):
    """Writes batches of enriched ads and of phone entity records, idempotently.

    Re-writing an ad with the same key overwrites it. ``write`` raises
    `pipeline.errors.RetriableError` when the backend is temporarily unavailable (the caller
    backs off and retries the whole batch, which is safe because writes are idempotent) and
    `pipeline.errors.InvalidRecord` only for a record that no retry will ever store.
    """

    name: str

    def write(self, batch: Sequence[EnrichedAd]) -> None:
        """Store (insert or overwrite) every ad of ``batch``, atomically where possible."""
        ...

    def write_entities(self, batch: Sequence[PhoneEntity]) -> None:
        """Store the entity record of every phone of ``batch``, atomically where possible.

        Idempotent by phone (E.164): a record replaces the stored one for its phone, except
        that a record whose ``updated_at`` is older than the stored one's does not overwrite
        it, so replaying a topic after a restart never rolls an entity back. Raises like
        `write`: `pipeline.errors.RetriableError` when the backend is temporarily
        unavailable, `pipeline.errors.InvalidRecord` only for a record no retry will store.
        """
        ...

    def close(self) -> None:
        """Release connections; further writes are an error."""
        ...
