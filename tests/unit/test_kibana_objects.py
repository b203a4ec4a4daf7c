"""deploy/kibana/adwatch.ndjson: well-formed saved objects whose fields exist in the index.

The field checks read the mappings from deploy/elasticsearch/ (the index templates and
their component templates), resolve each data view's pattern to the templates that serve
it (a read alias of a template, or a family's write alias), and check every field a
visualization, map, saved search or dashboard link uses: that it is mapped, and mapped
with a type its use needs. Paths inside the stored-only objects (``ad``, ``entity``) may
only be shown as columns, and must exist in the record model stored there.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pipeline.es_bodies import FAMILIES, component_template, index_template
from pipeline.kibana_setup import packaged_ndjson, saved_objects
from schemas import EnrichedAd, PhoneEntity

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "deploy" / "kibana" / "adwatch.ndjson"
ES_FILES = ROOT / "deploy" / "elasticsearch"
STORED_MODELS: dict[str, type[BaseModel]] = {"ad": EnrichedAd, "entity": PhoneEntity}

NUMERIC = {"integer", "long", "float", "double", "scaled_float", "short"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "boolean", "ip"}
SORTABLE = AGGREGATABLE
NEEDS: dict[str, set[str]] = {  # Lens operation -> field types it accepts
    "date_histogram": {"date"},
    "terms": {"keyword", "boolean", "ip"} | NUMERIC,
    "range": NUMERIC,
    "max": NUMERIC | {"date"},
    "min": NUMERIC | {"date"},
    "average": NUMERIC,
    "sum": NUMERIC,
    "median": NUMERIC,
    "unique_count": AGGREGATABLE,
    "last_value": AGGREGATABLE,
}
MAX_VERSION = (8, 9, 0)  # the objects target Kibana 8.9+ and 9.x


def load(path: Path = NDJSON) -> list[dict[str, Any]]:
    lines = path.read_text("utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line in the NDJSON"
    return [json.loads(line) for line in lines]


OBJECTS = load()
BY_ID = {o["id"]: o for o in OBJECTS}


def by_type(kind: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o["type"] == kind]


# --- the mappings ---------------------------------------------------------------------


def flatten(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, type) of every field, multi-fields included; disabled objects as 'stored'."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        kind = spec.get("type", "object")
        if kind == "object" and spec.get("enabled") is False:
            yield path, "stored"
            continue
        if kind == "alias":
            yield path, f"alias:{spec['path']}"
            continue
        if "properties" in spec:
            yield from flatten(spec["properties"], f"{path}.")
            continue
        yield path, kind
        for sub, subspec in spec.get("fields", {}).items():
            yield f"{path}.{sub}", subspec["type"]


def fields_behind(pattern: str) -> dict[str, str]:
    """Field -> type for a data view's index pattern, from the deploy/ templates."""
    found: list[dict[str, str]] = []
    for family in FAMILIES:
        template = index_template(family.name, files=ES_FILES)
        aliases = set(template["template"].get("aliases", {})) | {f"adwatch-{family.name}"}
        if pattern not in aliases:
            continue
        fields: dict[str, str] = {}
        for component in template["composed_of"]:
            name = component.removeprefix("adwatch-")
            body = component_template(name, files=ES_FILES)
            fields |= dict(flatten(body["template"].get("mappings", {}).get("properties", {})))
        found.append({k: fields[v[6:]] if v.startswith("alias:") else v for k, v in fields.items()})
    assert found, f"data view pattern {pattern!r} is no alias of the index templates"
    assert all(f == found[0] for f in found), f"{pattern} spans indices mapped differently"
    return found[0]


def data_view_of(obj: dict[str, Any], ref_name: str) -> dict[str, Any]:
    (ref,) = [r for r in obj["references"] if r["name"] == ref_name]
    assert ref["type"] == "index-pattern"
    return BY_ID[ref["id"]]


def model_has(model: type[BaseModel], path: list[str]) -> bool:
    """Whether ``path`` names a field of ``model`` (through lists and nested models)."""
    annotation: Any = model
    for part in path:
        fields = getattr(annotation, "model_fields", None)
        if fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        while typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
    return True


def check_field(
    data_view: dict[str, Any], field: str, allowed: set[str] | None, *, display: bool = False
) -> None:
    fields = fields_behind(data_view["attributes"]["title"])
    where = f"{field!r} in data view {data_view['id']}"
    if field in fields:
        kind = fields[field]
        assert kind != "stored" or display, f"{where} is stored, not indexed"
        assert allowed is None or kind in allowed, f"{where} is {kind}, needs {allowed}"
        return
    head, _, rest = field.partition(".")
    assert display and fields.get(head) == "stored", f"{where} is not mapped"
    assert model_has(STORED_MODELS[head], rest.split(".")), f"{where}: no such record field"


def kql_fields(query: str) -> list[str]:
    return re.findall(r"([A-Za-z_][\w.]*)\s*(?::|>=|<=|>|<)", query)


# --- structure ------------------------------------------------------------------------


def test_every_line_is_a_saved_object_with_a_unique_id() -> None:
    assert len(OBJECTS) >= 9
    for obj in OBJECTS:
        assert {"id", "type", "attributes", "references"} <= set(obj)
        assert obj["attributes"]["title"]
        assert obj["id"].startswith("adwatch-")  # renamed with the index prefix
    ids = [o["id"] for o in OBJECTS]
    assert len(set(ids)) == len(ids)


def test_every_reference_points_at_an_object_in_the_file() -> None:
    for obj in OBJECTS:
        names = [r["name"] for r in obj["references"]]
        assert len(set(names)) == len(names), f"{obj['id']}: reference names repeat"
        for ref in obj["references"]:
            target = BY_ID.get(ref["id"])
            assert target is not None, f"{obj['id']} -> missing {ref}"
            assert target["type"] == ref["type"], f"{obj['id']} -> {ref} is {target['type']}"


def version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def test_objects_are_in_the_format_of_kibana_8_9() -> None:
    for obj in OBJECTS:
        assert obj["coreMigrationVersion"] == "8.8.0"
        assert version(obj["typeMigrationVersion"]) <= MAX_VERSION, obj["id"]
    assert {o["typeMigrationVersion"] for o in by_type("lens")} == {"8.9.0"}


def test_packaged_copy_is_the_deploy_file() -> None:
    assert packaged_ndjson().read_bytes() == NDJSON.read_bytes(), (
        "pipeline/setup_files/kibana/adwatch.ndjson differs from deploy/kibana/adwatch.ndjson: "
        "cp deploy/kibana/adwatch.ndjson pipeline/setup_files/kibana/"
    )


def test_prefix_renames_ids_patterns_and_links_consistently() -> None:
    text = saved_objects("ops").decode("utf-8")
    assert "adwatch-" not in text
    objects = [json.loads(line) for line in text.splitlines()]
    ids = {o["id"] for o in objects}
    assert all(i.startswith("ops-") for i in ids)
    assert all(r["id"] in ids for o in objects for r in o["references"])
    titles = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert titles == {"ops-ads", "ops-phones"}
    assert "/app/discover#/view/ops-search-ads-by-phone?" in text


# --- data views ---------------------------------------------------------------------------


def test_data_views_read_the_aliases_by_their_time_fields() -> None:
    views = {o["attributes"]["title"]: o["attributes"] for o in by_type("index-pattern")}
    assert set(views) == {"adwatch-ads", "adwatch-phones"}
    assert views["adwatch-ads"]["timeFieldName"] == "event_at"
    assert views["adwatch-phones"]["timeFieldName"] == "last_seen"
    for view in by_type("index-pattern"):
        check_field(view, view["attributes"]["timeFieldName"], {"date"})
        formats = json.loads(view["attributes"].get("fieldFormatMap") or "{}")
        for field in formats:
            check_field(view, field, None, display=True)


# --- Lens -------------------------------------------------------------------------------


def lens_layers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].items()


@pytest.mark.parametrize("lens", by_type("lens"), ids=lambda o: o["id"])
def test_lens_columns_use_mapped_fields_of_fitting_types(lens: dict[str, Any]) -> None:
    layers = dict(lens_layers(lens))
    assert layers
    for layer_id, layer in layers.items():
        view = data_view_of(lens, f"indexpattern-datasource-layer-{layer_id}")
        assert sorted(layer["columnOrder"]) == sorted(layer["columns"])
        for column in layer["columns"].values():
            operation = column["operationType"]
            if column.get("sourceField") == "___records___":
                assert operation == "count"
                continue
            check_field(view, column["sourceField"], NEEDS[operation])
            if operation == "terms":
                ordered = column["params"]["orderBy"]
                assert ordered["type"] != "column" or ordered["columnId"] in layer["columns"]


@pytest.mark.parametrize("lens", by_type("lens"), ids=lambda o: o["id"])
def test_lens_visualization_uses_existing_columns(lens: dict[str, Any]) -> None:
    layers = dict(lens_layers(lens))
    vis = lens["attributes"]["state"]["visualization"]
    kind = lens["attributes"]["visualizationType"]
    if kind == "lnsXY":
        for layer in vis["layers"]:
            columns = layers[layer["layerId"]]["columns"]
            used = [layer["xAccessor"], *layer["accessors"], layer.get("splitAccessor")]
            assert all(c in columns for c in used if c is not None)
    elif kind == "lnsDatatable":
        columns = layers[vis["layerId"]]["columns"]
        assert [c["columnId"] for c in vis["columns"]] == list(columns)
        assert vis["sorting"]["columnId"] in columns
    else:
        pytest.fail(f"no check for Lens {kind}")


def test_the_charts_analysts_need() -> None:
    def columns(lens_id: str) -> dict[str, dict[str, Any]]:
        ((_, layer),) = lens_layers(BY_ID[lens_id])
        return {c["sourceField"]: c for c in layer["columns"].values()}

    over_time = columns("adwatch-lens-ads-over-time")
    assert over_time["event_at"]["operationType"] == "date_histogram"
    assert over_time["flags"]["operationType"] == "terms"
    risk = columns("adwatch-lens-risk-distribution")["risk_score"]
    assert risk["operationType"] == "range"
    top = BY_ID["adwatch-lens-top-phones"]
    assert data_view_of(top, "indexpattern-datasource-layer-top-phones")["id"] == "adwatch-phones"
    phones = columns("adwatch-lens-top-phones")
    assert phones["phone"]["params"]["orderBy"]["columnId"] == "cities"
    assert phones["city_count"]["operationType"] == "max"


# --- saved searches -----------------------------------------------------------------------


@pytest.mark.parametrize("search", by_type("search"), ids=lambda o: o["id"])
def test_saved_search_columns_sort_and_query_use_mapped_fields(search: dict[str, Any]) -> None:
    attributes = search["attributes"]
    source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    view = data_view_of(search, source["indexRefName"])
    for column in attributes["columns"]:
        check_field(view, column, None, display=True)
    for field, direction in attributes["sort"]:
        check_field(view, field, SORTABLE)
        assert direction in ("asc", "desc")
    for field in kql_fields(source["query"]["query"]):
        check_field(view, field, None)


def test_latest_high_risk_ads_show_their_evidence() -> None:
    attributes = BY_ID["adwatch-search-high-risk"]["attributes"]
    source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["query"] == {"query": "risk_score >= 0.5", "language": "kuery"}
    assert attributes["sort"] == [["event_at", "desc"]]
    assert attributes["columns"][:3] == ["key", "risk_score", "flags"]
    assert {"text", "ad.flags.evidence.text"} <= set(attributes["columns"])


# --- map --------------------------------------------------------------------------------


def test_map_layers_use_the_ads_geo_point_and_mapped_fields() -> None:
    (map_obj,) = by_type("map")
    layers = json.loads(map_obj["attributes"]["layerListJSON"])
    assert len({layer["id"] for layer in layers}) == len(layers)
    es_layers = [layer for layer in layers if "indexPatternRefName" in layer["sourceDescriptor"]]
    assert {layer["sourceDescriptor"]["type"] for layer in es_layers} == {
        "ES_GEO_GRID",
        "ES_SEARCH",
    }
    for layer in es_layers:
        source = layer["sourceDescriptor"]
        view = data_view_of(map_obj, source["indexPatternRefName"])
        assert view["id"] == "adwatch-ads"
        check_field(view, source["geoField"], {"geo_point"})
        assert source["geoField"] == "location_point"
        outputs = {"doc_count"}
        for metric in source.get("metrics", []):
            if "field" in metric:
                check_field(view, metric["field"], NUMERIC)
                outputs.add(f"{metric['type']}_of_{metric['field']}")
        for field in source.get("tooltipProperties", []):
            check_field(view, field, None)
        if "sortField" in source:
            check_field(view, source["sortField"], SORTABLE)
        for prop in layer["style"]["properties"].values():
            field = (prop.get("options") or {}).get("field")
            if prop.get("type") == "DYNAMIC" and field and field["origin"] == "source":
                if source["type"] == "ES_GEO_GRID":
                    assert field["name"] in outputs
                else:
                    check_field(view, field["name"], NUMERIC)


# --- dashboard ----------------------------------------------------------------------------


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(dashboard["attributes"]["panelsJSON"]))


def target(dashboard: dict[str, Any], panel: dict[str, Any]) -> dict[str, Any]:
    (ref,) = [
        r
        for r in dashboard["references"]
        if r["name"] == f"{panel['panelIndex']}:{panel['panelRefName']}"
    ]
    assert ref["type"] == panel["type"]
    return BY_ID[ref["id"]]


@pytest.mark.parametrize("dashboard", by_type("dashboard"), ids=lambda o: o["id"])
def test_dashboard_panels_reference_objects_of_their_type_without_overlap(
    dashboard: dict[str, Any],
) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        target(dashboard, panel)
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"panel {panel['panelIndex']} overlaps another"
        cells |= mine


def test_overview_shows_what_analysts_need() -> None:
    overview = BY_ID["adwatch-dashboard-overview"]
    shown = {target(overview, p)["id"] for p in panels(overview)}
    assert {
        "adwatch-vis-about",
        "adwatch-map-ads",
        "adwatch-lens-ads-over-time",
        "adwatch-lens-top-phones",
        "adwatch-lens-risk-distribution",
        "adwatch-search-high-risk",
    } <= shown


def phone_drilldowns() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """factoryId -> (panel, event) of the overview's drill-downs."""
    overview = BY_ID["adwatch-dashboard-overview"]
    found = {}
    for panel in panels(overview):
        dynamic = panel["embeddableConfig"].get("enhancements", {}).get("dynamicActions", {})
        for event in dynamic.get("events", []):
            assert target(overview, panel)["id"] == "adwatch-lens-top-phones"
            found[event["action"]["factoryId"]] = (panel, event)
    assert set(found) == {"DASHBOARD_TO_DASHBOARD_DRILLDOWN", "URL_DRILLDOWN"}
    return found


def filter_fields(lens: dict[str, Any]) -> set[str]:
    """The fields a click on ``lens`` filters on: its bucketed columns'."""
    return {
        column["sourceField"]
        for _, layer in lens_layers(lens)
        for column in layer["columns"].values()
        if column["isBucketed"]
    }


def test_phone_drilldown_to_the_dashboard_of_its_ads() -> None:
    """Basic license: the click's filter phone:"+1…" carries over to a dashboard of ads."""
    overview = BY_ID["adwatch-dashboard-overview"]
    panel, event = phone_drilldowns()["DASHBOARD_TO_DASHBOARD_DRILLDOWN"]
    assert event["triggers"] == ["FILTER_TRIGGER"]
    assert event["action"]["config"] == {"useCurrentFilters": True, "useCurrentDateRange": True}
    name = (
        f"{panel['panelIndex']}:drilldown:DASHBOARD_TO_DASHBOARD_DRILLDOWN:"
        f"{event['eventId']}:dashboardId"
    )
    (ref,) = [r for r in overview["references"] if r["name"] == name]
    destination = BY_ID[ref["id"]]
    assert destination["type"] == "dashboard" and destination["id"] != overview["id"]
    shown = [target(destination, p) for p in panels(destination)]
    assert "adwatch-search-ads-by-phone" in {o["id"] for o in shown}
    fields = filter_fields(target(overview, panel))
    assert fields == {"phone"}
    for obj in shown:  # the carried filter must mean the same phone in every panel
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        view = data_view_of(obj, source["indexRefName"])
        for field in fields:
            check_field(view, field, {"keyword"})


def test_phone_drilldown_to_discover() -> None:
    """Gold license and up: a URL drill-down opens the saved search with phones:"+1…"."""
    _, event = phone_drilldowns()["URL_DRILLDOWN"]
    assert event["triggers"] == ["VALUE_CLICK_TRIGGER"]
    config = event["action"]["config"]
    template = config["url"]["template"]
    # the clicked value, encoded (E.164 numbers start with "+"), into a KQL phones:"…" query
    assert config["encodeUrl"] is False
    assert "phones:%22{{encodeURIComponent event.value}}%22" in template
    found = re.search(r"/app/discover#/view/([\w-]+)\?", template)
    assert found is not None
    destination = BY_ID[found[1]]
    assert destination["type"] == "search"
    source = json.loads(destination["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    view = data_view_of(destination, source["indexRefName"])
    for field in kql_fields(template.split("query:'", 1)[1]):
        check_field(view, field, {"keyword"})
