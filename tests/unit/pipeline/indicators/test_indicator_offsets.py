"""Property: whatever the text (HTML, full-width, emoji, keycaps), evidence slices it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.pipeline.indicators.conftest import flags_in

FRAGMENTS = [
    "New in town", "ｎｅｗ ｉｎ ｔｏｗｎ", "no LE", "ＮＯ ＬＥ", "Age 15", "Ａｇｅ １５",
    "Mia, 19,",
    "ask for Ruby", "my manager", "2 ladies", "duo", "incall at my hotel", "at the motel",
    "120 roses per half hour", "150 🌹 hh", "250r/hh", "available 24/7", "anytime",
    "young", "teen", "🍭", "💗", "✈️", "#newintown", "not", "no", "never", ",", ".", "\n",
    "<b>", "</b>", "<p>", "&amp;", "&nbsp;", "<br>", "4️⃣", "⑩", "İ", "  ", "-", "(16)",
    "two one three five five five zero one four four", "(213) 555-0100", "702-555-0134",
    "Dallas, TX", "sweet", "discreet", "book club", "apply",
]  # fmt: skip

texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), min_size=1, max_size=14
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from([None, "Dallas, TX", "dallas", "Las Vegas NV", "nowhere"]))
def test_evidence_always_slices_the_original_text(text: str, location: str | None) -> None:
    flags_in(text, location)  # asserts text[start:end] == evidence.text for every span


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    flags_in(text)
