"""Phrase lists: packaged files, analysts' additions and removals, how phrases match."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.indicators.content import load_lexicons
from pipeline.indicators.lexicon import (
    Lexicons,
    match_form,
    packaged_lists,
    phrase_key,
    read_lists,
)
from tests.unit.pipeline.indicators.conftest import FlagsOf

INDICATOR_LISTS = (
    "always_available", "coded_pricing", "hotel_incall", "law_enforcement_evasion", "movement",
    "multiple_persons", "third_party", "youth_language",
)  # fmt: skip


def test_every_word_indicator_has_its_three_files() -> None:
    lists = packaged_lists()
    for flag in INDICATOR_LISTS:
        assert {flag, f"{flag}.weak", f"{flag}.exclude"} <= set(lists), flag
    assert {"negators", "context_escort", "context_ordinary", "person_nouns"} <= set(lists)
    assert "new in town" in lists["movement"] and "no" in lists["negators"]


def test_phrase_keys_are_read_like_ad_text() -> None:
    assert phrase_key("  New   In-Town ") == "new in town"
    assert phrase_key("Ｄｏｎ’t") == "don't"
    assert phrase_key("✈️") == "✈"
    assert match_form("24-7 In_call\tnow") == "24 7 In call now"


def test_an_analysts_file_adds_a_phrase(tmp_path: Path, flags_of: FlagsOf) -> None:
    text = "Just blew in from the coast, sweet and discreet"
    assert "movement" not in flags_of(text)
    (tmp_path / "movement.txt").write_text(
        "# our region's wording\nJust  Blew-In\n", encoding="utf-8"
    )
    lexicons = load_lexicons([tmp_path])
    assert "just blew in" in lexicons.phrases("movement")
    found = flags_of(text, lexicons=lexicons)
    assert found["movement"][0].text == "Just blew in"


def test_a_dash_line_removes_a_packaged_phrase(tmp_path: Path, flags_of: FlagsOf) -> None:
    text = "New in town, sweet and discreet"
    assert "movement" in flags_of(text)
    (tmp_path / "movement.txt").write_text("-new in town\n", encoding="utf-8")
    lexicons = load_lexicons([tmp_path])
    assert "new in town" not in lexicons.phrases("movement")
    assert "movement" not in flags_of(text, lexicons=lexicons)


def test_comment_lines_and_hashtag_phrases(tmp_path: Path) -> None:
    (tmp_path / "movement.txt").write_text(
        "# a comment\n#\n## another\n#justlanded\n", encoding="utf-8"
    )
    added = read_lists([tmp_path])["movement"] - read_lists()["movement"]
    assert added == {"#justlanded"}
    assert "#nocops" in read_lists()["law_enforcement_evasion"]


def test_later_directories_apply_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "negators.txt").write_text("nah\n", encoding="utf-8")
    (second / "negators.txt").write_text("-nah\n- no\nnope nope\n", encoding="utf-8")
    lists = read_lists([first, second])
    assert "nah" not in lists["negators"] and "no" not in lists["negators"]
    assert "nope nope" in lists["negators"]
    assert "nah" in read_lists([first])["negators"]


def test_unknown_file_or_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "movment.txt").write_text("on the go\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"movment\.txt: no packaged lexicon"):
        read_lists([tmp_path])
    with pytest.raises(ValueError, match="does not exist"):
        read_lists([tmp_path / "missing"])


def test_other_files_in_an_extra_directory_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    assert read_lists([tmp_path]) == read_lists()


def test_hits_are_whole_words() -> None:
    lexicons = Lexicons.build({"movement": frozenset({"on tour"}), "youth_language": frozenset(
        {"teen", "24/7", "🍭"}
    )})  # fmt: skip
    hits = lexicons.scan(match_form("canteen fifteen teens teen. on tours on tour 124/7 24/7 x🍭x"))
    text = "canteen fifteen teens teen. on tours on tour 124/7 24/7 x🍭x"
    assert [text[s:e] for s, e in hits["youth_language"]] == ["teen", "24/7", "🍭"]
    assert [text[s:e] for s, e in hits["movement"]] == ["on tour"]


def test_possessive_is_not_a_hit_but_a_plural_possessive_is() -> None:
    lexicons = Lexicons.build({"third_party": frozenset({"my driver", "girls"})})
    text = "my driver's license, the girls' night"
    hits = lexicons.scan(text)
    assert [text[s:e] for s, e in hits["third_party"]] == ["girls"]


def test_several_words_are_found_as_a_hashtag() -> None:
    lexicons = Lexicons.build({"movement": frozenset({"new in town"})})
    text = match_form("#newintown tonight")
    assert lexicons.scan(text) == {"movement": [(0, 10)]}


def test_empty_lexicons_scan_nothing() -> None:
    assert Lexicons.build({}).scan("new in town") == {}
