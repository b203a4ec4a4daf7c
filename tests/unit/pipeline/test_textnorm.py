"""Text normalization (pipeline.textnorm): folding, HTML, and the map back to offsets."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.textnorm import NormalizedText, OffsetMap, normalize


def spans(norm: NormalizedText) -> list[tuple[int, int]]:
    return [norm.span(i, i + 1) for i in range(len(norm.text))]


def units(norm: NormalizedText) -> list[tuple[int, int, str]]:
    """Consecutive normalized characters sharing one original span: ``(start, end, text)``."""
    out: list[tuple[int, int, str]] = []
    for i, (s, e) in enumerate(spans(norm)):
        if out and out[-1][:2] == (s, e):
            out[-1] = (s, e, out[-1][2] + norm.text[i])
        else:
            out.append((s, e, norm.text[i]))
    return out


# ---------------------------------------------------------------------------------------
# Examples


def test_ascii_text_is_the_identity_fast_path() -> None:
    text = "Call 702-555-0123 <3 & more"
    norm = normalize(text)
    assert norm.text is text
    assert norm.offsets.is_identity
    assert norm.span(5, 17) == (5, 17)
    assert norm.raw(5, 17) == ("702-555-0123", 5, 17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("７０２－５５５", "702-555"),  # full-width digits and hyphen
        ("𝟕𝟎𝟐 𝟘𝟙𝟚 𝟢𝟣𝟤 𝟬𝟭𝟮 𝟶𝟷𝟸", "702 012 012 012 012"),  # bold, double-struck, sans…
        ("❼⓿❷ ➊➋", "702 12"),  # negative circled, dingbats
        ("⑦⓪②", "702"),  # circled
        ("٧٠٢ ७०२", "702 702"),  # Arabic-Indic, Devanagari
        ("⁷⁰²₅₅", "70255"),  # super- and subscripts
        ("Оо Іі", "Oo Ii"),  # Cyrillic look-alikes
        ("5’7” – ok", "5'7\" - ok"),  # typographic quotes and dashes
        ("a\tb\rc\u2028d\xa0e\u3000f", "a b\nc\nd e f"),  # white space one for one
        ("7\u00a02", "7 2"),
    ],
)
def test_one_for_one_folding_keeps_offsets(text: str, expected: str) -> None:
    norm = normalize(text)
    assert norm.text == expected
    assert len(norm.text) == len(text)
    assert spans(norm) == [(i, i + 1) for i in range(len(text))]


@pytest.mark.parametrize(
    ("text", "expected", "char_spans"),
    [
        ("4\ufe0f\u20e3", "4", [(0, 3)]),  # keycap joins the digit
        ("4\u20e32\ufe0f\u20e3", "42", [(0, 2), (2, 5)]),
        ("7\u0336x", "7x", [(0, 2), (2, 3)]),  # combining mark
        ("e\u0301", "e", [(0, 2)]),
        ("a\u200bb", "ab", [(0, 2), (2, 3)]),  # zero-width space
        ("\u200bab", "ab", [(1, 2), (2, 3)]),  # nothing before it to join
        ("⑩x", "10x", [(0, 1), (0, 1), (1, 2)]),  # expands: both digits map to ⑩
        ("a…b", "a...b", [(0, 1), (1, 2), (1, 2), (1, 2), (2, 3)]),
        ("ﬃ", "ffi", [(0, 1)] * 3),
    ],
)
def test_expanding_and_vanishing_characters(
    text: str, expected: str, char_spans: list[tuple[int, int]]
) -> None:
    norm = normalize(text)
    assert norm.text == expected
    assert not norm.offsets.is_identity
    assert spans(norm) == char_spans


def test_keycap_phone_span_covers_every_keycap() -> None:
    text = "Tel 7️⃣0️⃣2️⃣!"
    norm = normalize(text)
    assert norm.text == "Tel 702!"
    assert norm.raw(4, 7) == ("7️⃣0️⃣2️⃣", 4, 13)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>702</b>-555", "702-555"),  # inline tags vanish
        ("<p>702</p><p>555</p>", "\n702\n\n555\n"),  # block tags break lines
        ("702<br>555<br/>0123", "702\n555\n0123"),
        ("a&amp;b &lt;3 &quot;x&quot;", 'a&b <3 "x"'),  # named references
        ("&#55;&#48;&#x32;", "702"),  # numeric references
        ("702&nbsp;555&#8209;0123", "702 555-0123"),  # decoded, then folded
        ("7&#8203;0&#8203;2", "702"),  # a zero-width space by reference
        ("a  <b>b</b> \n  c", "a b\nc"),  # in HTML, white space collapses
        ("x<script>var a = 1;</script>y<style>p {}</style>z", "xyz"),
        ("x<!-- 702 555 0123 -->y", "xy"),
        ('<span class="n" data-x="1">702</span>', "702"),
        ("<custom>702</custom>", " 702 "),  # unknown tags separate words
        ("a < b and c > d", "a < b and c > d"),  # not tags
        ("AT&T &unknown; 5 & 6", "AT&T &unknown; 5 & 6"),  # not references
    ],
)
def test_html(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize("char", ["ſ", "\u212a", "７", "❼", "…", "\xa0", "О"])
def test_html_and_plain_text_fold_alike(char: str) -> None:
    """A character folds the same with or without markup around (ſ → s, Kelvin K → K)."""
    assert normalize(f"<b>x</b>{char}y").text == normalize(f"x{char}y").text


@pytest.mark.parametrize(("ref", "expected"), [("&#9;", " "), ("&#13;", "\n"), ("&#x2028;", "\n")])
def test_white_space_references_fold_like_white_space(ref: str, expected: str) -> None:
    assert normalize(f"<b>a</b>{ref}b").text == f"a{expected}b"


def test_html_spans_point_into_the_original() -> None:
    text = "Call <b>702</b>&#45;555-0123 &amp; more"
    norm = normalize(text)
    assert norm.text == "Call 702-555-0123 & more"
    i = norm.text.index("702")
    assert norm.raw(i, i + 3) == ("702", 8, 11)
    assert norm.raw(i, i + 4) == ("702</b>&#45;", 8, 20)  # the dash is the whole reference
    assert norm.raw(i, i + 12) == ("702</b>&#45;555-0123", 8, 28)
    j = norm.text.index("&")
    assert norm.raw(j, j + 1) == ("&amp;", 29, 34)


def test_offset_map() -> None:
    identity = OffsetMap()
    assert identity.is_identity
    assert (identity.start(4), identity.end(4), identity.span(2, 5)) == (4, 5, (2, 5))
    with pytest.raises(ValueError):
        identity.span(3, 3)
    norm = normalize("⑩ <b>x</b>")
    assert not norm.offsets.is_identity
    assert norm.text == "10 x"
    assert norm.span(0, 2) == (0, 1)
    assert norm.span(1, 4) == (0, 6)
    with pytest.raises(ValueError):
        norm.span(2, 1)


# ---------------------------------------------------------------------------------------
# Properties

_TRICKY = st.sampled_from(
    [
        "\ufe0f\u20e3",
        "\u20e3",
        "\u0336",
        "\u0301",
        "\u200b",
        "\u00ad",
        "\ufeff",
        "⑩",
        "⑳",
        "…",
        "ﬃ",
        "İ",
        "㍱",
        "７",
        "❼",
        "𝟕",
        "\r\n",
        "\t",
        "  ",
        "\u2028",
        "\xa0",
    ]
)
_HTML_BITS = st.sampled_from(
    [
        "<b>",
        "</b>",
        "<br>",
        "<p>",
        "</p>",
        '<a href="x">',
        "&amp;",
        "&#55;",
        "&#x37;",
        "&nbsp;",
        "&#8203;",
        "&bogus;",
        "<!-- c -->",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<",
        ">",
        "&",
    ]
)
any_text = st.lists(st.one_of(st.text(max_size=6), _TRICKY, _HTML_BITS), max_size=12).map("".join)
plain_text = st.lists(st.one_of(st.text(max_size=6), _TRICKY), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_spans_lie_within_the_original_and_are_monotonic(text: str) -> None:
    norm = normalize(text)
    assert norm.original is text
    previous = (0, 0)
    for s, e in spans(norm):
        assert 0 <= s < e <= len(text)
        assert s >= previous[0] and e >= previous[1]
        previous = (s, e)
    if norm.offsets.is_identity:
        assert len(norm.text) == len(text)
    for i in range(len(norm.text) + 1):  # any span of the normalized text maps back
        for j in range(i + 1, min(len(norm.text), i + 4) + 1):
            raw, s, e = norm.raw(i, j)
            assert raw == text[s:e] and raw


@settings(max_examples=300, deadline=None)
@given(plain_text.filter(lambda t: "<" not in t and "&" not in t))
def test_without_html_each_unit_normalizes_on_its_own(text: str) -> None:
    """Outside HTML the map is local: the original characters behind each normalized
    piece normalize to that piece, and the pieces tile the original in order."""
    norm = normalize(text)
    pieces = units(norm)
    position = pieces[0][0] if pieces else len(text)
    assert normalize(text[:position]).text == ""  # only dropped characters before
    for s, e, piece in pieces:
        assert s == position, (text, pieces)
        assert normalize(text[s:e]).text == piece, (text, s, e)
        position = e
    assert position == len(text)


@settings(max_examples=200, deadline=None)
@given(plain_text.filter(lambda t: "<" not in t and "&" not in t))
def test_fast_and_mapped_paths_agree(text: str) -> None:
    """Appending ⑩ forces the offset-map path; the text before it must not change."""
    fast = normalize(text)
    mapped = normalize(text + "⑩")
    assert mapped.text == fast.text + "10"
    assert spans(mapped)[: len(fast.text)] == spans(fast)


_WORD_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="<&"), max_size=20
).filter(lambda t: not re.search(r"\s{2,}|[\t\r\f\v]", t))


@settings(max_examples=200, deadline=None)
@given(_WORD_TEXT, st.sampled_from(["b", "i", "span", "strong", "em", "font"]))
def test_inline_tags_do_not_change_the_text(text: str, tag: str) -> None:
    assert normalize(f"<{tag}>{text}</{tag}>").text == normalize(text).text


@settings(max_examples=200, deadline=None)
@given(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<&"),
    st.sampled_from(["&#{};", "&#x{:x};", "&#X{:X};"]),
)
def test_character_references_read_like_the_character(char: str, ref: str) -> None:
    code = ord(char)
    referenced = normalize("<b>x</b>" + ref.format(code) + "y")
    assert referenced.text == normalize("<b>x</b>" + char + "y").text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_normalize_never_raises_and_keeps_the_original(text: str) -> None:
    norm = normalize(text)
    assert norm.original == text
    assume(text)
    assert norm.span(0, len(norm.text))[1] <= len(text) if norm.text else True
