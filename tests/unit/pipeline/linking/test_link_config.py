"""LinkConfig: defaults, validation with readable errors, frozen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from pipeline.linking import LinkConfig


def test_defaults_follow_the_taxonomy() -> None:
    cfg = LinkConfig()
    assert (cfg.multi_city_min_cities, cfg.multi_city_window) == (3, timedelta(days=7))
    assert (cfg.multi_persona_min, cfg.multi_persona_window) == (3, timedelta(days=30))
    assert (cfg.burst_min_ads, cfg.burst_window) == (5, timedelta(hours=1))
    assert (cfg.template_min_phones, cfg.template_min_cities) == (3, 3)
    assert cfg.template_threshold == 0.7
    assert (cfg.num_perm, cfg.bands, cfg.rows) == (64, 8, 4)


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        LinkConfig().bands = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bands": 20, "rows": 4}, "bands × rows (20 × 4 = 80) must not exceed num_perm (64)"),
        ({"burst_window": timedelta(0)}, "burst_window must be positive"),
        ({"multi_city_window": timedelta(days=40)}, "multi_city_window (40 days, 0:00:00)"),
        ({"max_ads": 10, "max_observations": 20}, "max_ads (10) must be at least max_obs"),
        ({"shingle_words": 9}, "shingle_words must not exceed template_min_words"),
        ({"burst_min_ads": 0}, "greater than or equal to 2"),
        ({"template_threshold": 0.0}, "greater than 0"),
        ({"num_perm": 0}, "greater than or equal to 1"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        LinkConfig.model_validate(kwargs)
    assert message in str(err.value)


def test_several_problems_in_one_message() -> None:
    with pytest.raises(ValidationError) as err:
        LinkConfig(bands=100, max_ads=1)
    assert "bands × rows" in str(err.value) and "max_ads" in str(err.value)


def test_windows_from_iso_durations() -> None:
    cfg = LinkConfig.model_validate({"burst_window": "PT30M", "multi_city_window": 86_400})
    assert cfg.burst_window == timedelta(minutes=30)
    assert cfg.multi_city_window == timedelta(days=1)
