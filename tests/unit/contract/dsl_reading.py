"""A literal reading of the compiled DSL over the sink's documents: a pure check, not ES.

This is not Elasticsearch and nothing checked with it claims to work with Elasticsearch;
the contract suite's run against a real cluster (``ADWATCH_TEST_ES_URL``) does that. It
reads only the clauses `pipeline.query_es` emits, refuses anything else, and checks every
field against the real mapping (deploy/elasticsearch/component-ad-mappings.json), so a
wrong field name, a wrong bound (``gt`` for ``gte``), ``terms`` where every flag must hold
or an unescaped wildcard shows up without a cluster. Analysis is an approximation of the
standard analyzer (lower-cased UAX#29 words, emoji as words, no accent folding), good for
the contract corpus; relevance is not computed, so score-ordered results are compared as
sets. ``collapse`` keeps the first document per value in sort order, as Elasticsearch does.
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
AD_MAPPINGS = ROOT / "deploy" / "elasticsearch" / "component-ad-mappings.json"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Letters/digits/underscore, joined by the UAX#29 mid-word characters; or one emoji.
_WORD = re.compile(r"\w+(?:[.'’:]\w+)*|[^\w\s]")


class Unsupported(AssertionError):
    """The DSL uses something this reading does not know: teach it, or fix the DSL."""


def field_types() -> dict[str, str]:
    """Every mapped field and subfield of an ad document, by dotted name, with its type."""
    mappings = json.loads(AD_MAPPINGS.read_text())["template"]["mappings"]
    types: dict[str, str] = {}
    for name, spec in mappings["properties"].items():
        types[name] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            types[f"{name}.{sub}"] = sub_spec["type"]
    return types


def run(body: dict[str, Any], documents: list[dict[str, Any]]) -> list[str]:
    """The keys of the documents ``body`` selects, sorted as its ``sort`` says (no scores)."""
    types = field_types()
    runtime = body.get("runtime_mappings", {})
    for name, spec in runtime.items():
        if name in types or spec["type"] != "keyword":
            raise Unsupported(f"runtime field {name}: must be a new keyword field")
        if "params['_source']['ad']" not in spec["script"]["source"]:
            raise Unsupported(f"runtime field {name}: only the ad's text is known here")
        types[name] = "runtime_text"
    known = {"query", "size", "sort", "collapse", "_source", "track_total_hits", "runtime_mappings"}
    if set(body) - known:
        raise Unsupported(f"top-level keys {sorted(body)}")
    if body["_source"] != {"includes": ["ad"]}:
        raise Unsupported("results are rebuilt from _source.ad only")
    hits = [doc for doc in documents if _matches(body["query"], doc, types)]
    for spec in reversed(body["sort"]):  # stable sorts, last key first
        ((name, options),) = spec.items()
        if name == "_score":
            continue
        if types.get(name) not in ("keyword", "date"):
            raise Unsupported(f"sort on {name} ({types.get(name)})")
        value = _millis if types[name] == "date" else str
        hits.sort(key=lambda d: value(d[name]), reverse=options["order"] == "desc")
    if "collapse" in body:
        field = body["collapse"]["field"]
        if set(body["collapse"]) != {"field"} or types.get(field) != "keyword":
            raise Unsupported(f"collapse {body['collapse']}")
        firsts: dict[str, dict[str, Any]] = {}
        for doc in hits:
            firsts.setdefault(doc[field], doc)
        hits = list(firsts.values())
    return [doc["key"] for doc in hits[: body["size"]]]


def _matches(clause: dict[str, Any], doc: dict[str, Any], types: dict[str, str]) -> bool:
    ((kind, spec),) = clause.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        return _bool(spec, doc, types)
    ((field, arg),) = spec.items()
    found = types.get(field)
    if kind in ("term", "terms"):
        _need(found, "keyword", kind, field)
        wanted = [arg] if kind == "term" else arg
        return bool(set(_values(doc, field)) & set(wanted))
    if kind == "range":
        return _range(field, found, arg, doc)
    if kind == "match_phrase":
        _need(found, "text", kind, field)
        if set(arg) - {"query", "boost"}:
            raise Unsupported(f"match_phrase options {sorted(arg)}")
        return _contains(words(doc[field.split(".")[0]]), words(arg["query"]))
    if kind == "wildcard":
        _need(found, "runtime_text", kind, field)
        return _wildcard(arg["value"]).fullmatch(doc["ad"]["text"]) is not None
    raise Unsupported(f"query clause {kind}")


def _bool(spec: dict[str, Any], doc: dict[str, Any], types: dict[str, str]) -> bool:
    if set(spec) - {"must", "filter", "should", "minimum_should_match"}:
        raise Unsupported(f"bool keys {sorted(spec)}")
    required = [*spec.get("must", []), *spec.get("filter", [])]
    if not all(_matches(c, doc, types) for c in required):
        return False
    should = spec.get("should", [])
    least: int = spec.get("minimum_should_match", 0 if required else 1 if should else 0)
    return sum(_matches(c, doc, types) for c in should) >= least


def _range(field: str, found: str | None, bounds: dict[str, Any], doc: dict[str, Any]) -> bool:
    ops = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b,
           "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}  # fmt: skip
    if found == "float":
        convert: Any = _float32
    elif found == "date":
        if bounds.get("format") != "strict_date_optional_time":
            raise Unsupported("date bounds are ISO strings with an explicit format")
        convert = _millis
    else:
        raise Unsupported(f"range on {field} ({found})")
    value = convert(doc[field])
    return all(ops[op](value, convert(bound)) for op, bound in bounds.items() if op != "format")


def words(text: str) -> list[str]:
    """Approximately the standard analyzer: UAX#29 words and emoji, lower-cased."""
    return [w for w in _WORD.findall(text.lower()) if _is_word(w)]


def _is_word(token: str) -> bool:
    # A lone non-word character is kept only when it is an emoji (the tokenizer's <EMOJI>).
    return token[0].isalnum() or token[0] == "_" or unicodedata.category(token[0]) == "So"


def _contains(haystack: list[str], needle: list[str]) -> bool:
    if not needle:
        return False  # zero_terms_query "none"
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _wildcard(pattern: str) -> re.Pattern[str]:
    out, chars = [], iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars)))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _values(doc: dict[str, Any], field: str) -> list[Any]:
    value = doc.get(field)
    return value if isinstance(value, list) else [] if value is None else [value]


def _need(found: str | None, expected: str, kind: str, field: str) -> None:
    if found != expected:
        raise Unsupported(f"{kind} on {field}: mapped as {found}, expected {expected}")


def _float32(value: float) -> float:
    # A float field holds 32-bit floats; Elasticsearch also rounds query bounds to them.
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _millis(value: str) -> int:
    # A date field holds milliseconds: finer digits are dropped.
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment - _EPOCH) // timedelta(milliseconds=1)
