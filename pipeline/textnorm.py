r"""Text normalization that keeps a map back to the original offsets.

Extractors match on a normalized copy of an ad's text and report spans in the original:

    original ──normalize()──> NormalizedText.text ──(extractor regexes)──> span (i, j)
                                   │
                                   └── NormalizedText.span(i, j) ──> (start, end) in original

What `normalize` does, beyond Unicode NFKC applied character by character:
  * digits NFKC misses become ASCII digits: negative circled (❶ ⓿), dingbat (➊), any
    Unicode decimal digit (Arabic-Indic, Devanagari…); full-width and mathematical digits
    (𝟓) too, which NFKC also covers;
  * emoji keycaps (4️⃣): the variation selector and the enclosing keycap mark are dropped
    and their span joins the digit before them, as do other combining marks (7̶) and
    zero-width characters;
  * look-alike letters used as digits or in words (Cyrillic/Greek О, о, І, Ι …) become
    their Latin twins; typographic quotes and dashes become ASCII ones;
  * HTML: tags are removed (block tags become a line break), character references decoded,
    script/style content dropped;
  * white space: every space character becomes " " and every line break "\n", one for one;
    in HTML, runs of white space collapse to one (as a browser shows them).
Only HTML and characters that expand or vanish (⑩ → 10, keycaps, marks) make the offsets of
the normalized text differ from the original's; then `OffsetMap` maps them back.
Case is kept; matchers use case-insensitive patterns.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

_SPECIAL = re.compile(
    r"(?P<comment><!--.*?(?:-->|\Z))"
    r"|(?P<code><((?i:script|style))\b.*?(?:</(?i:\3)\s*>|\Z))"
    r"|(?P<tag></?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>)"
    r"|(?P<ref>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<space>\s{2,}|[\t\r\f\v\x1c-\x1f])"
    r"|(?P<uni>[^\x00-\x7f]+)",
    re.DOTALL,  # not IGNORECASE: "ſ" and the Kelvin sign would fold into [^\x00-\x7f]'s ASCII
)
_MARKUP = re.compile(r"</?[A-Za-z]|<!--|&#?[A-Za-z0-9]{2,31};")
_BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "ul",
))  # fmt: skip
_INLINE_TAGS = frozenset((
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "em", "font", "i", "kbd", "mark",
    "q", "s", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
    "wbr",
))  # fmt: skip
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)")

# Letters that look like Latin O/o/I/l and are used in their place.
_LOOKALIKES = {
    "О": "O",
    "о": "o",
    "Ο": "O",
    "ο": "o",
    "Օ": "O",
    "օ": "o",
    "〇": "0",
    "І": "I",
    "і": "i",
    "Ι": "I",
    "ι": "i",
    "Ӏ": "I",
    "ӏ": "l",
    "ǀ": "l",
    "Ѕ": "S",
    "ѕ": "s",
    "А": "A",
    "а": "a",
    "Е": "E",
    "е": "e",
    "Т": "T",
    "В": "B",
    "М": "M",
    "Н": "H",
    "Р": "P",
    "р": "p",
    "С": "C",
    "с": "c",
    "Х": "X",
    "х": "x",
    "у": "y",
    "К": "K",
}
_PUNCT = {
    "‘": "'",
    "’": "'",
    "‛": "'",
    "′": "'",
    "ʼ": "'",
    "“": '"',
    "”": '"',
    "″": '"',
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "﹣": "-",
    "－": "-",
    "…": "...",
}
_LINE_BREAKS = "\n\r\f\v\x1c\x1d\x1e\x85\u2028\u2029"
_DROP = "\x00"
# Variation selectors and the zero-width joiner dress emoji (✈️, ❤️, 👩‍❤️‍👨). When the text
# has no keycap (4️⃣, whose marks must vanish so its digit joins the next one), they are
# kept one for one: emoji-laden ads then need no offset map, and matchers see separators.
EMOJI_MARKS: Final = frozenset("\ufe0e\ufe0f\u200d")
_DIGIT_VALUES = frozenset(
    float(d) for d in range(10)
)  # marker: the character is removed and its span joins the one before


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """The normalized replacement of one non-ASCII character (`_DROP` to drop it)."""
    if ch in _LOOKALIKES:
        return _LOOKALIKES[ch]
    if ch in _PUNCT:
        return _PUNCT[ch]
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf"):
        return _DROP
    if ch.isspace():
        return "\n" if ch in _LINE_BREAKS else " "
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)
    value = unicodedata.numeric(ch, None)  # digits without the digit property (🄋)
    if value in _DIGIT_VALUES and "DIGIT" in unicodedata.name(ch, ""):
        return str(int(value))
    folded = unicodedata.normalize("NFKC", ch)
    return "".join(_LOOKALIKES.get(c, _PUNCT.get(c, c)) for c in folded)


@dataclass(slots=True)
class _Segments:
    """Piecewise map from output offsets to original offsets.

    A segment either copies original characters one for one (``identity``) or stands for
    an original span as a whole (every output character maps to all of it).
    """

    out_starts: list[int] = field(default_factory=list)
    orig_starts: list[int] = field(default_factory=list)
    orig_ends: list[int] = field(default_factory=list)
    identity: list[bool] = field(default_factory=list)


class OffsetMap:
    """Map offsets of a transformed text back to the text it came from."""

    __slots__ = ("_seg",)

    def __init__(self, segments: _Segments | None = None) -> None:
        self._seg = segments

    @property
    def is_identity(self) -> bool:
        """True when output and original offsets are the same."""
        return self._seg is None

    def _locate(self, i: int) -> tuple[int, int]:
        seg = self._seg
        assert seg is not None
        k = bisect_right(seg.out_starts, i) - 1
        # Zero-length segments share an out_start with the next one; take the last.
        return k, i - seg.out_starts[k]

    def start(self, i: int) -> int:
        """Original offset where output character ``i`` begins."""
        if self._seg is None:
            return i
        k, delta = self._locate(i)
        seg = self._seg
        return seg.orig_starts[k] + delta if seg.identity[k] else seg.orig_starts[k]

    def end(self, i: int) -> int:
        """Original offset just after output character ``i``."""
        if self._seg is None:
            return i + 1
        k, delta = self._locate(i)
        seg = self._seg
        return seg.orig_starts[k] + delta + 1 if seg.identity[k] else seg.orig_ends[k]

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the non-empty output span ``[i, j)``."""
        if j <= i:
            raise ValueError(f"empty span {i}..{j}")
        return self.start(i), self.end(j - 1)


class _Builder:
    """Accumulate output text and its segments while scanning an original text."""

    __slots__ = ("parts", "seg", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.seg = _Segments()
        self.size = 0

    def _add(self, out: str, start: int, end: int, identity: bool) -> None:
        self.seg.out_starts.append(self.size)
        self.seg.orig_starts.append(start)
        self.seg.orig_ends.append(end)
        self.seg.identity.append(identity)
        self.parts.append(out)
        self.size += len(out)

    def keep(self, text: str, start: int, end: int) -> None:
        if end > start:
            self._add(text[start:end], start, end, True)

    def replace(self, out: str, start: int, end: int) -> None:
        if out:
            self._add(out, start, end, False)
        else:
            self.attach(end)

    def attach(self, end: int) -> None:
        """Let the last output character's span extend to ``end`` (dropped marks)."""
        seg = self.seg
        if not seg.out_starts or self.size == 0:
            return
        k = len(seg.out_starts) - 1
        while k > 0 and seg.out_starts[k] == self.size:  # skip empty trailing segments
            k -= 1
        if seg.identity[k]:
            last = seg.orig_starts[k] + (self.size - seg.out_starts[k]) - 1
            char = self.parts[-1][-1]
            if self.size - seg.out_starts[k] == 1:
                seg.identity[k] = False
                seg.orig_ends[k] = end
                return
            # Split the last character off the identity run into its own segment.
            seg.orig_ends[k] = last
            self.parts[-1] = self.parts[-1][:-1]
            self.size -= 1
            self._add(char, last, end, False)
        else:
            seg.orig_ends[k] = end

    def build(self) -> tuple[str, OffsetMap]:
        return "".join(self.parts), OffsetMap(self.seg)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalized text and the way back to the original."""

    original: str
    text: str
    offsets: OffsetMap

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalized span ``[i, j)``."""
        return self.offsets.span(i, j)

    def raw(self, i: int, j: int) -> tuple[str, int, int]:
        """Original text, start and end of the normalized span ``[i, j)``."""
        start, end = self.offsets.span(i, j)
        return self.original[start:end], start, end


_NOT_PLAIN_ASCII = re.compile(r"[^\x20-\x7e\n]")
_ODD_ASCII = re.compile(r"[\t\r\f\v\x1c-\x1f]")


def _one_to_one(text: str) -> str | None:
    """``text`` with every character folded, when each folds to exactly one character.

    None when some character expands or disappears (then offsets need a map).
    """
    for ch in set(_NOT_PLAIN_ASCII.findall(text)):  # a regex scan beats set(text) - plain
        if ch in EMOJI_MARKS:
            continue  # kept as they are (see EMOJI_MARKS); a keycap mark still drops them
        folded = _fold_char(ch)  # ASCII control characters: white space, or themselves
        if folded == ch:
            continue
        if len(folded) != 1 or folded == _DROP:
            return None
        text = text.replace(ch, folded)
    return text


def _fold_unicode(out: _Builder, text: str, start: int, end: int) -> None:
    for i in range(start, end):
        ch = text[i]
        folded = _fold_char(ch)
        if folded == _DROP:
            out.attach(i + 1)
        elif folded == ch:
            out.keep(text, i, i + 1)
        else:
            out.replace(folded, i, i + 1)


def _tag(match: re.Match[str]) -> str:
    name = _TAG_NAME.match(match.group())
    tag = name.group(1).lower() if name else ""
    if tag in _BLOCK_TAGS:
        return "\n"
    return "" if tag in _INLINE_TAGS else " "


def normalize(text: str) -> NormalizedText:
    """Normalize ``text`` for matching, keeping the map back to its offsets.

    Most texts need no offset map: when every character folds to exactly one character
    and there is no HTML, the normalized text has the original's offsets.
    """
    has_markup = ("<" in text or "&" in text) and _MARKUP.search(text) is not None
    if not has_markup:
        if text.isascii() and _ODD_ASCII.search(text) is None:
            return NormalizedText(text, text, OffsetMap())
        folded = _one_to_one(text)
        if folded is not None:
            return NormalizedText(text, folded, OffsetMap())
    out = _Builder()
    pos = 0
    for m in _SPECIAL.finditer(text):
        kind = m.lastgroup
        out.keep(text, pos, m.start())
        if kind == "uni" or (kind == "space" and not has_markup):
            # outside HTML, white space is folded one for one, not collapsed
            _fold_unicode(out, text, m.start(), m.end())
        elif kind == "space":
            breaks = any(c in _LINE_BREAKS for c in m.group())
            out.replace("\n" if breaks else " ", *m.span())
        elif kind == "ref":
            decoded = html.unescape(m.group())
            if decoded.isspace():  # "&#9;", "&#13;", "&nbsp;" read as white space
                decoded = "\n" if any(c in _LINE_BREAKS for c in decoded) else " "
            if len(decoded) == 1 and not decoded.isascii():
                decoded = _fold_char(decoded)
                decoded = "" if decoded == _DROP else decoded
            if decoded:
                out.replace(decoded, *m.span())
        elif kind == "tag":
            replacement = _tag(m)
            if replacement:
                out.replace(replacement, *m.span())
        # comments, scripts and styles have nothing to read: they are left out
        pos = m.end()
    out.keep(text, pos, len(text))
    normalized, offsets = out.build()
    return NormalizedText(text, normalized, offsets)
