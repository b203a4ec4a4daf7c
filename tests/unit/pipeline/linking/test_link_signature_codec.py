"""The signature codec reads and writes exactly what the earlier codec did, so links are unchanged.

`OldTemplateSignature` is the codec before the `struct` change, verbatim: base64 -> numpy
-> int by int, then pydantic validating ``tuple[int, ...]`` and a range check in Python.
The new one must accept exactly the inputs the old one accepted, give the same values for
them, and write the same JSON; and the linking stage, with every record crossing a topic
as JSON (as a worker runs it), must give the scored ads and phone records it gives with no
JSON at all, where no codec is involved.
"""

from __future__ import annotations

import base64
import gc
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
)

from connectors.synthetic import generate_ads
from pipeline.bench_stages import Traffic, run_stages
from pipeline.linking.signatures import TemplateSignature
from pipeline.linking.stage import LinkMessage, LinkResult, LinkTrip, TemplateNote
from pipeline.linking.templates import TemplateMatch, TemplateMember
from pipeline.settings import load_settings

_MAX_VALUE = (1 << 32) - 1
_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # stamps the phone records of both runs


def _old_values_from_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as e:
            raise ValueError(f"hashvalues: not base64 ({e})") from e
        if len(raw) % 4:
            raise ValueError("hashvalues: base64 length is not a multiple of 4 bytes")
        return tuple(int(v) for v in np.frombuffer(raw, dtype="<u4"))
    return value


def _old_values_to_json(values: tuple[int, ...]) -> str:
    return base64.b64encode(np.asarray(values, dtype="<u4").tobytes()).decode("ascii")


def _old_check_range(values: tuple[int, ...]) -> tuple[int, ...]:
    if not values:
        raise ValueError("hashvalues must not be empty")
    if any(v < 0 or v > _MAX_VALUE for v in values):
        raise ValueError("hashvalues must be unsigned 32-bit integers")
    return values


class OldTemplateSignature(BaseModel):
    """`TemplateSignature` as it was before the `struct` codec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hashvalues: Annotated[
        tuple[int, ...],
        BeforeValidator(_old_values_from_json),
        AfterValidator(_old_check_range),
        PlainSerializer(_old_values_to_json, return_type=str, when_used="json"),
    ]


uint32 = st.integers(min_value=0, max_value=_MAX_VALUE)
values_lists = st.lists(uint32, min_size=0, max_size=80)
# what a record can hold in "hashvalues": what we write, near misses, and junk
hashvalues_inputs = st.one_of(
    values_lists.map(lambda v: _old_values_to_json(tuple(v))),
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet="ABCDEFGHabcdefgh0123+/= \n", max_size=40),
    st.text(max_size=40),
    values_lists,
    st.lists(
        st.one_of(
            st.integers(min_value=-(2**40), max_value=2**40),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(min_value=-5, max_value=2**33).map(str),
            st.none(),
        ),
        max_size=6,
    ),
    st.none(),
    st.integers(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _outcome(model: type[BaseModel], how: str, value: Any) -> tuple[int, ...] | None:
    """The values ``model`` reads from ``{"hashvalues": value}``; None when it refuses it."""
    try:
        if how == "json":
            parsed = model.model_validate_json(json.dumps({"hashvalues": value}))
        else:
            parsed = model.model_validate({"hashvalues": value})
    except ValueError:  # pydantic's ValidationError
        return None
    values: tuple[int, ...] = parsed.hashvalues  # type: ignore[attr-defined]
    return values


@settings(max_examples=3000, deadline=None)
@given(value=hashvalues_inputs, how=st.sampled_from(["json", "python"]))
def test_reads_exactly_what_the_old_codec_read(value: Any, how: str) -> None:
    new = _outcome(TemplateSignature, how, value)
    old = _outcome(OldTemplateSignature, how, value)
    assert new == old
    assert new is None or all(type(v) is int for v in new)


@settings(max_examples=1000, deadline=None)
@given(st.lists(uint32, min_size=1, max_size=128))
def test_writes_exactly_what_the_old_codec_wrote(values: list[int]) -> None:
    new, old = (
        TemplateSignature(hashvalues=tuple(values)),
        OldTemplateSignature(hashvalues=tuple(values)),
    )
    assert new.model_dump_json() == old.model_dump_json()
    assert new.model_dump() == old.model_dump()
    assert TemplateSignature.model_validate_json(old.model_dump_json()) == new
    assert OldTemplateSignature.model_validate_json(new.model_dump_json()) == old


def test_linking_through_json_gives_the_links_and_flags_of_linking_without_it() -> None:
    # run_stages with as_json dumps and parses every LinkTrip at every hop, and keeps the
    # tables as JSON, as the worker does; without, no signature is ever written or read
    ads, settings, now = list(generate_ads(400, 11, source="codec")), load_settings(), _NOW
    through_json = run_stages(ads, settings, as_json=True, now=now)
    in_memory = run_stages(ads, settings, as_json=False, now=now)
    assert through_json.ads.keys() == in_memory.ads.keys()
    for key, ad in through_json.ads.items():  # all but the enrichment's wall-clock stamp
        assert ad.model_dump(exclude={"enriched_at"}) == in_memory.ads[key].model_dump(
            exclude={"enriched_at"}
        )
    assert through_json.phones == in_memory.phones
    flags = {f.id for ad in through_json.ads.values() for f in ad.flags}
    assert "template_reuse" in flags  # the signatures decided something
    assert any(ad.linked_phones for ad in through_json.ads.values())


def codec_timing(ads: int = 500, rounds: int = 7) -> dict[str, float]:
    """Old and new codec over the same records, rounds interleaved: µs per ad, and ratios.

    The records are the `LinkTrip` of every hop of ``ads`` synthetic ads (what the link
    agent parses and writes); the old models differ from the new only in the signature
    codec (`OldTemplateSignature`). Thread CPU time, best round of ``rounds``, the garbage
    collector off while timing, as `timeit` does (else a collection of the whole heap
    lands on whichever case happens to trigger it).
    """

    class OldMember(TemplateMember):
        signature: OldTemplateSignature  # type: ignore[assignment]

    class OldMatch(TemplateMatch):
        member: OldMember

    class OldResult(LinkResult):
        match: OldMatch | None = None

    class OldTrip(LinkTrip):
        member: OldMember | None = None
        results: list[OldResult] = []  # type: ignore[assignment]

    old_message = TypeAdapter(Annotated[OldTrip | TemplateNote, Field(discriminator="kind")])
    hops: list[bytes] = []
    settings = load_settings()

    class Recorder(Traffic):
        def add(self, topic: str, value: bytes) -> None:
            if topic == "ads.links" and value.startswith(b'{"schema_version":1,"kind":"trip"'):
                hops.append(value)

    run_stages(list(generate_ads(ads, 3, source="ab")), settings, traffic=Recorder())
    new_trips = [LinkMessage.validate_json(h) for h in hops]
    old_trips = [old_message.validate_json(h) for h in hops]
    assert [t.model_dump_json() for t in old_trips] == [t.model_dump_json() for t in new_trips]
    sigs = [m.group(0) for h in hops for m in re.finditer(rb'\{"hashvalues":"[^"]*"\}', h)]
    new_sigs = [TemplateSignature.model_validate_json(j) for j in sigs]
    old_sigs = [OldTemplateSignature.model_validate_json(j) for j in sigs]
    cases: dict[str, Callable[[], object]] = {
        "parse new": lambda: [LinkMessage.validate_json(h) for h in hops],
        "parse old": lambda: [old_message.validate_json(h) for h in hops],
        "dump new": lambda: [t.model_dump_json() for t in new_trips],
        "dump old": lambda: [t.model_dump_json() for t in old_trips],
        "signature parse new": lambda: [TemplateSignature.model_validate_json(j) for j in sigs],
        "signature parse old": lambda: [OldTemplateSignature.model_validate_json(j) for j in sigs],
        "signature dump new": lambda: [s.model_dump_json() for s in new_sigs],
        "signature dump old": lambda: [s.model_dump_json() for s in old_sigs],
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, run in cases.items():
            gc.collect()
            gc.disable()
            start = time.thread_time()
            run()
            best[name] = min(best[name], time.thread_time() - start)
            gc.enable()
    per_ad = {f"{name}, µs/ad": seconds / ads * 1e6 for name, seconds in best.items()}
    per_signature = {
        f"{name}, µs each": best[name] / len(sigs) * 1e6 for name in best if "signature" in name
    }
    return (
        per_ad
        | per_signature
        | {
            "hops per ad": len(hops) / ads,
            "signatures parsed per ad": len(sigs) / ads,
            "signature parse old/new": best["signature parse old"] / best["signature parse new"],
            "signature dump old/new": best["signature dump old"] / best["signature dump new"],
            "parse old/new": best["parse old"] / best["parse new"],
            "dump old/new": best["dump old"] / best["dump new"],
            "per hop old/new": (best["parse old"] + best["dump old"])
            / (best["parse new"] + best["dump new"]),
        }
    )


if __name__ == "__main__":  # python -m tests.unit.pipeline.linking.test_link_signature_codec
    for name, figure in codec_timing().items():
        print(f"{name:>34}: {figure:,.2f}")
