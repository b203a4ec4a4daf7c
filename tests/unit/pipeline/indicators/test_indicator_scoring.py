"""Risk score (pipeline.indicators.scoring): weights from TOML, sum clipped to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.analysis import ExtractInput, analyze
from pipeline.indicators.scoring import (
    INDICATOR_IDS,
    WeightsError,
    default_weights,
    load_weights,
    score,
)
from schemas import Flag


def test_packaged_weights_cover_every_indicator_and_follow_the_sources() -> None:
    w = default_weights()
    assert set(w.weights) == INDICATOR_IDS
    assert w.of("movement") < 0  # JIRN: negatively associated
    assert w.of("stated_age_young") < w.of("youth_language")  # JIRN: age < 23 not predictive
    assert w.of("stated_age_minor") == max(w.weights.values())


def test_score_is_the_clipped_sum_with_contributions() -> None:
    w = default_weights()
    flags = [Flag(id="youth_language"), Flag(id="obfuscated_phone")]
    s = score(flags, w)
    assert s.score == round(w.of("youth_language") + w.of("obfuscated_phone"), 4)
    assert s.contributions == {"youth_language": 0.30, "obfuscated_phone": 0.25}
    assert [f.weight for f in s.flags] == [0.30, 0.25]
    everything = score([Flag(id=i) for i in sorted(INDICATOR_IDS)], w)
    assert everything.score == 1.0
    assert score([Flag(id="movement")], w).score == 0.0  # never below 0


def test_custom_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_text("[weights]\nmovement = 0.5\n", encoding="utf-8")
    w = load_weights(path)
    assert w.of("movement") == 0.5 and w.of("youth_language") == 0.0
    out = analyze(
        ExtractInput(id="x", text="Just got to town, here until Tuesday only."), weights=w
    )
    assert [f.id for f in out.flags] == ["movement"]
    assert out.risk_score == 0.5 and out.risk_contributions == {"movement": 0.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[weights]\nyouth_langauge = 0.3\n", "unknown indicator id 'youth_langauge'"),
        ("[weights]\nmovement = 2\n", "outside [-1, 1]"),
        ("[weights]\nmovement = 'high'\n", "must be a number"),
        ("movement = 0.1\n", "expected one [weights] table"),
        ("[weights\n", "not valid TOML"),
    ],
)
def test_bad_weights_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WeightsError, match=str(path).replace(".", r"\.")) as info:
        load_weights(path)
    assert message in str(info.value)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="cannot read weights file"):
        load_weights(tmp_path / "nope.toml")
