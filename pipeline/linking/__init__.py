"""Entity-level indicators: links between ads through phones and reused text.

    EnrichedAd ──┬─ observation_of ──> observe(PhoneEntity) ──> phone_multi_city,
                 │                      (table by E.164)         phone_multi_persona,
                 │                                               posting_burst
                 └─ template_member ──> band_keys ──> Bucket (table by band key)
                                           match_template ──> template_reuse, cluster_id

Pure functions and JSON-serializable pydantic state, nothing from Kafka or faust: the
stream app keeps the state in its tables and calls these. `LinkConfig` holds thresholds,
windows and caps; see each module's docstring for its rules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.linking.config import LinkConfig
    from pipeline.linking.facts import Mask, ad_ages, ad_cities, ad_masks, ad_names, ad_phones
    from pipeline.linking.phone_entity import (
        ad_entity_flags,
        ads_with_changed_flags,
        entity_flags,
        observation_of,
        observe,
    )
    from pipeline.linking.signatures import (
        TemplateSignature,
        ad_signature,
        band_keys,
        similarity,
        template_signature,
    )
    from pipeline.linking.templates import (
        Bucket,
        NearDuplicate,
        TemplateMatch,
        TemplateMember,
        bucket_add,
        match_template,
        merge_matches,
        template_flag,
        template_member,
    )
    from schemas.entities import Episode, Observation, PhoneEntity

# Loaded on first use: `pipeline.settings` needs `LinkConfig`, and every command reads
# settings, but only the stream and the batch linking need MinHash (numpy, scipy: 0.5 s).
_HOMES = {
    "LinkConfig": "pipeline.linking.config",
    **dict.fromkeys(
        ("Mask", "ad_ages", "ad_cities", "ad_masks", "ad_names", "ad_phones"),
        "pipeline.linking.facts",
    ),
    **dict.fromkeys(
        ("ad_entity_flags", "ads_with_changed_flags", "entity_flags", "observation_of", "observe"),
        "pipeline.linking.phone_entity",
    ),
    **dict.fromkeys(
        ("TemplateSignature", "ad_signature", "band_keys", "similarity", "template_signature"),
        "pipeline.linking.signatures",
    ),
    **dict.fromkeys(
        (
            "Bucket",
            "NearDuplicate",
            "TemplateMatch",
            "TemplateMember",
            "bucket_add",
            "match_template",
            "merge_matches",
            "template_flag",
            "template_member",
        ),
        "pipeline.linking.templates",
    ),
    **dict.fromkeys(("Episode", "Observation", "PhoneEntity"), "schemas.entities"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)


__all__ = [
    "Bucket",
    "Episode",
    "LinkConfig",
    "Mask",
    "NearDuplicate",
    "Observation",
    "PhoneEntity",
    "TemplateMatch",
    "TemplateMember",
    "TemplateSignature",
    "ad_ages",
    "ad_cities",
    "ad_entity_flags",
    "ad_masks",
    "ad_names",
    "ad_phones",
    "ad_signature",
    "ads_with_changed_flags",
    "band_keys",
    "bucket_add",
    "entity_flags",
    "match_template",
    "merge_matches",
    "observation_of",
    "observe",
    "similarity",
    "template_flag",
    "template_member",
    "template_signature",
]
