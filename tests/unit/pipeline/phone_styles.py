"""Renderers for phone-number obfuscation styles, and hypothesis strategies built on them.

Each `Family` renders a 10-digit NANP national number ("7025550123") the way ads write
it: "(702) 555-0123", "seven oh two…", "7️⃣0️⃣2️⃣…", "702💋555💋0123" and so on. Renderers
take a hypothesis ``draw`` so every family covers its own variants (separators, case,
which digits become words). `ad_cases` wraps a rendering in realistic ad text with a cue;
`international_cases` does the same for +44 / +61 / +33 numbers and national numbers
read with their region hint.

All numbers are random but valid for phonenumbers (the extractor validates with it), and
the wording is synthetic and non-explicit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

Renderer = Callable[[str, st.DrawFn], str]

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Real area codes (US and Canada); the numbers drawn are filtered with phonenumbers.
_AREA_CODE_LIST = (
    "201 202 203 205 206 207 208 210 212 213 214 215 216 217 218 219 224 225 228 229 "
    "231 234 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 "
    "304 305 307 308 309 310 312 313 314 315 316 317 318 319 320 321 323 325 330 334 "
    "336 337 339 346 347 352 360 361 385 386 401 402 403 404 405 406 407 408 409 410 "
    "412 413 414 415 416 417 419 423 424 425 432 434 435 440 443 469 470 475 478 479 "
    "480 484 501 502 503 504 505 507 508 509 510 512 513 514 515 516 517 518 520 530 "
    "540 541 551 559 561 562 563 567 570 571 573 574 575 580 585 586 601 602 603 604 "
    "605 606 607 608 609 610 612 613 614 615 616 617 618 619 620 623 626 630 631 636 "
    "641 646 647 650 651 657 660 661 662 678 682 701 702 703 704 706 707 708 712 713 "
    "714 715 716 717 718 719 720 724 725 727 731 732 734 737 740 747 754 757 760 762 "
    "763 765 770 772 773 774 775 778 779 781 785 786 801 802 803 804 805 806 808 810 "
    "812 813 814 815 816 817 818 828 830 831 832 843 845 847 850 856 857 858 859 860 "
    "862 863 864 865 870 901 903 904 905 907 908 909 910 912 913 914 915 916 917 918 "
    "919 920 925 928 929 931 936 937 940 941 949 951 952 954 956 970 971 972 973 978 "
    "979 980 984 985 989"
)
AREA_CODES = tuple(_AREA_CODE_LIST.split())


def is_valid(e164: str) -> bool:
    """True when phonenumbers accepts ``e164`` as a valid number."""
    return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))


def geo_of(e164: str) -> str | None:
    """The geographic description the extractor should report for ``e164``."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.geocoder.description_for_number(number, "en") or None


def region_of(e164: str) -> str | None:
    """The ISO region of ``e164``."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))


_digit = st.sampled_from("0123456789")
_lines = st.one_of(
    st.integers(0, 9999).map("{:04d}".format),  # any line number
    st.integers(100, 199).map("0{}".format),  # 555-01XX style
    _digit.map(lambda d: d * 4),  # 0000, 1111 … (memorable numbers)
    st.tuples(_digit, _digit).map(lambda p: (p[0] + p[1]) * 2),  # 1010, 2020 …
    st.tuples(_digit, _digit).map(lambda p: p[0] + p[1] * 3),  # 1000, 9000 …
)
_exchanges = st.one_of(st.integers(200, 999).map(str), st.just("555"))


@st.composite
def _us_number(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(AREA_CODES)) + draw(_exchanges) + draw(_lines)


def us_numbers(needs: str = "") -> st.SearchStrategy[str]:
    """Valid 10-digit NANP national numbers holding every digit in ``needs``."""
    return _us_number().filter(lambda n: all(d in n for d in needs) and is_valid("+1" + n))


def groups(national: str) -> tuple[str, str, str]:
    """The 3-3-4 groups of a NANP national number."""
    return national[:3], national[3:6], national[6:]


def _join(draw: st.DrawFn, national: str, seps: list[str]) -> str:
    sep = draw(st.sampled_from(seps))
    return sep.join(groups(national))


def _translate(national: str, table: str) -> str:
    return "".join(table[int(d)] for d in national)


# ---------------------------------------------------------------------------------------
# Renderers, one per family.


def paren(n: str, draw: st.DrawFn) -> str:
    a, b, c = groups(n)
    fmt = draw(st.sampled_from(["({a}) {b}-{c}", "({a}){b}-{c}", "({a}) {b} {c}", "({a}) {b}.{c}"]))
    return fmt.format(a=a, b=b, c=c)


def dots(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["."])


def spaces(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, [" "])


def dashes(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["-"])


def plus1(n: str, draw: st.DrawFn) -> str:
    a, b, c = groups(n)
    fmt = draw(
        st.sampled_from(
            [
                "+1 {a} {b} {c}",
                "+1-{a}-{b}-{c}",
                "+1 {a}-{b}-{c}",  # phonenumbers' INTERNATIONAL format
                "+1.{a}.{b}.{c}",
                "+1{a}{b}{c}",  # E.164
                "+1 ({a}) {b}-{c}",
            ]
        )
    )
    return fmt.format(a=a, b=b, c=c)


def one_dash(n: str, draw: st.DrawFn) -> str:
    """The trunk "1" before the area code, no plus."""
    a, b, c = groups(n)
    fmt = draw(
        st.sampled_from(
            ["1-{a}-{b}-{c}", "1-{a}-{b}-{c}", "1 {a} {b} {c}", "1.{a}.{b}.{c}", "1 ({a}) {b}-{c}"]
        )
    )
    return fmt.format(a=a, b=b, c=c)


def run(n: str, draw: st.DrawFn) -> str:
    return n


def spaced_digits(n: str, draw: st.DrawFn) -> str:
    gap = draw(st.sampled_from(["  ", " "]))
    return gap.join(" ".join(g) for g in groups(n))


def _word_case(draw: st.DrawFn) -> Callable[[str], str]:
    return draw(st.sampled_from([str.lower, str.title, str.upper]))


def all_words(n: str, draw: st.DrawFn) -> str:
    case = draw(st.sampled_from([str.lower, str.lower, str.title, str.upper]))
    return " ".join(case(WORDS[int(d)]) for d in n)


def all_words_caps(n: str, draw: st.DrawFn) -> str:
    return "-".join(WORDS[int(d)].title() for d in n)


def oh_words(n: str, draw: st.DrawFn) -> str:
    """Words with "oh" for zero (the number holds a zero)."""
    return " ".join("oh" if d == "0" else WORDS[int(d)] for d in n)


def _mixed_groups(n: str, draw: st.DrawFn) -> list[str]:
    """Each digit written as a digit or a word, at least one of each."""
    as_word = draw(
        st.lists(st.booleans(), min_size=10, max_size=10).filter(lambda w: 0 < sum(w) < 10)
    )
    case = draw(st.sampled_from([str.lower, str.lower, str.lower, str.title, str.upper]))
    out = [case(WORDS[int(d)]) if w else d for d, w in zip(n, as_word, strict=True)]
    return ["".join(out[:3]), "".join(out[3:6]), "".join(out[6:])]


def mixed(n: str, draw: st.DrawFn) -> str:
    return " ".join(_mixed_groups(n, draw))


def mixed_dash(n: str, draw: st.DrawFn) -> str:
    return "-".join(_mixed_groups(n, draw))


def _letters_for(n: str, digit: str, letters: str, draw: st.DrawFn) -> str:
    out = [draw(st.sampled_from(letters)) if d == digit else d for d in n]
    sep = draw(st.sampled_from([".", "-", " ", "", "spaced"]))
    if sep == "spaced":  # every character apart: "7 O 2 5 5 5 O 1 2 3"
        return "  ".join(" ".join(g) for g in (out[:3], out[3:6], out[6:]))
    return sep.join(["".join(out[:3]), "".join(out[3:6]), "".join(out[6:])])


def letter_o(n: str, draw: st.DrawFn) -> str:
    """Every 0 written O (or o); the number holds a zero."""
    letters = draw(st.sampled_from(["O", "o", "Oo"]))
    return _letters_for(n, "0", letters, draw)


def letter_l(n: str, draw: st.DrawFn) -> str:
    """Every 1 written l or I; the number holds a one."""
    letters = draw(st.sampled_from(["l", "I", "lI"]))
    return _letters_for(n, "1", letters, draw)


FULLWIDTH = "０１２３４５６７８９"
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
NEGATIVE_CIRCLED = "⓿❶❷❸❹❺❻❼❽❾"
NEGATIVE_CIRCLED_SANS = "⓿➊➋➌➍➎➏➐➑➒"  # the dingbats' own zero is 🄌 (below)
CIRCLED_SANS = "🄋➀➁➂➃➄➅➆➇➈"  # DINGBAT CIRCLED SANS-SERIF DIGIT ZERO … NINE
NEGATIVE_CIRCLED_SANS_OWN_ZERO = "🄌➊➋➌➍➎➏➐➑➒"
MATH_DIGITS = {
    "bold": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
    "double_struck": "𝟘𝟙𝟚𝟛𝟜𝟝𝟞𝟟𝟠𝟡",
    "sans_serif": "𝟢𝟣𝟤𝟥𝟦𝟧𝟨𝟩𝟪𝟫",
    "sans_serif_bold": "𝟬𝟭𝟮𝟯𝟰𝟱𝟲𝟳𝟴𝟵",
    "monospace": "𝟶𝟷𝟸𝟹𝟺𝟻𝟼𝟽𝟾𝟿",
}


def fullwidth(n: str, draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(["-", "－", " ", "\u3000", ""]))
    return sep.join(_translate(g, FULLWIDTH) for g in groups(n))


def circled(n: str, draw: st.DrawFn) -> str:
    table = draw(st.sampled_from([CIRCLED, CIRCLED, CIRCLED_SANS]))
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    return sep.join(_translate(g, table) for g in groups(n))


def negative_circled(n: str, draw: st.DrawFn) -> str:
    table = draw(
        st.sampled_from([NEGATIVE_CIRCLED, NEGATIVE_CIRCLED_SANS, NEGATIVE_CIRCLED_SANS_OWN_ZERO])
    )
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    return sep.join(_translate(g, table) for g in groups(n))


def math_digits(n: str, draw: st.DrawFn) -> str:
    table = draw(st.sampled_from(sorted(MATH_DIGITS.values())))
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    return sep.join(_translate(g, table) for g in groups(n))


def keycap(n: str, draw: st.DrawFn) -> str:
    """4️⃣ = digit + VS16 + COMBINING ENCLOSING KEYCAP (VS16 sometimes missing)."""
    cap = draw(st.sampled_from(["\ufe0f\u20e3", "\ufe0f\u20e3", "\u20e3"]))
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    return sep.join("".join(d + cap for d in g) for g in groups(n))


def tilde(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["~", " ~ "])


def slash(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["/"])


def stars(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["**", "*", "***"])


def double_dot(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["..", "..."])


def newlines(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["\n", "\r\n", "\n\n"])


def wide_dash(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, [" - ", " – ", " — "])


def brackets(n: str, draw: st.DrawFn) -> str:
    a, b, c = groups(n)
    fmt = draw(st.sampled_from(["[{a}] {b} {c}", "[{a}] {b}-{c}", "[{a}]{b}-{c}"]))
    return fmt.format(a=a, b=b, c=c)


def underscores(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["_", "__", " _ "])


EMOJI_SEPARATORS = ["💋", "🌹", "❤️", "🔥", "⭐", "✨", "💕", "🍒", " 💋 "]


def emoji_sep(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, EMOJI_SEPARATORS)


ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def zero_width(n: str, draw: st.DrawFn) -> str:
    """A zero-width character between digits (every digit, or only between groups)."""
    zw = draw(st.sampled_from(ZERO_WIDTH))
    if draw(st.booleans()):
        return zw.join(n)
    a, b, c = groups(n)
    return f"{a}{zw}{b}{zw}{c}"


def html_wrapped(n: str, draw: st.DrawFn) -> str:
    a, b, c = groups(n)
    fmt = draw(
        st.sampled_from(
            [
                "<b>{a}</b>-{b}-{c}",
                "<strong>{a}</strong> {b} {c}",
                "<span>{a}</span><span>{b}</span><span>{c}</span>",
                "<i>{a}</i>.<i>{b}</i>.<i>{c}</i>",
                "{a}&#45;{b}&#45;{c}",
                "{a}&nbsp;{b}&nbsp;{c}",
                "{a}<br>{b}<br>{c}",
                "<b>{a}</b><!-- -->{b}-{c}",
                '<span class="p">{a}</span>-<span class="p">{b}</span>-{c}',
                "<p>{a}</p><p>{b}</p><p>{c}</p>",
                "{a}&middot;{b}&middot;{c}",
                "ENTITIES",
            ]
        )
    )
    if fmt == "ENTITIES":  # every digit a character reference: &#55;&#48;&#50;…
        return "-".join("".join(f"&#{ord(d)};" for d in g) for g in (a, b, c))
    return fmt.format(a=a, b=b, c=c)


def spoken_separators(n: str, draw: st.DrawFn) -> str:
    """Words with the separators spelled out: "seven zero two dash five five five dash…"."""
    word = draw(st.sampled_from([" dash ", " dot ", " hyphen ", " DASH "]))
    return word.join(" ".join(WORDS[int(d)] for d in g) for g in groups(n))


def words_glued(n: str, draw: st.DrawFn) -> str:
    """All words without spaces: "sevenzerotwo…", "SevenZeroTwo…"."""
    case = _word_case(draw)
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    return sep.join("".join(case(WORDS[int(d)]) for d in g) for g in groups(n))


def words_emoji(n: str, draw: st.DrawFn) -> str:
    """Words separated by emoji: "seven💋zero💋two…"."""
    emoji = draw(st.sampled_from(["💋", "🌹", "❤️", "✨"]))
    return emoji.join(WORDS[int(d)] for d in n)


def digit_apart(n: str, draw: st.DrawFn) -> str:
    """Every digit apart with a dash, dot or line break: "7-0-2-5-5-5-0-1-2-3"."""
    sep = draw(st.sampled_from(["-", ".", "\n", " - ", "/"]))
    return sep.join(n)


def words_and_digits_apart(n: str, draw: st.DrawFn) -> str:
    """Digits and words each apart: "7 zero 2 5 five 5 0 one 2 3"."""
    as_word = draw(st.lists(st.booleans(), min_size=10, max_size=10).filter(lambda w: sum(w) > 0))
    sep = draw(st.sampled_from([" ", "-"]))
    return sep.join(WORDS[int(d)] if w else d for d, w in zip(n, as_word, strict=True))


SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUBSCRIPT = "₀₁₂₃₄₅₆₇₈₉"
SCRIPT_DIGITS = {
    "arabic_indic": "٠١٢٣٤٥٦٧٨٩",
    "extended_arabic_indic": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "bengali": "০১২৩৪৫৬৭৮৯",
}


def super_subscript(n: str, draw: st.DrawFn) -> str:
    table = draw(st.sampled_from([SUPERSCRIPT, SUBSCRIPT]))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(_translate(g, table) for g in groups(n))


def script_digits(n: str, draw: st.DrawFn) -> str:
    """Decimal digits of other scripts (Arabic-Indic, Devanagari…)."""
    table = draw(st.sampled_from(sorted(SCRIPT_DIGITS.values())))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(_translate(g, table) for g in groups(n))


def combining(n: str, draw: st.DrawFn) -> str:
    """Each digit struck through or underlined with a combining mark: "7̶0̶2̶…"."""
    mark = draw(st.sampled_from(["\u0336", "\u0332", "\u0335", "\u0338"]))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join("".join(d + mark for d in g) for g in groups(n))


def pipes_bullets(n: str, draw: st.DrawFn) -> str:
    return _join(draw, n, ["|", " | ", "•", " • ", "·", "=", "+", ">"])


@dataclass(frozen=True)
class Family:
    """A way of writing a number; ``obfuscated`` is what the extractor should report."""

    name: str
    render: Renderer
    obfuscated: bool
    needs: str = ""  # digits the number must hold for the style to show


PLAIN_FAMILIES = [
    Family("paren", paren, False),
    Family("dots", dots, False),
    Family("spaces", spaces, False),
    Family("dashes", dashes, False),
    Family("plus1", plus1, False),
    Family("one_dash", one_dash, False),
    Family("run", run, False),
]
OBFUSCATED_FAMILIES = [
    Family("spaced_digits", spaced_digits, True),
    Family("all_words", all_words, True),
    Family("all_words_caps", all_words_caps, True),
    Family("oh_words", oh_words, True, needs="0"),
    Family("mixed", mixed, True),
    Family("mixed_dash", mixed_dash, True),
    Family("letter_o", letter_o, True, needs="0"),
    Family("letter_l", letter_l, True, needs="1"),
    Family("fullwidth", fullwidth, True),
    Family("circled", circled, True),
    Family("negative_circled", negative_circled, True),
    Family("math_digits", math_digits, True),
    Family("keycap", keycap, True),
    Family("tilde", tilde, True),
    Family("slash", slash, True),
    Family("stars", stars, True),
    Family("double_dot", double_dot, True),
    Family("newlines", newlines, True),
    Family("wide_dash", wide_dash, True),
    Family("brackets", brackets, True),
    Family("underscores", underscores, True),
    Family("emoji_sep", emoji_sep, True),
    Family("zero_width", zero_width, True),
    Family("html", html_wrapped, True),
    Family("spoken_separators", spoken_separators, True),
    Family("words_glued", words_glued, True),
    Family("words_emoji", words_emoji, True),
    Family("digit_apart", digit_apart, True),
    Family("words_and_digits_apart", words_and_digits_apart, True),
    Family("super_subscript", super_subscript, True),
    Family("script_digits", script_digits, True),
    Family("combining", combining, True),
    Family("pipes_bullets", pipes_bullets, True),
]
FAMILIES = {f.name: f for f in PLAIN_FAMILIES + OBFUSCATED_FAMILIES}

# Styles of the labeled dev set and the family rendering each one here.
DEV_STYLES = {
    "paren": "paren",
    "dots": "dots",
    "spaces": "spaces",
    "plus1": "plus1",
    "one_dash": "one_dash",
    "run": "run",
    "spaced_digits": "spaced_digits",
    "all_words": "all_words",
    "all_words_caps": "all_words_caps",
    "mixed": "mixed",
    "mixed_dash": "mixed_dash",
    "letter_o": "letter_o",
    "fullwidth": "fullwidth",
    "circled": "circled",
    "bold": "math_digits",
    "tilde": "tilde",
    "slash": "slash",
    "stars": "stars",
    "double_dot": "double_dot",
    "newlines": "newlines",
    "wide_dash": "wide_dash",
    "oh_words": "oh_words",
    "brackets": "brackets",
}

# ---------------------------------------------------------------------------------------
# Ad text around a number.

PREFIXES = [
    "Friendly conversation and company, upscale part of town.",
    "Now available near the convention center, no rush.",
    "Discreet companion, clean private place, evenings and weekends.",
    "Real photos, relaxed atmosphere, message for details.",
    "New in town this week!",
    "Sweet, classy and punctual. Dinner dates welcome.",
    "Hi gentlemen :) I'm the one you have been looking for.",
    "Visiting for a few days only",
    "",
]
SUFFIXES = [
    "",
    ".",
    " Available now.",
    " No blocked calls please.",
    "\nThank you!",
    " Serious inquiries only.",
    " 😘",
    " (text first)",
    " ask for Lily",
    "!!",
]
CUES = [
    "call",
    "Call",
    "CALL NOW",
    "txt",
    "text me",
    "txt only",
    "Tel:",
    "ring me",
    "cell#",
    "number",
    "📞",
    "",
]


# Ads in other languages or with names in other scripts (kept apart so a failure here is
# reported on its own rather than masking the families').
WORLD_PREFIXES = [
    "Hi, I'm İrem, new in town.",
    "Zoë here, sweet and classy.",
    "Renée, visiting this week only.",
    "Ayşe — elegant, discreet.",
    "新来的 new in town.",
    "Привет! Новая в городе.",
    "مرحبا, available now.",
    "Nueva en la ciudad, llámame.",
    "新来的，温柔。",
    "",
]
WORLD_CUES = ["电话", "电话：", "Тел.", "Звоните", "اتصل", "Téléphone", "Teléfono:", "☎️", "call"]


# A number, a name made of digit look-alikes (l, i, o) or a digit word right next to the
# phone, with nothing but a space between: what people write, and what a run of digits and
# separators swallows. Each is a context of its own in the tests.
NEXT_TO_PHONE = [
    ("Available 24/7 ", ""),
    ("Top 10 in town ", ""),
    ("Room 2 ", ""),
    ("Hi, I'm Lili ", ""),
    ("I'm the one ", ""),
    ("", " Lili"),
    ("", " oh and no blocked calls"),
    ("", " 24/7"),
    ("", " lol"),
    ("", " 2 girls available"),
]


@dataclass(frozen=True)
class AdCase:
    """An ad holding one phone number, and what the extractor should find."""

    text: str
    region: str
    e164: str
    family: str
    obfuscated: bool | None  # None: not checked
    start: int  # where the rendering sits in ``text``
    end: int


def wrap(
    rendering: str,
    draw: st.DrawFn,
    world: bool = False,
    next_to: tuple[str, str] | None = None,
) -> tuple[str, int, int]:
    """Put ``rendering`` in ad text after a cue; return the text and the rendering's span.

    ``world``: the ad is written in another language or names someone in another script.
    ``next_to``: text glued before and after the rendering (see `NEXT_TO_PHONE`).
    """
    if next_to is not None:
        before, after = next_to
        return before + rendering + after, len(before), len(before) + len(rendering)
    prefix = draw(st.sampled_from(WORLD_PREFIXES if world else PREFIXES))
    cue = draw(st.sampled_from(WORLD_CUES if world else CUES))
    suffix = draw(st.sampled_from(SUFFIXES))
    head = " ".join(p for p in (prefix, cue) if p)
    head = head + " " if head else ""
    return head + rendering + suffix, len(head), len(head) + len(rendering)


@st.composite
def ad_cases(
    draw: st.DrawFn,
    families: list[Family] | None = None,
    world: bool = False,
    next_to: tuple[str, str] | None = None,
) -> AdCase:
    """An ad with a random valid US number rendered in a random family."""
    family = draw(st.sampled_from(families or list(FAMILIES.values())))
    national = draw(us_numbers(family.needs))
    rendering = family.render(national, draw)
    text, start, end = wrap(rendering, draw, world, next_to)
    region = draw(st.sampled_from(["US", "US", "US", "CA"]))
    return AdCase(text, region, "+1" + national, family.name, family.obfuscated, start, end)


# ---------------------------------------------------------------------------------------
# International numbers: random ones, kept when phonenumbers says they are valid.

# (region, leading national digits, national length) of common fixed and mobile ranges
_INTERNATIONAL_RANGES = [
    ("GB", "20", 10),  # London
    ("GB", "121", 10),  # Birmingham
    ("GB", "161", 10),  # Manchester
    ("GB", "74", 10),  # mobile
    ("GB", "77", 10),
    ("GB", "79", 10),
    ("AU", "2", 9),  # Sydney
    ("AU", "3", 9),  # Melbourne
    ("AU", "4", 9),  # mobile
    ("AU", "7", 9),  # Brisbane
    ("FR", "1", 9),  # Paris: +33 1 42 68 53 00, six groups
    ("FR", "6", 9),  # mobile
]


@st.composite
def _international_number(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    region, lead, size = draw(st.sampled_from(_INTERNATIONAL_RANGES))
    rest = draw(st.text("0123456789", min_size=size - len(lead), max_size=size - len(lead)))
    code = phonenumbers.country_code_for_region(region)
    return phonenumbers.parse(f"+{code}{lead}{rest}", None)


def international_numbers() -> st.SearchStrategy[phonenumbers.PhoneNumber]:
    """Valid GB, AU and FR numbers (fixed lines and mobiles)."""
    return _international_number().filter(phonenumbers.is_valid_number)


_INTERNATIONAL_PREFIX = {"US": "011", "CA": "011", "GB": "00", "DE": "00"}


@st.composite
def international_cases(draw: st.DrawFn) -> AdCase:
    """A GB/AU/FR number in an ad: with its country code, or national with its region hint."""
    number = draw(international_numbers())
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    assert region is not None
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    kind = draw(
        st.sampled_from(
            ["international", "e164", "national", "dashes", "dots", "trunk_zero", "dial_prefix"]
        )
    )
    hint = draw(st.sampled_from(["US", region]))
    obfuscated: bool | None = False
    if kind == "international":  # +44 20 7946 0958
        rendering = international
    elif kind == "e164":  # +442079460958
        rendering = e164
    elif kind == "national":  # 020 7946 0958, read with the region hint
        rendering = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        hint = region
    elif kind in ("dashes", "dots"):  # +44-20-7946-0958, +44.20.7946.0958
        rendering = international.replace(" ", "-" if kind == "dashes" else ".")
    elif kind == "trunk_zero":  # +44 (0)20 7946 0958: plain or not is a matter of taste
        code, rest = international.split(" ", 1)
        rendering = f"{code} (0){rest}"
        obfuscated = None
    else:  # 011 44 20 7946 0958 in a US ad, 00 61 … in a GB ad
        hint = draw(st.sampled_from(sorted(r for r in _INTERNATIONAL_PREFIX if r != region)))
        rendering = _INTERNATIONAL_PREFIX[hint] + " " + international[1:]
        obfuscated = None
    text, start, end = wrap(rendering, draw)
    return AdCase(text, hint, e164, f"{kind}_{region}", obfuscated, start, end)
