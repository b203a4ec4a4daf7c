"""Email addresses, plain or written to dodge scrapers.

    amber@gmail.com                       plain                          confidence 1.0
    amber @ gmail . com                   spaced symbols                 0.95
    amber (at) gmail (dot) com            bracketed or spelled at/dot    0.9
    amber[at]gmail[.]com, amber at gmail dot com
    amber at gmail.com                    spelled "at", plain dot: only  0.85
                                          for well-known mail providers

An obfuscated address must end in a common top-level domain, so prose such as
"meet at noon dot" is not taken. Values are lower-case ``local@domain.tld``.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found, overlaps

KIND: Final = "email"

COMMON_TLDS: Final = (
    "com|net|org|edu|gov|mil|io|co|us|me|info|biz|xyz|ca|uk|de|fr|nl|ru|au|mx|es|it|ch|se|"
    "eu|app|live|email|online|site|club|tv|cc|ws"
)
MAIL_PROVIDERS: Final = frozenset({
    "gmail", "googlemail", "yahoo", "ymail", "rocketmail", "hotmail", "outlook", "live", "msn",
    "aol", "icloud", "me", "mac", "protonmail", "proton", "pm", "gmx", "mail", "zoho",
    "yandex", "comcast", "att", "verizon", "sbcglobal", "cox", "charter", "tutanota",
})  # fmt: skip

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?"
    rf"@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}(?![\w\-]|\.[A-Za-z0-9])"
)
_OPEN = r"[(\[{<]"
_CLOSE = r"[)\]}>]"
_AT = rf"(?:\s*{_OPEN}\s*(?:at|@)\s*{_CLOSE}\s*|\s*@\s*|\s+at\s+)"
_DOT = rf"(?:\s*{_OPEN}\s*(?:dot|\.)\s*{_CLOSE}\s*|\s+dot\s+|\s*\.\s*)"
_OBFUSCATED = re.compile(
    rf"(?<![\w.%+\-])(?P<local>[A-Za-z0-9_](?:[A-Za-z0-9_%+\-]|\.(?!\.)){{0,63}})(?P<at>{_AT})"
    rf"(?P<domain>{_LABEL}(?:{_DOT}{_LABEL})*?){_DOT}(?P<tld>(?:{COMMON_TLDS}))\b(?![@\-])"
)
_DOT_TOKEN = re.compile(_DOT)
# TLDs that are no English word: with "at" or "@" they make an obfuscated address likely
_TLD_WORDS: Final = frozenset(COMMON_TLDS.split("|")) - {
    "co", "us", "me", "it", "es", "se", "de", "ch", "live", "site", "club", "email", "online",
    "app", "cc", "tv",
}  # fmt: skip
_SPACED_SYMBOL = re.compile(r"\s*[@.]\s*")


def _obfuscated_confidence(at: str, domain: str, dots: list[str]) -> float | None:
    """Confidence of an obfuscated address from how its "at" and dots are written."""
    at_word = at.strip() == "at"
    spelled_dot = any(not _SPACED_SYMBOL.fullmatch(t) for t in dots)
    if at_word and not spelled_dot:
        # "book at site.com" is prose around a domain, unless it is a mail provider's
        return 0.85 if domain.split(".")[0] in MAIL_PROVIDERS else None
    if at_word or spelled_dot or not _SPACED_SYMBOL.fullmatch(at):
        return 0.9
    return 0.95


def find_emails(doc: Doc) -> list[Found]:
    """Email addresses in ``doc``, plain and obfuscated, with lower-case values."""
    text, lower = doc.text, doc.lower
    found: list[Found] = []
    taken: list[tuple[int, int]] = []
    if "@" in text:
        for m in _PLAIN.finditer(text):
            found.append(Found(KIND, m.start(), m.end(), m.group().lower(), 1.0))
            taken.append(m.span())
    words = doc.words
    at = "@" in text or "at" in words
    if not (at and ("dot" in words or not words.isdisjoint(_TLD_WORDS))):
        return found
    for m in _OBFUSCATED.finditer(lower):
        if overlaps(m.start(), m.end(), taken):
            continue
        domain_raw = lower[m.start("domain") : m.start("tld")]
        dots = _DOT_TOKEN.findall(domain_raw)
        domain = ".".join(p for p in _DOT_TOKEN.split(domain_raw) if p)
        confidence = _obfuscated_confidence(m.group("at"), domain, dots)
        if confidence is None:
            continue
        value = f"{m.group('local').rstrip('.')}@{domain}.{m.group('tld')}"
        found.append(Found(KIND, m.start(), m.end(), value, confidence))
    return found
