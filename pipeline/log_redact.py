"""Redaction of log lines: phone numbers masked, secrets and ad text left out.

    a line's fields ──> `Redactor` (a structlog processor), by field name:
      secret-like name (password, api_key…) ──> **********
      ad text (text, body, title…) ──────────> <N chars>
      phone fields (phone, e164…) ───────────> every digit but the last two as *
      any other text ──> `redact_text`: `redact_secrets` (configured secrets, name=value,
                         URL passwords, bearer tokens, pydantic inputs, Kafka records),
                         then `mask_phones` (phone-like digit runs, however written)

Pure functions on text and values; `pipeline.logs` puts the `Redactor` in every line's path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, SecretStr
from structlog.typing import EventDict, WrappedLogger

from pipeline.digitwords import PAD
from pipeline.phone_text import project

MASK = "**********"
MIN_SECRET = 4  # shorter configured secrets are not replaced in text

# --- text -------------------------------------------------------------------------------

# Phone numbers are looked for on the text the extractor matches on (`phone_text.project`:
# lower case, digit words as a digit and padding, same length), so "seven zero two…",
# "7O2 555 O15O", "702~555~0150" and circled digits are masked like "702-555-0150".
_D = r"[\d\u2460-\u2468\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792]"
_UNIT = rf"(?:{_D}{PAD}*|[oli](?={_D})|(?<={_D})[oli](?![a-z]))"  # a digit, or o/l/i by one
_SEPARATORS = r"[ \t\n.\-/()\]~*\u2010-\u2015\u2212\u3000\uff0d\uff0e]"
# Digit groups joined by up to three separators, not starting inside a word or a number.
_RUN = rf"(?<!\w)\+?[(\[]?{_UNIT}+(?:{_SEPARATORS}{{1,3}}{_UNIT}+)*"
# Shapes with 7+ digits that are no phone, consumed whole so no run starts inside them:
# ISO dates and times, IPv4 addresses (with a port).
_NOT_PHONE = (
    r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[t ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:z|[+-]\d\d:?\d\d)?)?(?!\d)"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])(?::\d+)?"
)
_SCAN = re.compile(rf"(?=[+(\[\doli\u2460-\u2792])(?:(?P<skip>{_NOT_PHONE})|(?P<run>{_RUN}))")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UNIT_CHAR = re.compile(rf"{_D}|[oli]")
_GROUP = re.compile(rf"{_UNIT}+")
BIG_GROUP = 8  # digits written together that make a number of their own, not a phone's part
_MAY_HOLD_PHONE = re.compile(rf"{_D}|zero|one|two|three|four|five|six|seven|eight|nine|oh")

_SECRET_HINT = re.compile(r"(?i)pass|pwd|secret|token|key|auth|credential|hmac|signature|cookie")
_SECRET_WORD = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|authorization|credentials?|"
    r"hmac|signature|private[_-]?key|access[_-]?key|cookie)"
)
# name=value, name: value, "name": "value", 'name': 'value' (and "Authorization: Bearer x")
_SECRET_ASSIGN = re.compile(
    rf"(?i)({_SECRET_WORD}[a-z0-9_-]*[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
    r"(?!\*{10}|[\[({])([^\s\"',;&}\])]+)"  # a list or an object is no secret string
)
_AUTH_SCHEME = re.compile(r"\b([Bb]earer|Basic)\s+(?=[\w.~+/=-]*[0-9=])[\w.~+/=-]{8,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:]*):[^\s/@]+@")
_SLACK_HOOK = re.compile(r"(?i)(hooks\.slack\.com/services)/[^\s\"'<>]+")
_INPUT_VALUE = re.compile(r"input_value=(?:.*?(?=, input_type=)|.*)")
# faust ("send: … v=b'…'"), aiokafka ("Sending (key=… value=b'…')", "messages=bytearray(…)")
# and kafka-python ("records=b'…'") print whole records at DEBUG
_BYTES = r"""b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_PAYLOAD = re.compile(rf"\b(v|value|records|messages)=(?:bytearray\({_BYTES}\)|{_BYTES})")
_LONG_BYTES = re.compile(rf"(?<!\w)(?:bytearray\({_BYTES}\)|{_BYTES})")  # protocol dumps
LONG_BYTES = 64  # longer bytes literals are shown as their length only

_SECRET_KEY = re.compile(rf"(?i)[a-z0-9_.-]*{_SECRET_WORD}[a-z0-9_-]*$")
_PHONE_KEYS = frozenset({"phone", "phones", "e164", "phone_number", "linked_phones"})
_TEXT_KEYS = frozenset({"text", "body", "title", "excerpt", "original"})
_UNREDACTED = frozenset({"timestamp", "level", "logger"})


@lru_cache(maxsize=4096)
def is_secret_name(key: str) -> bool:
    """Whether a field named ``key`` holds a secret (password, token, api_key…)."""
    return _SECRET_KEY.match(key) is not None


def mask_digits(value: str, keep: int = 2) -> str:
    """Every digit of ``value`` but the last ``keep`` as ``*``: for a field that holds a phone."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    out = list(value)
    for i in digits[: max(0, len(digits) - keep)]:
        out[i] = "*"
    return "".join(out)


def looks_like_phone(run: str) -> bool:
    """Whether a digit run (projected, as `mask_phones` finds it) may be a phone number.

    Conservative: 7+ digits written with a ``+`` or with separators between them (other
    than one dot: a decimal number). Unseparated, 10-15 digits that do not start with 1,
    or 11 that start with 1 and an area code (NANP with its country code): counts, offsets
    and Unix times in seconds or milliseconds stay readable.
    """
    units = [m.start() for m in _UNIT_CHAR.finditer(run)]
    if len(units) < 7:
        return False
    if "+" in run:
        return True
    between = run[units[0] : units[-1] + 1]
    separators = [ch for ch in between if ch != PAD and not _UNIT_CHAR.fullmatch(ch)]
    if not separators:
        digits = between.replace(PAD, "")
        if digits[0] == "1":
            return len(digits) == 11 and digits[1] not in "01"
        return 10 <= len(digits) <= 15
    return separators != ["."]


def phone_spans(run: str) -> list[tuple[int, int]]:
    """The parts of a digit run (projected) that may be phone numbers, as (start, end).

    The whole run, unless a group of `BIG_GROUP`+ digits stands in it: such a group is a
    number of its own ("offset 0 1234567 at 1764316800"), judged alone (and never a phone
    after a decimal point: 6.123456789012383), and the groups between them together.
    """
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    sizes = [len(_UNIT_CHAR.findall(run, a, b)) for a, b in groups]
    if len(groups) < 2 or max(sizes) < BIG_GROUP:
        return [(0, len(run))] if looks_like_phone(run) else []
    parts: list[tuple[int, int]] = []
    small_start: int | None = None
    small_end = 0
    for (a, b), size in zip(groups, sizes, strict=True):
        if size >= BIG_GROUP:
            if small_start is not None:
                parts.append((small_start, small_end))
                small_start = None
            if not (a >= 2 and run[a - 1] == "." and run[a - 2].isdigit()):
                parts.append((0 if not parts else a, b))
        else:
            small_start = (0 if not parts else a) if small_start is None else small_start
            small_end = b
    if small_start is not None:
        parts.append((small_start, small_end))
    return [(a, b) for a, b in parts if looks_like_phone(run[a:b])]


def mask_phones(text: str, keep: int = 2) -> str:
    """``text`` with phone-like runs masked but for their last ``keep`` digits.

    Separators stay, so the shape is still readable: ``+1 (702) 555-0150`` becomes
    ``+* (***) ***-**50``; a spelled digit becomes stars of its length.
    """
    if len(text) < 7:  # too short to hold seven digits
        return text
    lowered = text.lower()
    if not _MAY_HOLD_PHONE.search(lowered):
        return text
    projected = project(lowered) if len(lowered) == len(text) else lowered
    if "-" in projected:  # no phone inside a UUID (Kafka topic ids): blank them out
        projected = _UUID.sub(lambda u: "x" * len(u.group()), projected)
    out: list[str] | None = None
    for m in _SCAN.finditer(projected):
        run = m.group("run")
        if run is None or len(run) < 7:  # fewer than 7 digits: most runs
            continue
        for a, b in phone_spans(run):
            if out is None:
                out = list(text)
            start = m.start() + a
            units = [u.start() for u in _UNIT_CHAR.finditer(projected, start, m.start() + b)]
            hide_before = units[-keep] if len(units) > keep else start
            for i in range(start, hide_before):
                if projected[i] == PAD or _UNIT_CHAR.match(projected, i):
                    out[i] = "*"
    return text if out is None else "".join(out)


def redact_secrets(text: str, known: Iterable[str] = ()) -> str:
    """``text`` without secrets and record contents.

    Secrets: configured ones, ``name=value`` pairs, URL passwords, bearer tokens. Record
    contents: the input pydantic quotes in its errors, the values faust and aiokafka print
    at DEBUG (``v=b'…'``): an ad's text is never logged.
    """
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    if "hooks.slack" in text:
        text = _SLACK_HOOK.sub(r"\1/***", text)
    if _SECRET_HINT.search(text):
        text = _SECRET_ASSIGN.sub(_mask_assigned, text)
    if "earer" in text or "Basic" in text:
        text = _AUTH_SCHEME.sub(rf"\1 {MASK}", text)
    if "input_value=" in text:  # pydantic's errors quote the record they refused
        text = _INPUT_VALUE.sub("input_value=<redacted>", text)
    if "b'" in text or 'b"' in text:
        text = _PAYLOAD.sub(r"\1=<record>", text)
        text = _LONG_BYTES.sub(_shorten_bytes, text)
    return text


def _shorten_bytes(m: re.Match[str]) -> str:
    literal = m.group(0)
    return literal if len(literal) <= LONG_BYTES else f"<bytes: {len(literal)} chars>"


def _mask_assigned(m: re.Match[str]) -> str:
    name, value = m.group(1), m.group(2)
    if value.isdigit() and len(value) <= 3 and name.lower().startswith("api_key"):
        return m.group(0)  # Kafka's protocol objects print api_key=18: a request type
    return f"{name}{MASK}"


def redact_text(text: str, known: Iterable[str] = (), phones: bool = True) -> str:
    """Secrets redacted and, if ``phones``, phone numbers masked."""
    text = redact_secrets(text, known)
    return mask_phones(text) if phones else text


# --- fields of a line -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redactor:
    """A structlog processor: every value of every line redacted before it is rendered.

    Fields named like a secret are replaced, ad text fields (``text``, ``body``…) reduced
    to their length, phone fields masked; every other string goes through `redact_text`.
    Phone numbers are masked at every level unless ``debug_phones`` (then DEBUG keeps them).
    """

    known: tuple[str, ...] = ()
    debug_phones: bool = False

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        """Redact ``event_dict`` in place (structlog processor signature).

        Should redaction itself fail, the line keeps only what is safe and says so: a bug
        here must neither leak a value nor make logging print a bare traceback.
        """
        phones = not (self.debug_phones and method == "debug")
        try:
            for key, value in event_dict.items():
                if key not in _UNREDACTED:
                    event_dict[key] = self.value(key, value, phones)
        except Exception as exc:
            safe = {k: event_dict[k] for k in _UNREDACTED if k in event_dict}
            return {**safe, "event": "<line dropped: redaction failed>", "error": repr(exc)}
        return event_dict

    def value(self, key: str, value: Any, phones: bool = True) -> Any:
        """One field's value, redacted according to its name and content."""
        if value is None or isinstance(value, bool | int | float):
            if key in _PHONE_KEYS and isinstance(value, int) and phones:
                return mask_digits(str(value))
            return value
        if is_secret_name(key):
            return MASK
        if key in _TEXT_KEYS and isinstance(value, str | bytes):
            return f"<{len(value)} chars>"
        if isinstance(value, str):
            if key in _PHONE_KEYS and phones:
                return mask_digits(value)
            return redact_text(value, self.known, phones)
        if isinstance(value, dict):
            return {k: self.value(str(k), v, phones) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(key, v, phones) for v in value]
        if isinstance(value, SecretStr):
            return MASK
        return redact_text(str(value), self.known, phones)


def known_secrets(model: BaseModel) -> tuple[str, ...]:
    """The values of every `SecretStr` in ``model`` (nested), longest first.

    Values shorter than `MIN_SECRET` characters are left out (see `secrets_to_replace`).
    """
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))

    walk(model)
    return secrets_to_replace(found)


def secrets_to_replace(values: Iterable[str]) -> tuple[str, ...]:
    """The distinct ``values`` worth replacing in text, longest first.

    Longest first, so a secret that holds another is replaced whole; values shorter than
    `MIN_SECRET` are left out, as replacing them would garble lines.
    """
    found = {value for value in values if len(value) >= MIN_SECRET}
    return tuple(sorted(found, key=len, reverse=True))
