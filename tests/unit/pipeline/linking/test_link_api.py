"""The public API of pipeline.linking, pinned; importing it loads no Kafka or faust."""

from __future__ import annotations

import subprocess
import sys

import pipeline.linking


def test_public_api() -> None:
    assert pipeline.linking.__all__ == [
        "Bucket", "Episode", "LinkConfig", "Mask", "NearDuplicate", "Observation",
        "PhoneEntity", "TemplateMatch", "TemplateMember", "TemplateSignature", "ad_ages",
        "ad_cities", "ad_entity_flags", "ad_masks", "ad_names", "ad_phones", "ad_signature",
        "ads_with_changed_flags", "band_keys", "bucket_add", "entity_flags", "match_template",
        "merge_matches", "observation_of", "observe", "similarity", "template_flag",
        "template_member", "template_signature",
    ]  # fmt: skip
    for name in pipeline.linking.__all__:
        assert getattr(pipeline.linking, name).__doc__, name


def test_import_loads_no_broker_client() -> None:
    code = (
        "import sys, pipeline.linking; "
        "print(sorted(m for m in ('faust', 'kafka', 'aiokafka', 'mode') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
