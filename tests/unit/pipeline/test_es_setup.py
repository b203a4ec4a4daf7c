"""Elasticsearch set-up bodies: the document contract, templates, ILM retention, aliases.

Pure functions only: no cluster here. `tests/integration/test_es_setup_real.py` runs the
set-up against a real cluster when ADWATCH_TEST_ES_URL is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, AuthenticationException, AuthorizationException

from pipeline import es_setup
from pipeline.es_bodies import (
    COMPONENTS,
    FAMILIES,
    PLACEHOLDER,
    Resource,
    fingerprint,
    installed_state,
    packaged_files,
)
from pipeline.es_setup import (
    bootstrap_index,
    compat_headers,
    component_template,
    desired_resources,
    explain,
    ilm_policy,
    index_template,
    with_prefix,
)
from pipeline.settings import IndexSettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "elasticsearch"

TEXT = "text+english+exact"
# The document contract shared with the sink (pipeline/sinks/es_docs.py): field -> type.
# `phone` is not written: an alias of `phones`, so phone:"+1…" works on ads as on phones.
AD_CONTRACT = {
    "key": "keyword", "source": "keyword", "source_id": "keyword", "url": "keyword",
    "title": TEXT, "body": TEXT, "text": TEXT,
    "location": "text+keyword", "location_point": "geo_point", "region": "keyword",
    "posted_at": "date", "scraped_at": "date", "enriched_at": "date", "event_at": "date",
    "content_hash": "keyword", "phones": "keyword", "phone": "alias:phones",
    "obfuscated_phones": "keyword",
    "emails": "keyword", "handles": "keyword", "urls": "keyword", "names": "keyword",
    "cities": "keyword", "ages": "integer", "flags": "keyword", "risk_score": "float",
    "cluster_id": "keyword", "linked_ads": "keyword", "linked_phones": "keyword",
    "schema_version": "integer", "ad": "stored-object",
}  # fmt: skip
ENTITY_CONTRACT = {
    "phone": "keyword", "first_seen": "date", "last_seen": "date", "updated_at": "date",
    "ad_count": "integer", "city_count": "integer", "cities": "keyword", "names": "keyword",
    "ages": "integer", "flags": "keyword", "template_clusters": "keyword", "ads": "keyword",
    "entity": "stored-object",
}  # fmt: skip


def kind_of(spec: dict[str, Any]) -> str:
    """A field mapping summarized as the contract writes it."""
    if spec.get("type") == "alias":
        return f"alias:{spec['path']}"
    if spec.get("type", "object") == "object":
        return "stored-object" if spec.get("enabled") is False else "object"
    if spec["type"] == "text":
        fields = spec.get("fields", {})
        if spec.get("analyzer") == "english" and fields.get("exact", {}).get("analyzer") in (
            None,
            "standard",
        ):
            return TEXT
        if fields.get("keyword", {}).get("type") == "keyword":
            return "text+keyword"
    return str(spec["type"])


def composed_mappings(family: str, prefix: str = PLACEHOLDER) -> dict[str, Any]:
    """The mappings an index of ``family`` gets: its components', in order, then its own."""
    template = index_template(family, prefix=prefix)
    merged: dict[str, Any] = {}
    for name in template["composed_of"]:
        short = name.removeprefix(f"{prefix}-")
        mappings = component_template(short, prefix=prefix)["template"].get("mappings", {})
        merged = {**merged, **mappings}
    return {**merged, **template["template"].get("mappings", {})}


@pytest.mark.parametrize(
    ("family", "contract"),
    [("ads-leads", AD_CONTRACT), ("ads-raw", AD_CONTRACT), ("phones", ENTITY_CONTRACT)],
)
def test_every_contract_field_is_mapped_with_its_type(
    family: str, contract: dict[str, str]
) -> None:
    mappings = composed_mappings(family)
    assert mappings["dynamic"] == "strict"
    found = {name: kind_of(spec) for name, spec in mappings["properties"].items()}
    assert found == contract


def test_field_details_analysts_rely_on() -> None:
    props = composed_mappings("ads-leads")["properties"]
    for name in ("title", "body", "text"):
        assert props[name]["fields"]["exact"] == {"type": "text", "analyzer": "standard"}
    assert props["url"]["index"] is False
    assert props["ad"] == {"type": "object", "enabled": False}
    assert composed_mappings("phones")["properties"]["entity"] == {
        "type": "object",
        "enabled": False,
    }


def test_templates_compose_existing_components_policies_and_aliases() -> None:
    components = {f"{PLACEHOLDER}-{c}" for c in COMPONENTS}
    policies = {f"{PLACEHOLDER}-{k}" for k in ("raw", "leads")}
    patterns = []
    for family in FAMILIES:
        t = index_template(family.name)
        alias = f"{PLACEHOLDER}-{family.name}"
        assert set(t["composed_of"]) <= components
        assert f"{PLACEHOLDER}-settings" in t["composed_of"]
        assert f"{PLACEHOLDER}-{family.mappings}" in t["composed_of"]
        lifecycle = t["template"]["settings"]["index"]["lifecycle"]
        assert lifecycle == {"name": f"{PLACEHOLDER}-{family.policy}", "rollover_alias": alias}
        assert lifecycle["name"] in policies
        assert t["index_patterns"] == [f"{alias}-*"]
        assert t["priority"] > 100  # above Elasticsearch's built-in templates
        # the first index matches the pattern and carries the rollover alias as write alias
        first, body = bootstrap_index(family.name)
        assert first == f"{alias}-000001" and first.startswith(t["index_patterns"][0][:-1])
        assert body == {"aliases": {alias: {"is_write_index": True}}}
        # a rollover alias must not come from the template (Elasticsearch refuses it)
        assert alias not in t["template"].get("aliases", {})
        patterns.append(t["index_patterns"][0])
    assert len(set(patterns)) == len(patterns)


def test_read_alias_spans_both_ad_families_only() -> None:
    aliases = {f.name: index_template(f.name)["template"].get("aliases", {}) for f in FAMILIES}
    assert aliases == {
        "ads-leads": {"adwatch-ads": {}},
        "ads-raw": {"adwatch-ads": {}},
        "phones": {},
    }


@pytest.mark.parametrize(
    ("kind", "days", "max_age"), [("raw", 7, "1d"), ("raw", 30, "1d"), ("leads", 400, "7d")]
)
def test_ilm_phases_carry_the_configured_days(kind: str, days: int, max_age: str) -> None:
    phases = ilm_policy(kind, days)["policy"]["phases"]
    assert set(phases) == {"hot", "delete"}
    assert phases["hot"]["actions"]["rollover"] == {
        "max_age": max_age,
        "max_primary_shard_size": "10gb",
    }
    assert phases["delete"] == {"min_age": f"{days}d", "actions": {"delete": {}}}


def test_ilm_policy_refuses_unknown_kind_and_no_retention() -> None:
    with pytest.raises(ValueError, match="unknown ILM policy kind"):
        ilm_policy("forever", 3)
    with pytest.raises(ValueError, match="at least 1 day"):
        ilm_policy("raw", 0)


def test_desired_resources_apply_prefix_and_retention_in_install_order() -> None:
    settings = IndexSettings(index_prefix="ops_2", raw_retention_days=3, lead_retention_days=90)
    resources = desired_resources(settings)
    assert [(r.kind, r.name) for r in resources] == [
        ("ILM policy", "ops_2-raw"),
        ("ILM policy", "ops_2-leads"),
        ("component template", "ops_2-settings"),
        ("component template", "ops_2-ad-mappings"),
        ("component template", "ops_2-entity-mappings"),
        ("index template", "ops_2-ads-leads"),
        ("index template", "ops_2-ads-raw"),
        ("index template", "ops_2-phones"),
    ]
    paths = {r.name: r.path for r in resources}
    assert paths["ops_2-raw"] == "/_ilm/policy/ops_2-raw"
    assert paths["ops_2-settings"] == "/_component_template/ops_2-settings"
    assert paths["ops_2-phones"] == "/_index_template/ops_2-phones"
    bodies = {r.name: r.body for r in resources}
    assert bodies["ops_2-raw"]["policy"]["phases"]["delete"]["min_age"] == "3d"
    assert bodies["ops_2-leads"]["policy"]["phases"]["delete"]["min_age"] == "90d"
    leads = bodies["ops_2-ads-leads"]
    assert leads["index_patterns"] == ["ops_2-ads-leads-*"]
    assert leads["composed_of"] == ["ops_2-settings", "ops_2-ad-mappings"]
    assert leads["template"]["aliases"] == {"ops_2-ads": {}}
    everything = json.dumps([r.body for r in resources])
    assert "adwatch-" not in everything
    assert "adwatch" in everything  # the prose in descriptions is left alone


def test_with_prefix_renames_names_only() -> None:
    text = 'adwatch-ads "adwatch-raw" view/adwatch-x adwatch ads adwatch_fingerprint my-adwatch-x'
    assert (
        with_prefix(text, "p")
        == 'p-ads "p-raw" view/p-x adwatch ads adwatch_fingerprint my-adwatch-x'
    )


def fingerprint_of(resource: Resource) -> str:
    holder = resource.body["policy"] if resource.kind == "ILM policy" else resource.body
    return str(holder["_meta"]["adwatch_fingerprint"])


def answer(resource: Resource, fp: str | None) -> dict[str, Any]:
    """What GET returns for ``resource`` when it holds fingerprint ``fp`` (or none)."""
    meta = {"managed_by": "adwatch"} | ({"adwatch_fingerprint": fp} if fp else {})
    if resource.kind == "ILM policy":
        return {resource.name: {"version": 3, "policy": {"phases": {}, "_meta": meta}}}
    if resource.kind == "component template":
        entry = {"name": resource.name, "component_template": {"template": {}, "_meta": meta}}
        return {"component_templates": [entry]}
    return {"index_templates": [{"name": resource.name, "index_template": {"_meta": meta}}]}


def test_installed_state_tells_missing_same_and_different() -> None:
    for resource in desired_resources(IndexSettings()):
        assert installed_state(resource, None) == "missing"
        assert installed_state(resource, answer(resource, fingerprint_of(resource))) == "same"
        assert installed_state(resource, answer(resource, "0" * 16)) == "different"
        assert installed_state(resource, answer(resource, None)) == "different"  # by hand
        assert installed_state(resource, {"unexpected": True}) == "different"


def test_fingerprint_follows_content_not_key_order() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    before = {r.name: fingerprint_of(r) for r in desired_resources(IndexSettings())}
    after = {
        r.name: fingerprint_of(r) for r in desired_resources(IndexSettings(raw_retention_days=14))
    }
    assert {name for name in before if before[name] != after[name]} == {"adwatch-raw"}


def test_packaged_copy_is_the_deploy_directory() -> None:
    deploy = {p.name: p.read_bytes() for p in DEPLOY.glob("*.json")}
    packaged = {p.name: p.read_bytes() for p in packaged_files().glob("*.json")}
    assert deploy, "no JSON files in deploy/elasticsearch"
    assert packaged == deploy, (
        "pipeline/setup_files/elasticsearch differs from deploy/elasticsearch: "
        "cp deploy/elasticsearch/*.json pipeline/setup_files/elasticsearch/"
    )


def test_files_from_another_directory_and_readable_errors(tmp_path: Path) -> None:
    for path in DEPLOY.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    body = json.loads((tmp_path / "component-settings.json").read_text())
    body["template"]["settings"]["index"]["number_of_shards"] = 3
    (tmp_path / "component-settings.json").write_text(json.dumps(body))
    settings = component_template("settings", files=tmp_path)["template"]["settings"]
    assert settings["index"]["number_of_shards"] == 3
    (tmp_path / "ilm-raw.json").write_text("{not json")
    with pytest.raises(es_setup.SetupError, match=r"ilm-raw.json is not valid JSON"):
        desired_resources(IndexSettings(), files=tmp_path)
    with pytest.raises(es_setup.SetupError, match="cannot read"):
        desired_resources(IndexSettings(), files=tmp_path / "missing")


def test_compat_headers_pin_the_cluster_major() -> None:
    assert compat_headers(8) == {
        "accept": "application/vnd.elasticsearch+json; compatible-with=8",
        "content-type": "application/vnd.elasticsearch+json; compatible-with=8",
    }


def api_error(cls: type[ApiError], status: int, body: dict[str, Any]) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return cls(message=str(body.get("error")), meta=meta, body=body)


def test_explain_says_what_failed_and_why() -> None:
    assert "refused the credentials (401)" in str(
        explain(api_error(AuthenticationException, 401, {}), "reading x")
    )
    denied = explain(api_error(AuthorizationException, 403, {}), "installing y")
    assert "manage_ilm" in str(denied) and "manage_index_templates" in str(denied)
    body = {
        "error": {
            "type": "illegal_argument_exception",
            "reason": "composable template [t] template after composition is invalid",
            "caused_by": {"reason": "mapper [text] cannot be changed"},
        }
    }
    message = str(explain(api_error(ApiError, 400, body), "installing index template t"))
    assert message.startswith("installing index template t: Elasticsearch answered 400")
    assert "mapper [text] cannot be changed" in message


def test_public_api() -> None:
    assert set(es_setup.__all__) == {
        "FAMILIES",
        "SUPPORTED_MAJORS",
        "ClusterVersion",
        "SetupError",
        "UnsupportedVersionError",
        "bootstrap_index",
        "check_version",
        "compat_headers",
        "component_template",
        "desired_resources",
        "ilm_policy",
        "index_template",
        "setup_elasticsearch",
        "with_prefix",
    }
    assert es_setup.SUPPORTED_MAJORS == (8, 9)
