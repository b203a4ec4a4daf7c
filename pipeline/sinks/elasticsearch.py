"""Elasticsearch sink: the production index behind the `Sink` protocol.

A batch is written in three steps, the actions coming from `pipeline.sinks.es_docs`::

    1. look up      an ``ids`` search over the read alias: where each id is stored now,
                    in every backing index (write aliases roll over); entity records
                    older than a stored copy are left out
    2. write        streaming_bulk: index into the write alias (ads: into their family,
                    with a delete from the other family's write alias)
    3. clean up     streaming_bulk: delete the copies found in 1 outside the index that
                    2 wrote to (an ad that changed family, or was re-written after rollover)

What happens to each outcome of a bulk request::

    whole request 429/502/503/504   retried by streaming_bulk with backoff, up to max_retries;
    item 429/502/503/504            then RetriableError (the app backs off and re-sends the
                                    whole batch: back-pressure, nothing buffered)
    other 5xx, connection refused,  RetriableError at once (for the look-up search: any 429
    timeout                         or 5xx too)
    item 400 (mapping, parsing)     Rejected(key, reason, details): dead-lettered, never retried
    item 404 on a delete            success: there was no copy there
    item 409 on an entity           success: a newer record is stored (external_gte version)
    anything else                   ElasticsearchSinkError: the worker exits without acking

HTTP statuses are retried by streaming_bulk only: the client is built with the transport's
own status retries off (they would re-send at once, without backoff), keeping its retries
on connection errors, which try the next node. Every step is idempotent, so re-sending a
batch after any failure converges to the same documents.

The look-up is a search, near-real-time: a copy written less than a refresh interval ago
is not seen. The delete through the other family's write alias covers the common case of
that (an ad re-scored right after it was written); a copy left behind needs a rollover to
happen within that second as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout
from elasticsearch.helpers import streaming_bulk

from pipeline.errors import RetriableError
from pipeline.es_client import make_client
from pipeline.settings import Settings
from pipeline.sinks import Rejected
from pipeline.sinks.es_docs import (
    Copy,
    IndexNames,
    ad_actions,
    copies_from_hits,
    entity_actions,
    index_names,
    stale_copy_actions,
)
from schemas import EnrichedAd, PhoneEntity

log = logging.getLogger("adwatch.sinks.elasticsearch")
_FIELDS = {"stage": "index", "sink": "elasticsearch"}  # on every line: writes run in a thread

RETRY_STATUSES = (429, 502, 503, 504)
"""Statuses streaming_bulk retries with backoff, for a whole request or one item."""
DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 30.0
DEFAULT_CHUNK_ACTIONS = 1000  # two actions per ad: a default sink batch is one request
DEFAULT_CHUNK_BYTES = 10 * 1024 * 1024
LOOKUP_IDS = 1000  # ids per look-up search
LOOKUP_SIZE = 10_000  # hits per look-up search (index.max_result_window's default)


class ElasticsearchSinkError(RuntimeError):
    """Elasticsearch refused a write in a way no retry fixes and no dead-letter explains.

    Authentication or permission errors, a missing write alias: the operator must act.
    """


class ElasticsearchSink:
    """Idempotent Elasticsearch sink: ads by ad key in two families, entities by phone.

    Not thread-safe: the app calls it from one thread. ``initial_backoff`` and
    ``max_backoff`` (seconds) shape streaming_bulk's waits between retries of one chunk:
    ``initial_backoff * 2**n``, at most ``max_backoff``; they block the calling thread.
    """

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        names: IndexNames,
        *,
        max_retries: int = 5,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        chunk_size: int = DEFAULT_CHUNK_ACTIONS,
        max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self._client: Elasticsearch | None = client
        self.names = names
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._chunk_size = chunk_size
        self._max_chunk_bytes = max_chunk_bytes

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
    ) -> ElasticsearchSink:
        """The sink of ``settings.index`` (URL, credentials, TLS, timeout, retries, prefix)."""
        index = settings.index
        return cls(
            make_client(index),
            index_names(index.index_prefix),
            max_retries=index.elasticsearch_max_retries,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )

    @property
    def client(self) -> Elasticsearch:
        """The client; `RuntimeError` once the sink is closed."""
        if self._client is None:
            raise RuntimeError("ElasticsearchSink is closed")
        return self._client

    def write(self, batch: Sequence[EnrichedAd]) -> list[Rejected]:
        """Index every ad of ``batch`` into its family; remove its copies anywhere else.

        Returns the ads refused with a 400 (mapping or parse errors): their copies found by
        the look-up stay, but the delete from the other family's write alias, sent in the
        same request, has happened. Raises `RetriableError` when the cluster is unreachable
        or still overloaded after the retries, `ElasticsearchSinkError` on any other refusal.
        """
        if not batch:
            return []
        copies = self._locate(self.names.ads, list(dict.fromkeys(ad.key for ad in batch)))
        failures, written = self._bulk(ad_actions(batch, self.names))
        rejected = _outcome(failures, skipped=_is_missing_delete, what="ads")
        self._delete_stale(copies, written, what="ads")
        log.debug(
            "wrote %d ads, %d rejected",
            len(written),
            len(rejected),
            extra={**_FIELDS, "kind": "ads", "written": len(written), "rejected": len(rejected)},
        )
        return rejected

    def write_entities(self, batch: Sequence[PhoneEntity]) -> list[Rejected]:
        """Index the newest record of each phone of ``batch``, unless a newer one is stored.

        A record older than the stored one is skipped: left out when the look-up finds the
        newer copy, else answered 409 by Elasticsearch. Returns and raises like `write`.
        """
        if not batch:
            return []
        phones = list(dict.fromkeys(e.phone for e in batch))
        copies = self._locate(self.names.phones, phones, versions=True)
        stored = {p: max(c.version or 0 for c in cs) for p, cs in copies.items()}
        actions = entity_actions(batch, self.names, stored_versions=stored)
        failures, written = self._bulk(actions) if actions else ([], {})
        rejected = _outcome(failures, skipped=_is_version_conflict, what="entities")
        self._delete_stale(copies, written, what="entities")
        log.debug(
            "wrote %d phone entities, %d rejected",
            len(written),
            len(rejected),
            extra={
                **_FIELDS,
                "kind": "entities",
                "written": len(written),
                "rejected": len(rejected),
            },
        )
        return rejected

    def _locate(
        self, alias: str, ids: list[str], *, versions: bool = False
    ) -> dict[str, list[Copy]]:
        """Where each of ``ids`` is stored, over every index of the read alias ``alias``."""
        copies: dict[str, list[Copy]] = {}
        for start in range(0, len(ids), LOOKUP_IDS):
            found = self._search_ids(alias, ids[start : start + LOOKUP_IDS], versions)
            for doc_id, where in found.items():
                copies.setdefault(doc_id, []).extend(where)
        return copies

    def _search_ids(self, alias: str, ids: list[str], versions: bool) -> dict[str, list[Copy]]:
        with _errors("look-up", self._max_retries):
            response = self.client.search(
                index=alias,
                query={"ids": {"values": ids}},
                size=LOOKUP_SIZE,
                source=False,
                version=versions,
                track_total_hits=True,
            )
        hits = response["hits"]["hits"]
        if response["hits"]["total"]["value"] > len(hits) and len(ids) > 1:
            half = len(ids) // 2  # more copies than one page holds: ask for fewer ids
            found = self._search_ids(alias, ids[:half], versions)
            found.update(self._search_ids(alias, ids[half:], versions))
            return found
        return copies_from_hits(hits)

    def _delete_stale(
        self, copies: dict[str, list[Copy]], written: dict[str, str], *, what: str
    ) -> None:
        actions = stale_copy_actions(copies, written)
        if not actions:
            return
        failures, _ = self._bulk(actions)
        left = _outcome(failures, skipped=_is_missing_delete, what=f"stale {what}")
        if left:  # a 400 on a delete: nothing is lost, but say so
            log.warning(
                "could not delete stale copies of %s: %s",
                what,
                left,
                extra={**_FIELDS, "kind": what, "record_keys": [r.key for r in left]},
            )
        log.info(
            "deleted %d stale copies of %s",
            len(actions),
            what,
            extra={**_FIELDS, "kind": what, "deleted": len(actions)},
        )

    def _bulk(
        self, actions: Iterable[dict[str, Any]]
    ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
        """Run streaming_bulk: the failed items as (operation, item info), and where it wrote.

        ``written`` maps each successfully indexed id to the concrete index it went to.
        """
        failures: list[tuple[str, dict[str, Any]]] = []
        written: dict[str, str] = {}
        with _errors("bulk request", self._max_retries):
            for ok, item in streaming_bulk(
                self.client,
                actions,
                chunk_size=self._chunk_size,
                max_chunk_bytes=self._max_chunk_bytes,
                raise_on_error=False,  # item failures come back as (False, item)
                raise_on_exception=True,  # whole-request errors raise once retries are spent
                max_retries=self._max_retries,
                initial_backoff=self._initial_backoff,
                max_backoff=self._max_backoff,
                retry_on_status=RETRY_STATUSES,
                # an index action on a missing alias fails instead of creating an index
                require_alias=True,
            ):
                ((op, info),) = item.items()
                if not ok:
                    failures.append((op, info))
                elif op == "index":
                    written[str(info["_id"])] = str(info["_index"])
        return failures, written

    def close(self) -> None:
        """Close the client's connections; later writes raise `RuntimeError`. Idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ElasticsearchSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def _errors(what: str, retries: int) -> Iterator[None]:
    """Map the client's exceptions to the sink's (module docstring)."""
    try:
        yield
    except ApiError as exc:
        if _retriable(exc.status_code):
            raise RetriableError(
                f"elasticsearch answered {exc.status_code} to a {what} "
                f"(bulk requests: after {retries} retries): {exc.message}"
            ) from exc
        hint = " (are the index templates and aliases installed?)" if exc.status_code == 404 else ""
        raise ElasticsearchSinkError(
            f"elasticsearch refused a {what} ({exc.status_code}): {exc.message}{hint}"
        ) from exc
    except (EsConnectionError, EsConnectionTimeout) as exc:
        raise RetriableError(f"elasticsearch is unreachable: {exc}") from exc


def _retriable(status: object) -> bool:
    """429 and 5xx: the cluster is busy or partly unavailable; other statuses will not pass."""
    return isinstance(status, int) and (status in RETRY_STATUSES or status >= 500)


def _is_missing_delete(op: str, info: dict[str, Any]) -> bool:
    return op == "delete" and info.get("status") == 404


def _is_version_conflict(op: str, info: dict[str, Any]) -> bool:
    return op == "index" and info.get("status") == 409


def _describe(op: str, info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"{op} {info.get('_index')}/{info.get('_id')} → {info.get('status')} {error}"


def _outcome(
    failures: list[tuple[str, dict[str, Any]]],
    *,
    skipped: Callable[[str, dict[str, Any]], bool],
    what: str,
) -> list[Rejected]:
    """Sort failed items into success, Rejected, retriable and fatal (module docstring)."""
    reasons: dict[str, str] = {}
    details: dict[str, list[dict[str, Any]]] = {}
    retriable: list[str] = []
    fatal: list[str] = []
    missing_index = False
    for op, info in failures:
        status = info.get("status")
        if skipped(op, info):
            continue
        if status == 400:
            key = str(info.get("_id"))
            reasons.setdefault(key, f"elasticsearch refused {_describe(op, info)}")
            detail = {"action": op, "index": info.get("_index"), "status": status}
            details.setdefault(key, []).append({**detail, "error": info.get("error")})
        elif _retriable(status):
            retriable.append(_describe(op, info))
        else:
            fatal.append(_describe(op, info))
            missing_index = missing_index or status == 404
    if fatal:
        hint = " (are the index templates and aliases installed?)" if missing_index else ""
        raise ElasticsearchSinkError(
            f"elasticsearch refused {len(fatal)} {what} action(s), e.g. {fatal[0]}{hint}"
        )
    if retriable:
        raise RetriableError(
            f"{len(retriable)} {what} action(s) not stored after retries, e.g. {retriable[0]}"
        )
    if reasons:
        log.warning(
            "elasticsearch rejected %d %s: %s",
            len(reasons),
            what,
            list(reasons),
            extra={**_FIELDS, "kind": what, "record_keys": list(reasons)},
        )
    return [Rejected(key, reason, details[key]) for key, reason in reasons.items()]
