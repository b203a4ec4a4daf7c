"""Web addresses: ``http(s)://…``, ``www.…`` and bare domains with a common TLD.

The value is the address as written, less trailing punctuation (a closing bracket stays
when the address opened it). Bare domains are found from their top-level domain, which
must be one of a short list: the ambiguous ones (``.me``, ``.us``, ``.co``…) count only
when a path follows, and a TLD in title case ("town.Me") does not count, so
run-together sentences are not taken for addresses. Spans of email addresses, found
first, are never URLs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from pipeline.entities.base import Doc, Found, overlaps

KIND: Final = "url"

STRONG_TLDS: Final = frozenset({
    "com", "net", "org", "edu", "gov", "io", "info", "biz", "xxx", "tv", "app", "site", "online",
    "club", "live", "xyz", "link", "ca", "uk", "de", "fr", "nl", "ru", "au", "eu", "mx", "es",
    "it", "ch",
})  # fmt: skip
WEAK_TLDS: Final = frozenset({"me", "us", "co", "ly", "gl", "to", "cc", "ws", "be", "gg"})

_STOP = "\\s<>\"'`"
_SCHEMED = re.compile(rf"(?:https?://|www\.)[^{_STOP}]+")
_TLD = re.compile(
    rf"\.(?P<tld>{'|'.join(sorted(STRONG_TLDS | WEAK_TLDS, key=len, reverse=True))})"
    r"(?![a-z0-9\-@]|\.[a-z0-9])"
)
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-"
_PATH = re.compile(rf"[/?#][^{_STOP}]*")
_TRAILING = ".,;:!?'\")]}*"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_NOT_BEFORE_HOST = frozenset("@/_")


def _trim(url: str) -> str:
    """``url`` without trailing punctuation, keeping brackets opened inside it."""
    while url and url[-1] in _TRAILING:
        last = url[-1]
        if last in _PAIRS and url.count(_PAIRS[last]) >= url.count(last):
            break
        url = url[:-1]
    return url


def _bare(doc: Doc, m: re.Match[str]) -> tuple[int, int] | None:
    """The span of the bare domain whose TLD ``m`` found, None when it is not one."""
    written = doc.text[m.start("tld") : m.end("tld")]
    if not (written.islower() or written.isupper()):
        return None
    before = doc.lower[max(0, m.start() - 200) : m.start()]
    rest = before.rstrip(_HOST_CHARS)
    if rest and (rest[-1] in _NOT_BEFORE_HOST or rest[-1].isalnum()):
        return None  # part of an email address, a path, or a word in another script
    host = before[len(rest) :].lstrip(".-")
    if not host or _HOST.fullmatch(host) is None:
        return None
    start = m.start() - len(host)
    path = _PATH.match(doc.lower, m.end())
    if m.group("tld") in WEAK_TLDS and (path is None or len(path.group()) < 2):
        return None
    end = m.end() if path is None else path.end()
    return start, start + len(_trim(doc.text[start:end]))


def find_urls(doc: Doc, skip: Sequence[tuple[int, int]] = ()) -> list[Found]:
    """URLs in ``doc``, leaving out anything that overlaps the ``skip`` spans (emails)."""
    lower = doc.lower
    if doc.words.isdisjoint(STRONG_TLDS) and "/" not in lower:
        return []  # no bare domain without a strong TLD or a path, and no scheme
    taken = list(skip)
    found: list[Found] = []
    if "://" in lower or "www." in lower:
        for m in _SCHEMED.finditer(lower):
            if m.start() > 0 and lower[m.start() - 1].isalnum():
                continue
            url = _trim(doc.text[m.start() : m.end()])
            end = m.start() + len(url)
            if len(url) > 4 and not overlaps(m.start(), end, taken):
                found.append(Found(KIND, m.start(), end, url, 1.0))
                taken.append((m.start(), end))
    for m in _TLD.finditer(lower):
        span = _bare(doc, m)
        if span is not None and not overlaps(*span, taken):
            found.append(Found(KIND, *span, doc.text[span[0] : span[1]], 0.9))
            taken.append(span)
    return found
