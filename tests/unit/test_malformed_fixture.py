"""The malformed-record strategies of the fuzz test make only records the worker must refuse.

`tests/integration/test_faults_fuzz.py` sends few examples through the broker; here many
more of each family are checked against `parse_raw` alone, so a strategy that drifts into
valid records (a schema change that starts accepting a "wrong" value) fails here, fast,
naming the record.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.enrich import parse_raw
from pipeline.errors import InvalidRecord
from tests.fixtures.malformed import BY_FAMILY, FAMILIES, valid_ad


@pytest.mark.parametrize("family", FAMILIES)
def test_every_record_of_each_family_is_refused_with_a_reason(family: str) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(BY_FAMILY[family])
    def refused(data: bytes) -> None:
        with pytest.raises(InvalidRecord) as exc:
            parse_raw(data)
        assert str(exc.value), data[:200]

    refused()


@given(st.integers(0, 1000))
def test_valid_ads_are_valid(i: int) -> None:
    ad = valid_ad("unit", i)
    assert parse_raw(ad.model_dump_json().encode()).key == ad.key
