"""Sinks: where scored ads and phone entities end up, idempotent by ad key and by phone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from schemas import EnrichedAd, PhoneEntity


class Rejected(NamedTuple):
    """A record the backend refused for good (a mapping conflict, say): dead-letter it."""

    key: str  # the ad key, or the phone (E.164) of an entity record
    reason: str
    details: list[dict[str, Any]] = []


@runtime_checkable
class Sink(Protocol):
    """Writes batches of enriched ads and of phone entity records, idempotently.

    Re-writing an ad with the same key overwrites it. ``write`` raises
    `pipeline.errors.RetriableError` when the backend is temporarily unavailable (the caller
    backs off and retries the whole batch, which is safe because writes are idempotent), and
    returns the records no retry will ever store (`Rejected`), which the caller
    dead-letters; everything else of the batch is stored when it returns.
    """

    name: str

    def write(self, batch: Sequence[EnrichedAd]) -> list[Rejected]:
        """Store (insert or overwrite) every ad of ``batch``; return the ones refused."""
        ...

    def write_entities(self, batch: Sequence[PhoneEntity]) -> list[Rejected]:
        """Store the entity record of every phone of ``batch``; return the ones refused.

        Idempotent by phone (E.164): a record replaces the stored one for its phone, except
        that a record whose ``updated_at`` is older than the stored one's does not overwrite
        it, so replaying a topic after a restart never rolls an entity back. Raises and
        returns like `write`.
        """
        ...

    def close(self) -> None:
        """Release connections; further writes are an error."""
        ...
