"""Template signatures: masking, short texts, determinism, JSON, band keys, LSH odds."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.linking import (
    LinkConfig,
    TemplateSignature,
    ad_masks,
    ad_signature,
    band_keys,
    similarity,
    template_signature,
)
from pipeline.linking.facts import Mask
from pipeline.linking.signatures import shingle_signature, shingles, template_words
from tests.unit.pipeline.linking.linking_helpers import CFG, TEMPLATE, ring_ads

TEXT = (
    "Hi gentlemen, I'm Mia, 22, sweet and classy, visiting Dallas this week only. "
    "Upscale company for dinner and drinks. Text 702-555-0101."
)


def test_words_mask_numbers_and_collapse_runs() -> None:
    words = template_words("Call (702) 555-0101 now!! $200/hr, 24/7")
    assert words == ["call", "{num}", "now", "{num}", "hr", "{num}"]


def test_words_keep_apostrophes_and_emoji_drop_punctuation() -> None:
    assert template_words("I'm NEW... in town 🌹🌹 ✈️ -- ok") == [
        "i'm", "new", "in", "town", "🌹", "🌹", "✈", "ok",
    ]  # fmt: skip


def test_words_apply_masks_and_skip_overlaps() -> None:
    text = "ask for Mia in Dallas, TX"
    masks = [Mask(8, 11, "{name}"), Mask(15, 25, "{place}"), Mask(15, 21, "{place}")]
    assert template_words(text, masks) == ["ask", "for", "{name}", "in", "{place}"]


def test_masked_number_and_digits_are_one_placeholder() -> None:
    masked = template_words("text 702-555-0101 please", [Mask(5, 17, "{num}")])
    assert masked == template_words("text 702-555-0101 please") == ["text", "{num}", "please"]


def test_shingles_of_three_words() -> None:
    assert shingles(["a", "b", "c", "d"], 3) == {b"a b c", b"b c d"}
    assert shingles(["a", "b"], 3) == {b"a b"}


@pytest.mark.parametrize(
    "text",
    ["", "call me", "Hi, I'm Mia. Text 702-555-0101 now", "new in town!! text 7025550101 🌹 ok"],
)
def test_short_texts_get_no_signature(text: str) -> None:
    assert template_signature(text, CFG) is None


def test_placeholders_do_not_count_as_words() -> None:
    seven = "one two three four five six seven"
    assert template_signature(f"{seven} 1 2 3", CFG) is None
    assert template_signature(f"{seven} eight", CFG) is not None


def test_deterministic_and_a_fresh_config_agrees() -> None:
    a = template_signature(TEXT, CFG)
    b = template_signature(TEXT, LinkConfig())
    assert a is not None and b is not None and a == b
    assert len(a.hashvalues) == CFG.num_perm
    assert band_keys(a, CFG) == band_keys(b, CFG)


def test_same_signature_and_keys_in_another_process() -> None:
    code = (
        "import json, sys; from pipeline.linking import *; cfg = LinkConfig(); "
        "sig = template_signature(sys.argv[1], cfg); "
        "print(json.dumps([sig.to_json(), band_keys(sig, cfg)]))"
    )
    env_seeds = [{"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2"}]
    outputs = []
    for env in env_seeds:
        run = subprocess.run(
            [sys.executable, "-c", code, TEXT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        outputs.append(json.loads(run.stdout))
    sig = template_signature(TEXT, CFG)
    assert sig is not None
    assert outputs[0] == outputs[1] == [sig.to_json(), band_keys(sig, CFG)]


def test_a_template_with_masks_matches_exactly() -> None:
    ads = ring_ads(5)
    sigs = [ad_signature(a, CFG) for a in ads]
    assert all(s is not None and s == sigs[0] for s in sigs)


def test_without_masks_changed_names_and_cities_lower_the_similarity() -> None:
    ads = ring_ads(2)
    plain = [template_signature(a.text, CFG) for a in ads]
    masked = [template_signature(a.text, CFG, ad_masks(a)) for a in ads]
    assert similarity(masked[0], masked[1]) == 1.0  # type: ignore[arg-type]
    assert similarity(plain[0], plain[1]) < 1.0  # type: ignore[arg-type]


def test_similarity_estimates_jaccard() -> None:
    a = template_signature(TEXT, CFG)
    other = TEXT.replace("Upscale company for dinner and drinks", "Fun times for lunch and tea")
    b = template_signature(other, CFG)
    assert a is not None and b is not None
    assert similarity(a, a) == 1.0
    assert 0.1 < similarity(a, b) < 0.8
    short = TemplateSignature(hashvalues=a.hashvalues[:32])
    assert similarity(a, short) == 0.0  # other num_perm: not comparable


def test_band_keys_shape() -> None:
    sig = template_signature(TEXT, CFG)
    assert sig is not None
    keys = band_keys(sig, CFG)
    assert len(keys) == CFG.bands == len(set(keys))
    assert all(k.startswith(f"t{i}:") and len(k) == len(f"t{i}:") + 16 for i, k in enumerate(keys))
    with pytest.raises(ValueError, match="bands × rows needs more"):
        band_keys(TemplateSignature(hashvalues=(1, 2, 3)), CFG)


def test_json_is_compact_base64_and_reads_both_forms() -> None:
    sig = template_signature(TEXT, CFG)
    assert sig is not None
    data = sig.to_json()
    assert len(data) < 400  # 64 values; decimal integers would take about 700 characters
    assert TemplateSignature.from_json(data) == sig
    decimal = json.dumps({"hashvalues": list(sig.hashvalues)})
    assert TemplateSignature.from_json(decimal) == sig
    assert TemplateSignature.model_validate(sig.model_dump(mode="json")) == sig


@pytest.mark.parametrize(
    "data",
    [
        '{"hashvalues": []}',
        '{"hashvalues": [-1]}',
        '{"hashvalues": [4294967296]}',
        '{"hashvalues": "not base64!"}',
        '{"hashvalues": "AAAA AA=="}',
        '{"hashvalues": "AAE="}',
    ],
)
def test_json_rejects_bad_values(data: str) -> None:
    with pytest.raises(ValidationError):
        TemplateSignature.from_json(data)


def test_json_is_the_format_earlier_versions_wrote() -> None:
    # base64 of little-endian uint32, as records already on ads.links and in tables hold it
    sig = TemplateSignature(hashvalues=(1, 2, 2**32 - 1))
    assert sig.to_json() == '{"hashvalues":"AQAAAAIAAAD/////"}'
    assert TemplateSignature.from_json('{"hashvalues":"AQAAAAIAAAD/////"}') == sig
    assert TemplateSignature.model_validate({"hashvalues": [1, 2, 2**32 - 1]}) == sig


@pytest.mark.parametrize("values", [["one", 2], [1.5, 2], [None], None, 7, {"a": 1}])
def test_values_must_be_integers(values: object) -> None:
    with pytest.raises(ValidationError):
        TemplateSignature.model_validate({"hashvalues": values})


def test_a_list_is_read_as_earlier_versions_read_it() -> None:
    # lax, as pydantic reads tuple[int, ...]: test_link_signature_codec compares them all
    sig = TemplateSignature.model_validate({"hashvalues": [True, 2.0, "3"]})
    assert sig.hashvalues == (1, 2, 3) and all(type(v) is int for v in sig.hashvalues)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=128))
def test_json_round_trip(values: list[int]) -> None:
    sig = TemplateSignature(hashvalues=tuple(values))
    assert TemplateSignature.from_json(sig.to_json()) == sig


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_signature_or_none(text: str) -> None:
    sig = template_signature(text, CFG)
    if sig is not None:
        assert len(sig.hashvalues) == CFG.num_perm
        assert len(band_keys(sig, CFG)) == CFG.bands


def _pair(rng: random.Random, jaccard: float, union: int = 40) -> tuple[set[bytes], set[bytes]]:
    items = [f"{rng.random()}".encode() for _ in range(union)]
    common = round(jaccard * union)
    rest = items[common:]
    half = len(rest) // 2
    return set(items[:common] + rest[:half]), set(items[:common] + rest[half:])


@pytest.mark.parametrize(
    ("jaccard", "low", "high"),
    # theory 1 - (1 - J^4)^8: 0.9998, 0.985, 0.403, 0.063; 400 pairs, bounds about ±4 sd
    [(0.9, 0.99, 1.0), (0.8, 0.96, 1.0), (0.5, 0.30, 0.50), (0.3, 0.02, 0.12)],
)
def test_candidate_probability_follows_the_s_curve(jaccard: float, low: float, high: float) -> None:
    rng = random.Random(11)
    hits = 0
    for _ in range(400):
        a, b = (shingle_signature(s, CFG) for s in _pair(rng, jaccard))
        hits += bool(set(band_keys(a, CFG)) & set(band_keys(b, CFG)))
    assert low <= hits / 400 <= high


def test_template_text_helper_is_long_enough() -> None:
    assert template_signature(TEMPLATE, CFG) is not None
