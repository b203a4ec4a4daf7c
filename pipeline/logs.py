"""Structured logs: one JSON object per line, phone numbers masked, secrets redacted.

    our loggers (stdlib, ``extra=``) ─┐
    faust, mode, aiokafka, warnings ──┼──> root handler (stderr) ── ProcessorFormatter
    structlog loggers ────────────────┘          │
      extras, contextvars (stage, ad_key), logger, level, timestamp (UTC), exception text
        ──> `Redactor`: secrets, URL passwords, ad text, pydantic input values, phones
        ──> JSON (``log_format = "json"``) or aligned text (``"console"``)

A worker calls `configure_logging` at import and hands `faust_logging_config` to the app,
so the handler survives faust's own logging set-up at start. Agents bind ``stage`` for their
task and ``ad_key`` while they handle a record (`each_record`, `bind_ad`); anything bound
with ``structlog.contextvars`` is added too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

import structlog
from pydantic import BaseModel, SecretStr
from structlog.contextvars import merge_contextvars
from structlog.typing import EventDict, Processor, WrappedLogger

from pipeline.digitwords import PAD
from pipeline.phone_text import project

if TYPE_CHECKING:
    from pipeline.settings import Settings

LogFormat = Literal["json", "console"]
MASK = "**********"
FIRST_FIELDS = ("timestamp", "level", "logger", "stage", "ad_key", "event")
# Context of the task (or thread) that logs: plain ContextVars, cheaper than structlog's
# bind_contextvars on the hot path (about 0.6 against 2.2 µs a record, measured).
_STAGE: ContextVar[str | None] = ContextVar("adwatch_log_stage", default=None)
_AD_KEY: ContextVar[str | None] = ContextVar("adwatch_log_ad_key", default=None)
_SUBSCRIPTION: ContextVar[str | None] = ContextVar("adwatch_log_subscription", default=None)
_CONTEXT = (("stage", _STAGE), ("ad_key", _AD_KEY), ("subscription_id", _SUBSCRIPTION))
T = TypeVar("T")

# --- redaction: pure functions on text ---------------------------------------------------

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


# --- processors -------------------------------------------------------------------------


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


def add_level(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """``level``: the stdlib level name (``INFO``, ``WARNING``…), as grep and alerts expect."""
    name = {"warn": "warning", "exception": "error", "fatal": "critical"}.get(method, method)
    event_dict["level"] = name.upper()
    return event_dict


def add_timestamp(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """``timestamp``: when the record was made, ISO 8601 in UTC with milliseconds."""
    record = event_dict.get("_record")
    created = record.created if record is not None else datetime.now(UTC).timestamp()
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    event_dict["timestamp"] = stamp.replace("+00:00", "Z")
    return event_dict


def first_fields(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """Put timestamp, level, logger, stage, ad_key and event first, the rest after."""
    ordered = {k: event_dict.pop(k) for k in FIRST_FIELDS if k in event_dict}
    ordered.update(event_dict)
    return ordered


def add_context(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """``stage``, ``ad_key`` and ``subscription_id`` bound in this task, unless given."""
    for name, var in _CONTEXT:
        value = var.get()
        if value is not None:
            event_dict.setdefault(name, value)
    return event_dict


def _pre_chain() -> list[Processor]:
    return [
        structlog.stdlib.ExtraAdder(),  # ``extra=`` fields win over context-bound ones
        add_context,
        merge_contextvars,  # anything bound with structlog.contextvars
        structlog.stdlib.add_logger_name,
        add_level,
        add_timestamp,
    ]


def formatter(fmt: LogFormat, redactor: Redactor, colors: bool = False) -> logging.Formatter:
    """The formatter of every line: processors, redaction, then JSON or console text."""
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redactor,
            first_fields,
            renderer,
        ],
    )


# --- set-up -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogOptions:
    """What `configure_logging` needs: level, format, and what the redactor must know."""

    level: str = "INFO"
    fmt: LogFormat = "json"
    debug_phones: bool = False
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> LogOptions:
        """Options of ``settings``; every `SecretStr` in them is a known secret."""
        return cls(
            level=settings.log_level,
            fmt=settings.log_format,
            debug_phones=settings.log_debug_phones,
            secrets=known_secrets(settings),
        )


def known_secrets(model: BaseModel) -> tuple[str, ...]:
    """The values of every `SecretStr` in ``model`` (nested), longest first.

    Values shorter than 4 characters are left out: replacing them would garble lines.
    """
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if len(secret) >= 4:
                found.add(secret)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))

    walk(model)
    return tuple(sorted(found, key=len, reverse=True))


def make_handler(options: LogOptions, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) rendering with our `formatter`."""
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    colors = options.fmt == "console" and bool(getattr(out, "isatty", lambda: False)())
    redactor = Redactor(options.secrets, options.debug_phones)
    handler.setFormatter(formatter(options.fmt, redactor, colors))
    return handler


def configure_logging(
    options: LogOptions | None = None, stream: IO[str] | None = None, hooks: bool = True
) -> logging.Handler:
    """Make every log line of this process one redacted line in ``options.fmt``.

    Replaces the root logger's handlers and routes structlog loggers and Python warnings
    through the same handler; with ``hooks``, uncaught exceptions (main and other threads)
    are logged as one CRITICAL line instead of a bare traceback.
    """
    options = options or LogOptions()
    handler = make_handler(options, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(options.level)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *_pre_chain(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if hooks:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    return handler


def faust_logging_config(settings: Settings) -> dict[str, Any]:
    """``logging_config`` for faust: its worker re-installs our handler when it starts.

    faust (mode) clears the root handlers at start and applies this with ``dictConfig``;
    without it, its worker would log coloured text to stdout.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "adwatch": {"()": _handler_for_dict_config, "settings": settings},
        },
        "root": {"level": settings.log_level, "handlers": ["adwatch"]},
    }


def _handler_for_dict_config(settings: Settings) -> logging.Handler:
    return make_handler(LogOptions.from_settings(settings))


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("adwatch").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("adwatch").critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


# --- context: stage and ad key ----------------------------------------------------------


def bind_stage(stage: str | None) -> None:
    """Every line of the current task (or thread) says ``stage`` from now on."""
    _STAGE.set(stage)


def bind_ad(ad_key: str | None) -> None:
    """Every line of the current task says ``ad_key`` (None: no ad) until bound again."""
    _AD_KEY.set(ad_key)


def bind_record(ad_key: str | None = None, subscription_id: str | None = None) -> None:
    """Bind what identifies the record in hand (None: nothing); `each_record` unbinds it."""
    _AD_KEY.set(ad_key)
    _SUBSCRIPTION.set(subscription_id)


def message_key(event: Any) -> str | None:
    """The Kafka key of a faust event, as text (ads are keyed by their ad key)."""
    key = event.message.key
    return key.decode("utf-8", "replace") if key else None


def no_key(event: Any) -> str | None:
    """For records whose Kafka key is not an ad key: the handler binds the ad itself."""
    return None


async def each_record(
    events: AsyncIterable[T], stage: str, ad_key: Callable[[T], str | None] = no_key
) -> AsyncIterator[T]:
    """Yield ``events`` with ``stage`` bound, and ``ad_key(event)`` bound while one is handled.

    What identifies the record is unbound when the handler asks for the next one, so lines
    logged between records (faust's own) never carry the previous ad's key.
    """
    bind_stage(stage)
    async for event in events:
        _AD_KEY.set(ad_key(event))
        yield event
        bind_record(None, None)
