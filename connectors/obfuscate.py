"""Write a US phone number the ways ad posters do, plain or obfuscated, for synthetic ads.

    "+17025550147" ─ render(e164, style, rng) ─┬─ plain:      (702) 555-0147 · 702.555.0147 · …
                                               └─ obfuscated: seven zero two triple five …
                                                              7O2.555.O147 · ⑦⓪②⑤⑤⑤⓪①④⑦ …

Every style here is one that `pipeline.phones.extract_phones` reads back to the same E.164
number (tests check each style on many numbers), and every obfuscated style is one its
``obfuscated`` flag marks. Styles that the extractor does not read — tens and teens in words
("seventy-two"), homophones ("for" for 4), letters other than O/l/I for digits — are
deliberately left out. Randomness (which words, which separator) comes only from the
``random.Random`` passed in, so output is deterministic for a seeded generator.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

Render = Callable[[str, random.Random], str]  # ten national digits, rng -> text

WORDS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_FULLWIDTH: Final = "０１２３４５６７８９"
_CIRCLED: Final = "⓪①②③④⑤⑥⑦⑧⑨"
_DINGBAT: Final = "⓿❶❷❸❹❺❻❼❽❾"  # negative circled
_MATH: Final = ("𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", "𝟘𝟙𝟚𝟛𝟜𝟝𝟞𝟟𝟠𝟡", "𝟶𝟷𝟸𝟹𝟺𝟻𝟼𝟽𝟾𝟿")  # bold, double-struck, mono
_KEYCAP: Final = "\ufe0f\u20e3"
_ODD_SEPARATORS: Final = (
    "~",
    "/",
    "*",
    "**",
    "..",
    "_",
    " ~ ",
    " / ",
    "•",
    "|",
    " ✨ ",
    "⭐",
    "💫",
)


def national(e164: str) -> str:
    """The ten national digits of a ``+1NPANXXXXXX`` number."""
    if len(e164) != 12 or not e164.startswith("+1") or not e164[2:].isdigit():
        raise ValueError(f"expected a +1 and ten digits, got {e164!r}")
    return e164[2:]


def _groups(digits: str) -> tuple[str, str, str]:
    return digits[:3], digits[3:6], digits[6:]


def _join(digits: str, sep: str) -> str:
    return sep.join(_groups(digits))


def _mapped(digits: str, table: str) -> str:
    return "".join(table[int(d)] for d in digits)


# ── plain: what phone parsers expect ───────────────────────────────────────────────────


def _paren(d: str, _rng: random.Random) -> str:
    a, b, c = _groups(d)
    return f"({a}) {b}-{c}"


def _plus1(d: str, _rng: random.Random) -> str:
    return "+1 " + _join(d, " ")


def _one_dash(d: str, _rng: random.Random) -> str:
    return "1-" + _join(d, "-")


PLAIN: Final[dict[str, Render]] = {
    "paren": _paren,
    "dots": lambda d, _r: _join(d, "."),
    "dashes": lambda d, _r: _join(d, "-"),
    "spaces": lambda d, _r: _join(d, " "),
    "plus1": _plus1,
    "run": lambda d, _r: d,
    "one_dash": _one_dash,
}

# ── obfuscated: written so plain parsers miss them ─────────────────────────────────────


def _words(d: str, rng: random.Random) -> str:
    """``seven zero two five five five zero one four seven``; some zeros as "oh"."""
    oh = rng.random() < 0.5
    return " ".join("oh" if oh and c == "0" and rng.random() < 0.7 else WORDS[int(c)] for c in d)


def _words_caps(d: str, _rng: random.Random) -> str:
    """``Seven-Zero-Two-Five-…``."""
    return "-".join(WORDS[int(c)].capitalize() for c in d)


def _words_spoken(d: str, rng: random.Random) -> str:
    """``seven zero two dash triple five dash oh one four seven``."""
    parts = []
    for group in _groups(d):
        if len(set(group)) == 1 and len(group) == 3:
            parts.append(f"triple {WORDS[int(group[0])]}")
        else:
            parts.append(" ".join("oh" if c == "0" else WORDS[int(c)] for c in group))
    return f" {rng.choice(('dash', 'dot'))} ".join(parts)


def _mixed(d: str, rng: random.Random) -> str:
    """``7one2 5five5 0one4seven``: each digit a word or a digit, groups glued."""
    groups = []
    for group in _groups(d):
        chars = [WORDS[int(c)] if rng.random() < 0.45 else c for c in group]
        if all(c.isdigit() for c in chars):  # at least one word per group
            i = rng.randrange(len(group))
            chars[i] = WORDS[int(group[i])]
        groups.append("".join(chars))
    return rng.choice((" ", "-")).join(groups)


def _letters(d: str, rng: random.Random) -> str:
    """``7O2.555.O147``: O for 0 and l/I for 1, never as the first or last character."""
    zero, one = rng.choice(("O", "o", "\u041e")), rng.choice("lI")  # \u041e: Cyrillic O
    inner = "".join({"0": zero, "1": one}.get(c, c) for c in d[1:-1])
    return _join(d[0] + inner + d[-1], rng.choice((".", "-", " ")))


def _fullwidth(d: str, rng: random.Random) -> str:
    return _join(_mapped(d, _FULLWIDTH), rng.choice(("-", " ", "", "－", "　")))


def _circled(d: str, rng: random.Random) -> str:
    table = rng.choice((_CIRCLED, _DINGBAT))
    return _join(_mapped(d, table), rng.choice(("", " ")))


def _math(d: str, rng: random.Random) -> str:
    return _join(_mapped(d, rng.choice(_MATH)), rng.choice((" ", "-", ".")))


def _keycap(d: str, rng: random.Random) -> str:
    caps = "".join(c + _KEYCAP for c in d)
    if rng.random() < 0.5:
        return caps
    a, b, c = _groups(d)
    return " ".join("".join(ch + _KEYCAP for ch in g) for g in (a, b, c))


def _spaced(d: str, rng: random.Random) -> str:
    """``7 0 2  5 5 5  0 1 4 7`` or one digit at a time with dashes or dots."""
    sep = rng.choice((" ", "-", "."))
    gap = "  " if sep == " " else sep
    return gap.join(sep.join(g) for g in _groups(d))


def _odd_separator(d: str, rng: random.Random) -> str:
    return _join(d, rng.choice(_ODD_SEPARATORS))


def _wide_dash(d: str, _rng: random.Random) -> str:
    return _join(d, " - ")


def _newlines(d: str, rng: random.Random) -> str:
    return _join(d, rng.choice(("\n", " \n", "\n\n")))


def _brackets(d: str, rng: random.Random) -> str:
    a, b, c = _groups(d)
    return rng.choice((f"[{a}] {b} {c}", f"{{{a}}} {b}-{c}", f"({a})({b})({c})", f"[{a}]{b}.{c}"))


def _unicode_mix(d: str, rng: random.Random) -> str:
    """Each digit ASCII, full-width or bold at random: ``7０2 5𝟓5 0１47``."""
    tables = ("0123456789", _FULLWIDTH, _MATH[0])
    chars = [rng.choice(tables)[int(c)] for c in d]
    if all(c.isascii() for c in chars):
        chars[4] = _FULLWIDTH[int(d[4])]
    return _join("".join(chars), rng.choice((" ", "-")))


def _zero_width(d: str, rng: random.Random) -> str:
    """Groups joined by invisible characters (zero-width space, word joiner)."""
    return _join(d, rng.choice(("\u200b", "\u2060", "\u200b-")))


OBFUSCATED: Final[dict[str, Render]] = {
    "words": _words,
    "words_caps": _words_caps,
    "words_spoken": _words_spoken,
    "mixed": _mixed,
    "letters": _letters,
    "fullwidth": _fullwidth,
    "circled": _circled,
    "math": _math,
    "keycap": _keycap,
    "spaced": _spaced,
    "odd_separator": _odd_separator,
    "wide_dash": _wide_dash,
    "newlines": _newlines,
    "brackets": _brackets,
    "unicode_mix": _unicode_mix,
    "zero_width": _zero_width,
}
STYLES: Final[dict[str, Render]] = {**PLAIN, **OBFUSCATED}


def render(e164: str, style: str, rng: random.Random) -> str:
    """Write ``e164`` (a ``+1`` number) in ``style``, one of `STYLES`."""
    try:
        writer = STYLES[style]
    except KeyError:
        raise ValueError(f"unknown phone style {style!r}; one of {', '.join(STYLES)}") from None
    return writer(national(e164), rng)


def pick_style(rng: random.Random, obfuscated_share: float) -> str:
    """A style: obfuscated with probability ``obfuscated_share``, else plain; uniform within."""
    pool = OBFUSCATED if rng.random() < obfuscated_share else PLAIN
    return rng.choice(sorted(pool))
