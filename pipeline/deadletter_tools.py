"""Pure logic of ``adwatch deadletter``: ids, filters, summaries and replay plans.

A dead letter's id is where it sits in the dead-letter topic, ``PARTITION:OFFSET``:
stable for as long as the topic keeps the record, and short enough to copy from a table.

    dead-letter record ──> Entry ──[Filters]──> list / show / summary
                                        └──[plan_replay]──> Planned: target topic and key,
                                                            or why it is skipped
"""

from __future__ import annotations

import base64
import fnmatch
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pipeline import topics
from pipeline.deadletter import read_deadletter
from pipeline.enrich import parse_raw
from pipeline.errors import InvalidRecord
from pipeline.validate import summarize as summarize_errors
from schemas import DeadLetter, EnrichedAd, PhoneEntity

REPLAY_HEADER = "adwatch.replay-of"
# Stages whose records are input that never became a valid ad: they go back to ads.raw.
RAW_STAGES = frozenset({"ingest", "validate", "enrich"})
FILE_PREFIX = "file:"
CONNECTOR_STAGE = "connector"  # connectors dead-letter as "connector:SOURCE"
SKIP_INVALID = "still invalid"
SKIP_NO_TARGET = "no target topic"
MAX_LOCS = 3
_MESSAGE_KINDS = ("not UTF-8", "not acceptable JSON", "not JSON", "not a JSON object")


@dataclass(frozen=True)
class Entry:
    """One record of the dead-letter topic: where it sits there, its key and what it says."""

    partition: int
    offset: int
    key: bytes | None
    letter: DeadLetter
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def id(self) -> str:
        """``PARTITION:OFFSET`` in the dead-letter topic, as people copy it."""
        return format_id(self.partition, self.offset)


def entry_from_record(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
) -> Entry:
    """An `Entry` from the parts of one consumed dead-letter record."""
    kept = tuple((name, raw or b"") for name, raw in headers)
    return Entry(partition, offset, key, read_deadletter(value, kept, key), kept)


def format_id(partition: int, offset: int) -> str:
    """The id of the record at ``offset`` of ``partition`` of the dead-letter topic."""
    return f"{partition}:{offset}"


def parse_id(text: str) -> tuple[int, int]:
    """``"2:41"`` → ``(2, 41)``; `ValueError` with a readable message otherwise."""
    part, sep, off = text.strip().partition(":")
    if sep and part.isdigit() and off.isdigit():
        return int(part), int(off)
    raise ValueError(
        f"{text!r} is not a dead-letter id: use PARTITION:OFFSET as "
        "`adwatch deadletter list` shows it, e.g. 0:17"
    )


@dataclass(frozen=True)
class Filters:
    """What to select; every criterion given must hold (several values: any of them)."""

    stages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    reason: str | None = None
    since: datetime | None = None
    ids: tuple[tuple[int, int], ...] = ()

    def is_empty(self) -> bool:
        """True when nothing narrows the selection: it would take every dead letter."""
        return not (self.stages or self.topics or self.reason or self.since or self.ids)

    def matches(self, entry: Entry, prefix: str) -> bool:
        """Whether ``entry`` passes; ``prefix`` lets ``--topic ads.raw`` name a full topic."""
        dl = entry.letter
        if self.ids and (entry.partition, entry.offset) not in self.ids:
            return False
        if self.stages and not any(stage_matches(dl.stage, s) for s in self.stages):
            return False
        if self.topics and not any(topic_matches(dl.topic, t, prefix) for t in self.topics):
            return False
        if self.reason:
            wanted = self.reason.casefold()
            haystack = f"{dl.message}\n{dl.exception_class}\n{reason_kind(dl)}".casefold()
            if wanted not in haystack:
                return False
        return self.since is None or dl.failed_at >= self.since


def stage_matches(stage: str, wanted: str) -> bool:
    """Exact stage, or ``connector`` for every ``connector:SOURCE``."""
    return stage == wanted or stage.partition(":")[0] == wanted


def topic_matches(topic: str, wanted: str, prefix: str) -> bool:
    """``wanted`` as a full or logical topic name, glob allowed (``file:*``)."""
    return fnmatch.fnmatchcase(topic, wanted) or fnmatch.fnmatchcase(topic, prefix + wanted)


def select(
    entries: Iterable[Entry], filters: Filters, prefix: str, limit: int | None = None
) -> list[Entry]:
    """Matching entries, oldest failure first; with ``limit``, only the most recent ones."""
    found = sorted(
        (e for e in entries if filters.matches(e, prefix)),
        key=lambda e: (e.letter.failed_at, e.partition, e.offset),
    )
    return found[-limit:] if limit is not None and limit < len(found) else found


def missing_ids(entries: Iterable[Entry], ids: Sequence[tuple[int, int]]) -> list[str]:
    """The ids in ``ids`` that no entry has."""
    have = {(e.partition, e.offset) for e in entries}
    return [format_id(p, o) for p, o in ids if (p, o) not in have]


def reason_kind(dl: DeadLetter) -> str:
    """A short, countable class of the failure, e.g. ``not JSON`` or ``invalid record: price``."""
    locs = sorted({_loc(d["loc"]) for d in dl.details if isinstance(d.get("loc"), list | tuple)})
    if locs:
        more = ", …" if len(locs) > MAX_LOCS else ""
        return f"invalid record: {', '.join(locs[:MAX_LOCS])}{more}"
    refused = sorted({_es_type(d) for d in dl.details if _es_type(d)})
    if refused:
        return f"refused: {', '.join(refused)}"
    message = _without_line(dl.message)
    for kind in _MESSAGE_KINDS:
        if message.startswith(kind):
            return "not JSON" if kind == "not acceptable JSON" else kind
    return short_class(dl.exception_class) or "unknown"


def short_class(qualified: str) -> str:
    """``pipeline.errors.InvalidRecord`` → ``InvalidRecord``."""
    return qualified.rsplit(".", 1)[-1]


def origin(dl: DeadLetter) -> str:
    """Where the record was: ``topic[partition]@offset``, or a file and its line."""
    if dl.topic.startswith(FILE_PREFIX):
        return f"{dl.topic} line {dl.offset}"
    if dl.partition < 0:
        return dl.topic or "?"
    return f"{dl.topic}[{dl.partition}]@{dl.offset}"


def one_line(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def when(moment: datetime) -> str:
    """A failure time as people read it, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def original_for_json(original: bytes) -> tuple[str, str]:
    """``(text, "utf-8")`` when the bytes are UTF-8, else ``(base64, "base64")``."""
    try:
        return original.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(original).decode("ascii"), "base64"


def pretty_original(original: bytes) -> tuple[str, str]:
    """``(label, text)`` for showing the original value: indented JSON, text or base64."""
    text, encoding = original_for_json(original)
    size = f"{len(original)} byte{'s' if len(original) != 1 else ''}"
    if encoding == "base64":
        return f"not UTF-8, {size}, base64", text
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return f"text, {size}", text
    return f"JSON, {size}", json.dumps(parsed, indent=2, ensure_ascii=False)


def entry_json(entry: Entry, prefix: str) -> dict[str, Any]:
    """One line of ``list --json``: the dead letter, its id and where it would be replayed."""
    dl = entry.letter
    text, encoding = original_for_json(dl.original)
    target, _ = replay_target(dl, prefix)
    return {
        "id": entry.id,
        "key": dl.key,
        "topic": dl.topic,
        "partition": dl.partition,
        "offset": dl.offset,
        "stage": dl.stage,
        "exception_class": dl.exception_class,
        "message": dl.message,
        "reason_kind": reason_kind(dl),
        "details": dl.details,
        "failed_at": dl.failed_at.isoformat(),
        "replay_topic": prefix + target if target else None,
        "original": text,
        "original_encoding": encoding,
    }


@dataclass(frozen=True)
class Summary:
    """Counts of selected dead letters by stage and by reason kind, largest first."""

    total: int
    by_stage: tuple[tuple[str, int], ...]
    by_kind: tuple[tuple[str, int], ...]


def summarize(entries: Sequence[Entry]) -> Summary:
    """Count ``entries`` by stage and reason kind."""
    stages = Counter(e.letter.stage or "?" for e in entries)
    kinds = Counter(reason_kind(e.letter) for e in entries)
    return Summary(len(entries), _ranked(stages), _ranked(kinds))


def summary_line(summary: Summary, shown: int, top: int = 6) -> str:
    """``12 dead letters · by stage: validate 8, ingest 4 · by reason: not JSON 5, …``."""
    noun = "dead letter" if summary.total == 1 else "dead letters"
    parts = [f"{summary.total} {noun}"]
    if summary.total:
        parts.append("by stage: " + _counts(summary.by_stage, top))
        parts.append("by reason: " + _counts(summary.by_kind, top))
    if shown < summary.total:
        parts.append(f"showing the {shown} most recent")
    return " · ".join(parts)


@dataclass(frozen=True)
class Planned:
    """One selected dead letter in a replay: where it goes with which key, or why not."""

    entry: Entry
    target: str | None  # logical topic, e.g. "ads.raw"
    key: bytes | None
    skip: str | None = None  # SKIP_INVALID or SKIP_NO_TARGET; None means it is replayed
    why: str = ""  # the validation error or the missing target, for people
    forced: bool = False  # invalid, replayed anyway (--force)

    @property
    def replayed(self) -> bool:
        """Whether this record is published."""
        return self.skip is None


def replay_target(dl: DeadLetter, prefix: str) -> tuple[str | None, str]:
    """The logical topic to replay ``dl`` to, or ``(None, why not)``.

    Input that never became a valid ad (stages ingest, validate, enrich, connector:*, and
    every ``file:`` origin) goes to ``ads.raw``; anything else to the topic it came from,
    if that is one of this deployment's consumed topics.
    """
    stage = dl.stage.partition(":")[0]
    if dl.stage in RAW_STAGES or stage == CONNECTOR_STAGE or dl.topic.startswith(FILE_PREFIX):
        return topics.RAW, ""
    if dl.topic.startswith(prefix):
        logical = dl.topic[len(prefix) :]
        if logical in topics.CONSUMED:
            return logical, ""
    return None, f"{dl.topic or 'no topic'} is not an adwatch topic with prefix {prefix!r}"


def plan_replay(entries: Iterable[Entry], prefix: str, *, force: bool = False) -> list[Planned]:
    """What a replay of ``entries`` does with each: validated as the worker will validate it.

    A record bound for ``ads.raw`` keeps its key, or takes its ad's key when it had none
    (bad lines of ingested files); a record that would fail again is skipped unless
    ``force``, so it does not just bounce back into the dead-letter topic.
    """
    out: list[Planned] = []
    for entry in entries:
        dl = entry.letter
        target, why = replay_target(dl, prefix)
        if target is None:
            out.append(Planned(entry, None, entry.key, SKIP_NO_TARGET, why))
            continue
        try:
            ad_key = _check(target, dl.original)
        except InvalidRecord as exc:
            if force:
                out.append(Planned(entry, target, entry.key, why=str(exc), forced=True))
            else:
                out.append(Planned(entry, target, entry.key, SKIP_INVALID, str(exc)))
            continue
        key = entry.key if entry.key is not None or ad_key is None else ad_key.encode()
        out.append(Planned(entry, target, key))
    return out


def replay_headers(entry: Entry, deadletter_topic: str) -> list[tuple[str, bytes]]:
    """Headers of a replayed record: which dead letter it replays."""
    return [(REPLAY_HEADER, f"{deadletter_topic}:{entry.id}".encode())]


def plan_counts(plan: Sequence[Planned]) -> tuple[int, Counter[str]]:
    """How many are replayed, and how many skipped for each reason."""
    return sum(p.replayed for p in plan), Counter(p.skip for p in plan if p.skip)


def _validate_enriched(value: bytes) -> str:
    return EnrichedAd.model_validate_json(value).key


def _validate_entity(value: bytes) -> None:
    PhoneEntity.model_validate_json(value)


# The first check each topic's agent makes on a record; topics not listed get none here.
_CHECKS: dict[str, Callable[[bytes], object]] = {
    topics.RAW: lambda value: parse_raw(value).key,
    topics.ENRICHED: _validate_enriched,
    topics.SCORED: _validate_enriched,
    topics.ENTITIES: _validate_entity,
}


def _check(target: str, value: bytes) -> str | None:
    """Validate ``value`` for ``target``; the ad key when it is an ad, `InvalidRecord` if bad."""
    check = _CHECKS.get(target)
    if check is None:
        return None
    try:
        result = check(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise InvalidRecord(summarize_errors(errors), [dict(e) for e in errors]) from None
    return result if isinstance(result, str) else None


def _ranked(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _counts(pairs: Sequence[tuple[str, int]], top: int) -> str:
    shown = [f"{name} {n}" for name, n in pairs[:top]]
    rest = sum(n for _, n in pairs[top:])
    return ", ".join(shown) + (f", other {rest}" if rest else "")


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "record"


def _es_type(detail: dict[str, Any]) -> str:
    error = detail.get("error")
    return str(error.get("type") or "") if isinstance(error, dict) else ""


def _without_line(message: str) -> str:
    """Ingest messages start ``line N: ``; the kind follows."""
    head, sep, rest = message.partition(": ")
    if sep and head.startswith("line ") and head[5:].isdigit():
        return rest
    return message
