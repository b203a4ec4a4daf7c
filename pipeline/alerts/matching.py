"""Pure alert matching: which subscriptions an ad matches, why, and whether to alert again.

`SubscriptionIndex` routes an ad to the few active subscriptions that could match it. Each
subscription is filed under the keys of ONE criterion that any matching ad must meet, tried
in this order (see `index_keys`):

1. ``phones`` -> one ``("phone", e164)`` key per phone (the ad must carry one of them);
2. ``flags_all`` -> one ``("flag", id)`` key, the first id (the ad must carry all of them);
3. ``text`` -> one ``("term", token)`` key: the longest word of the text's word terms, as a
   proxy for the rarest (the ad's title or body must contain every word term);
4. ``flags_any`` -> one ``("flag", id)`` key per id (the ad must carry one of them);
5. otherwise (``min_score``, ``sources``, times only, or no criterion) -> the scan list,
   tested against every ad.

An ad's candidates are the subscriptions under its phones, its flag ids, the words of its
title and body, plus the scan list; `SubscriptionIndex.matches` then runs each candidate's
compiled predicate, so routing only ever skips subscriptions that cannot match.

`AlertLog` and `DigestBuffer` are JSON-serializable state for faust tables keyed by
subscription id; `should_alert`/`record` and `add`/`due`/`drain` are pure functions of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from pipeline.query_match import compile_predicate, fts_tokens
from pipeline.query_sql import split_terms
from schemas.ads import EnrichedAd
from schemas.alerts import Alert, Subscription, alert_id
from schemas.query import SearchQuery
from schemas.types import UtcDatetime

__all__ = [
    "AlertLog",
    "Alerted",
    "DigestBuffer",
    "SubscriptionIndex",
    "add",
    "build_alert",
    "drain",
    "due",
    "event_at",
    "index_keys",
    "reasons",
    "record",
    "should_alert",
]

Predicate = Callable[[EnrichedAd], bool]
PredicateFactory = Callable[[SearchQuery], Predicate]
Tokenizer = Callable[[str], Iterable[str]]
Key = tuple[str, str]

EXCERPT_CHARS = 500
MAX_LOG_ENTRIES = 1_000
MAX_DIGEST_ALERTS = 200


def index_keys(rule: SearchQuery, tokenize: Tokenizer = fts_tokens) -> tuple[Key, ...]:
    """The keys a rule is filed under (module doc); empty means the scan list.

    ``tokenize`` must cut words as the predicate does, so the key word of a matching ad's
    text is among the words `SubscriptionIndex.candidates` looks up.
    """
    if rule.phones:
        return tuple(dict.fromkeys(("phone", phone) for phone in rule.phones))
    if rule.flags_all:
        return (("flag", rule.flags_all[0]),)
    phrases, _symbols = split_terms(rule.text or "")
    words = [word for phrase in phrases for word in tokenize(phrase)]
    if words:
        return (("term", max(words, key=len)),)
    if rule.flags_any:
        return tuple(dict.fromkeys(("flag", flag) for flag in rule.flags_any))
    return ()


class SubscriptionIndex:
    """Active subscriptions filed by phone, flag and text word, plus a scan list (module doc).

    Not thread-safe; one per worker, updated from the subscriptions table.
    """

    def __init__(
        self,
        predicate_factory: PredicateFactory = compile_predicate,
        *,
        tokenize: Tokenizer = fts_tokens,
    ) -> None:
        self._factory = predicate_factory
        self._tokenize = tokenize
        self._entries: dict[str, tuple[Subscription, Predicate, tuple[Key, ...]]] = {}
        self._by_key: dict[str, dict[str, set[str]]] = {"phone": {}, "flag": {}, "term": {}}
        self._scan: set[str] = set()

    @classmethod
    def build(
        cls,
        subs: Iterable[Subscription],
        predicate_factory: PredicateFactory = compile_predicate,
        *,
        tokenize: Tokenizer = fts_tokens,
    ) -> SubscriptionIndex:
        """An index of the active ones among ``subs`` (a later one replaces an earlier id)."""
        index = cls(predicate_factory, tokenize=tokenize)
        for sub in subs:
            index.add(sub)
        return index

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sub_id: object) -> bool:
        return sub_id in self._entries

    def add(self, sub: Subscription) -> None:
        """File a new or changed subscription; an inactive one is removed instead."""
        old = self._entries.get(sub.id)
        self.remove(sub.id)
        if not sub.active:
            return
        # Compile once per rule: an update that keeps the rule keeps its predicate.
        predicate = old[1] if old is not None and old[0].rule == sub.rule else None
        if predicate is None:
            predicate = self._factory(sub.rule)
        keys = index_keys(sub.rule, self._tokenize)
        self._entries[sub.id] = (sub, predicate, keys)
        for kind, value in keys:
            self._by_key[kind].setdefault(value, set()).add(sub.id)
        if not keys:
            self._scan.add(sub.id)

    def sync(self, subs: Mapping[str, Subscription]) -> int:
        """Make the index hold exactly the active ones of ``subs`` (by id); returns changes.

        Only new, changed and removed subscriptions are touched, so a refresh that finds
        nothing new costs one comparison per subscription and compiles nothing.
        """
        changes = 0
        for sub_id in [known for known in self._entries if known not in subs]:
            self.remove(sub_id)
            changes += 1
        for sub in subs.values():
            entry = self._entries.get(sub.id)
            if (entry is None and not sub.active) or (entry is not None and entry[0] == sub):
                continue
            self.add(sub)
            changes += 1
        return changes

    def remove(self, sub_id: str) -> None:
        """Forget a subscription by id; removing an unknown id does nothing."""
        entry = self._entries.pop(sub_id, None)
        if entry is None:
            return
        for kind, value in entry[2]:
            ids = self._by_key[kind][value]
            ids.discard(sub_id)
            if not ids:
                del self._by_key[kind][value]
        self._scan.discard(sub_id)

    def candidates(self, ad: EnrichedAd) -> list[Subscription]:
        """Subscriptions that could match ``ad`` (a superset of its matches), by id."""
        ids = set(self._scan)
        phones, flags, terms = self._by_key["phone"], self._by_key["flag"], self._by_key["term"]
        for e164 in {mention.e164 for mention in ad.phones} & phones.keys():
            ids |= phones[e164]
        for flag in {flag.id for flag in ad.flags} & flags.keys():
            ids |= flags[flag]
        if terms:  # cutting the ad's words is the costly part: only when some rule needs it
            for word in {*self._tokenize(ad.title), *self._tokenize(ad.body)} & terms.keys():
                ids |= terms[word]
        return [self._entries[sub_id][0] for sub_id in sorted(ids)]

    def matches(self, ad: EnrichedAd) -> list[Subscription]:
        """Active subscriptions whose rule matches ``ad``, by id."""
        return [sub for sub in self.candidates(ad) if self._entries[sub.id][1](ad)]


def reasons(sub: Subscription, ad: EnrichedAd) -> list[str]:
    """Neutral lines saying which of the rule's criteria ``ad`` meets; call on a match.

    The text line repeats the rule's text: whether it occurs is the predicate's call.
    """
    rule, lines = sub.rule, list[str]()
    lines += [f"phone {p}" for p in dict.fromkeys(m.e164 for m in ad.phones) if p in rule.phones]
    ad_flags = {flag.id for flag in ad.flags}
    lines += [
        f"flag {f}" for f in dict.fromkeys([*rule.flags_all, *rule.flags_any]) if f in ad_flags
    ]
    if rule.min_score is not None and ad.risk_score >= rule.min_score:
        lines.append(f"risk score {ad.risk_score:.2f} ≥ {rule.min_score:.2f}")
    text = " ".join((rule.text or "").split())
    if text:
        lines.append(f"text '{text if len(text) <= 100 else text[:99] + '…'}'")
    if ad.source in rule.sources:
        lines.append(f"source {ad.source}")
    if rule.since is not None or rule.until is not None:
        line = f"{'posted' if ad.posted_at else 'scraped'} {_when(event_at(ad))}"
        line += f", since {_when(rule.since)}" if rule.since else ""
        lines.append(line + (f", before {_when(rule.until)}" if rule.until else ""))
    return lines or ["every ad (the saved search has no criteria)"]


def build_alert(sub: Subscription, ad: EnrichedAd, now: datetime, window: int) -> Alert:
    """The alert for ``ad`` matching ``sub`` in re-alert ``window`` (see `should_alert`)."""
    text = ad.text.strip()
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1].rstrip() + "…"
    return Alert(
        id=alert_id(sub.id, ad.key, window),
        subscription_id=sub.id,
        subscription_name=sub.name,
        owner=sub.owner,
        ad_key=ad.key,
        reasons=reasons(sub, ad),
        flags=list(ad.flags),
        risk_score=ad.risk_score,
        title=ad.title,
        excerpt=text,
        phones=list(dict.fromkeys(mention.e164 for mention in ad.phones)),
        url=ad.url,
        event_at=event_at(ad),
        matched_at=now,
    )


def event_at(ad: EnrichedAd) -> datetime:
    """When the ad happened: posted, else scraped."""
    return ad.posted_at if ad.posted_at is not None else ad.scraped_at


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Alerted(BaseModel):
    """The last alert of one ad for one subscription."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: UtcDatetime
    window: int = Field(ge=0, description="0 for the first alert, n for the n-th re-alert")


class AlertLog(BaseModel):
    """Which ads one subscription has alerted on, and when; least recently alerted first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ads: dict[str, Alerted] = Field(default_factory=dict, description="by ad key")


def should_alert(
    log: AlertLog, ad_key: str, now: datetime, realert_after: timedelta
) -> tuple[bool, int]:
    """Whether ``ad_key`` alerts now, and the window for its alert id.

    The first alert is window 0; once ``realert_after`` has passed since the last alert the
    next is window ``last + 1``. Within it (a replay, an edit) the answer is ``(False,
    last)``: a replayed message yields no second alert.
    """
    last = log.ads.get(ad_key)
    if last is None:
        return True, 0
    if now - last.at >= realert_after:
        return True, last.window + 1
    return False, last.window


def record(
    log: AlertLog,
    ad_key: str,
    now: datetime,
    *,
    window: int | None = None,
    cap: int = MAX_LOG_ENTRIES,
) -> AlertLog:
    """The log after alerting on ``ad_key`` at ``now``, keeping the ``cap`` most recent ads.

    ``window`` is the one `should_alert` returned (default: the next one); recording the same
    alert twice changes nothing.
    """
    last = log.ads.get(ad_key)
    if window is None:
        window = 0 if last is None else last.window if last.at == now else last.window + 1
    ads = {key: value for key, value in log.ads.items() if key != ad_key}
    ads[ad_key] = Alerted(at=now, window=window)
    # A dropped ad may alert again as window 0; its id then repeats the first alert's.
    return AlertLog(ads=dict(list(ads.items())[-cap:]))


class DigestBuffer(BaseModel):
    """One subscription's alerts waiting for its next digest, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pending: list[Alert] = Field(default_factory=list)
    dropped: int = Field(default=0, ge=0, description="alerts past the cap since the last drain")


def add(buf: DigestBuffer, alert: Alert, *, cap: int = MAX_DIGEST_ALERTS) -> DigestBuffer:
    """The buffer with ``alert`` pending; a known alert id is ignored, past ``cap`` counted."""
    if any(pending.id == alert.id for pending in buf.pending):
        return buf
    if len(buf.pending) >= cap:
        return buf.model_copy(update={"dropped": buf.dropped + 1})
    return buf.model_copy(update={"pending": [*buf.pending, alert]})


def due(buf: DigestBuffer, now: datetime, every: timedelta) -> bool:
    """Whether a digest is due: the oldest pending alert has waited ``every``."""
    return bool(buf.pending) and now - min(a.matched_at for a in buf.pending) >= every


def drain(buf: DigestBuffer) -> tuple[list[Alert], DigestBuffer]:
    """The pending alerts (read ``buf.dropped`` first) and an empty buffer."""
    return list(buf.pending), DigestBuffer()
