"""Social and messaging handles, found only next to a platform cue.

    snap: mia_22 · IG @mia.22 · kik me mia22 · add me on snapchat mia22 · 👻 mia22
    @mia22 on insta · t.me/mia22 · onlyfans.com/mia22

The value is ``platform:handle`` in lower case ("snapchat:mia_22"). A cue word alone
("no snapchat", "snapchat only") is no handle: the word after it must not be a common
word or another platform. Short cues that are also ordinary words or abbreviations
(OF, SC, WA, TG, TT, X) count only in capitals and with a ``:``, ``-`` or ``@`` before
the handle. What follows WhatsApp, Signal or Telegram is often a phone number: a
"handle" made of digits is left to the phone extractor.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found, needle_starts, word_list

KIND: Final = "handle"

# cue as written (lower case, spaces removed) -> platform
PLATFORMS: Final = {
    "instagram": "instagram", "insta": "instagram", "ig": "instagram",
    "snapchat": "snapchat", "snap": "snapchat", "sc": "snapchat", "👻": "snapchat",
    "kik": "kik", "telegram": "telegram", "tg": "telegram",
    "whatsapp": "whatsapp", "wa": "whatsapp", "wickr": "wickr", "signal": "signal",
    "onlyfans": "onlyfans", "of": "onlyfans", "fansly": "fansly",
    "twitter": "twitter", "x": "twitter", "tiktok": "tiktok", "tt": "tiktok",
    "discord": "discord", "skype": "skype",
}  # fmt: skip
_SHORT_CUES: Final = frozenset({"of", "sc", "wa", "tg", "tt", "x"})
_NEEDS_SEPARATOR: Final = _SHORT_CUES | {"signal"}

_CUE = (
    r"(?P<cue>instagram|insta|ig|snap\s?chat|snap|kik|telegram|whats\s?app|wickr|signal|"
    r"only\s?fans|fansly|twitter|tik\s?tok|discord|skype|of|sc|wa|tg|tt|x|👻)"
)
_FILLER = r"(?:\s*(?:[:=>\-]+|\b(?:id|name|user(?:name)?|handle|is|me(?:\s+(?:at|on))?)\b))*"
_HANDLE = r"(?P<handle>[a-z0-9_](?:[a-z0-9_.\-]{0,28}[a-z0-9_])?)"
# matched on the lower-case text; the cue's case is checked on the original
_AFTER_CUE = re.compile(
    rf"(?<![\w@./]){_CUE}(?![\w.])(?P<sep>{_FILLER}\s*(?P<at>@)?)\s*{_HANDLE}(?![\w@]|\.[a-z0-9])"
)
_BEFORE_CUE = re.compile(rf"(?<![\w@.])@{_HANDLE}\s+(?:on|at)\s+(?:my\s+)?{_CUE}\b(?!\.\w)")
_PROFILE_URL = re.compile(
    r"(?<![\w.])(?:https?://)?(?:www\.)?(?P<site>instagram\.com|snapchat\.com/add|t\.me|"
    r"onlyfans\.com|fansly\.com|twitter\.com|x\.com|tiktok\.com/@|kik\.me)/"
    r"(?P<handle>[a-z0-9_](?:[a-z0-9_.]{0,28}[a-z0-9_])?)(?![\w/])"
)
# cue words (as `Doc.words` holds them) -> where the cue starts in the lower-case text
_CUE_STARTS: Final = {
    "instagram": "insta", "insta": "insta", "ig": "ig", "snapchat": "snap", "snap": "snap",
    "kik": "kik", "telegram": "telegram", "whatsapp": "whats", "whats": "whats",
    "wickr": "wickr", "signal": "signal", "onlyfans": "only", "fans": "only",
    "fansly": "fansly", "twitter": "twitter", "tiktok": "tik", "tik": "tik",
    "discord": "discord", "skype": "skype",
}  # fmt: skip
_CUE_WORDS: Final = frozenset(_CUE_STARTS)
_SITES: Final = {
    "instagram.com": "instagram", "snapchat.com/add": "snapchat", "t.me": "telegram",
    "onlyfans.com": "onlyfans", "fansly.com": "fansly", "twitter.com": "twitter",
    "x.com": "twitter", "tiktok.com/@": "tiktok", "kik.me": "kik",
}  # fmt: skip


def _platform(cue: str) -> str:
    return PLATFORMS["".join(cue.lower().split())]


def _handle_confidence(handle: str, cue: str, sep: str) -> float | None:
    """How sure ``handle`` after ``cue`` is a handle; None when it is not one."""
    lowered = handle.lower()
    if not any(c.isalpha() for c in handle):
        return None
    if lowered in word_list("handle_stopwords.txt") or lowered in PLATFORMS:
        return None
    key = "".join(cue.lower().split())
    explicit = "@" in sep or any(c in sep for c in ":=>-")
    if key in _NEEDS_SEPARATOR and not explicit:
        return None
    if key in ("whatsapp", "wa", "signal", "telegram", "tg") and handle[0].isdigit():
        return None  # a phone number, not a user name
    if explicit or any(c.isdigit() or c in "_." for c in handle):
        return 0.9
    return 0.7


def _short_cue_ok(doc: Doc, m: re.Match[str]) -> bool:
    """A short cue ("OF", "SC") counts only when written in capitals."""
    key = "".join(m.group("cue").split())
    return key not in _SHORT_CUES or doc.text[m.start("cue") : m.end("cue")].isupper()


def find_handles(doc: Doc) -> list[Found]:
    """Handles in ``doc``, each next to a platform cue, as ``platform:handle``."""
    lower, words = doc.lower, doc.words
    found: list[Found] = []
    cues = words & _CUE_WORDS
    starts = needle_starts(lower, {_CUE_STARTS[w] for w in cues}) if cues else []
    if "👻" in doc.text:
        starts = sorted({*starts, *needle_starts(lower, ("👻",))})
    short = words & _SHORT_CUES  # only in capitals: found in the original text
    if short:
        starts = sorted({*starts, *needle_starts(doc.text, {w.upper() for w in short})})
    end = 0
    for i in starts:
        if i < end or (m := _AFTER_CUE.match(lower, i)) is None or not _short_cue_ok(doc, m):
            continue
        handle = m.group("handle").rstrip(".-")
        confidence = _handle_confidence(handle, m.group("cue"), m.group("sep"))
        if confidence is None:
            continue  # the handle may itself be the next cue: "snapchat kik: mia22"
        end = m.start("handle") + len(handle)
        found.append(Found(KIND, m.start(), end, f"{_platform(m.group('cue'))}:{handle}",
                           confidence))  # fmt: skip
    if "@" in lower:
        for m in _BEFORE_CUE.finditer(lower):
            handle = m.group("handle").rstrip(".-")
            if _short_cue_ok(doc, m) and handle not in word_list("handle_stopwords.txt"):
                value = f"{_platform(m.group('cue'))}:{handle}"
                found.append(Found(KIND, m.start(), m.end(), value, 0.9))
    if "/" in lower and (".com/" in lower or ".me/" in lower):
        for m in _PROFILE_URL.finditer(lower):
            value = f"{_SITES[m.group('site')]}:{m.group('handle')}"
            found.append(Found(KIND, m.start(), m.end(), value, 0.95))
    return found
