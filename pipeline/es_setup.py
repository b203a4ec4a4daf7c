"""Elasticsearch set-up: ILM policies, component and index templates, the first indices.

What ``adwatch setup elasticsearch`` installs for index prefix ``P`` (the JSON bodies are
the files of ``deploy/elasticsearch/``, packaged as ``pipeline/setup_files/elasticsearch/``)::

    ILM policies          P-raw     rollover 1d or 10gb/primary, delete raw_retention_days later
                          P-leads   rollover 7d or 10gb/primary, delete lead_retention_days later
    component templates   P-settings, P-ad-mappings, P-entity-mappings
    index templates       P-ads-leads  ─┐ (read alias P-ads on every new index)
                          P-ads-raw    ─┘
                          P-phones
    first indices         P-ads-leads-000001, P-ads-raw-000001, P-phones-000001, each the
                          write index of its alias P-ads-leads, P-ads-raw, P-phones

Every run compares what the cluster holds with what it would install (a fingerprint of
each body is stored in its ``_meta``), writes only what is missing or different, and
creates a first index only when its write alias does not exist yet. So it is safe to run
again, and running it after an upgrade applies new templates and retention settings.

The files name everything ``adwatch-…``; `with_prefix` turns each such name into ``P-…``.

Versions: Elasticsearch 8.x and 9.x. The pinned client (elasticsearch-py 9) asks for the
REST API of version 9 in every request, which 8.x servers refuse; so every request here
pins the ``compatible-with`` version to the cluster's major version (`compat_headers`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import (
    ApiError,
    Elasticsearch,
    ElasticsearchWarning,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
)

from pipeline.es_bodies import (
    FAMILIES,
    Family,
    Resource,
    SetupError,
    bootstrap_index,
    component_template,
    desired_resources,
    ilm_policy,
    index_template,
    installed_state,
    with_prefix,
)
from pipeline.settings import IndexSettings

__all__ = [
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
]

SUPPORTED_MAJORS = (8, 9)


class UnsupportedVersionError(SetupError):
    """The cluster is not Elasticsearch 8.x or 9.x (or is Serverless, which has no ILM)."""


@dataclass(frozen=True)
class ClusterVersion:
    """What ``GET /`` says about the cluster."""

    number: str
    major: int
    minor: int
    flavor: str


# --- the cluster ------------------------------------------------------------------------


def compat_headers(major: int) -> dict[str, str]:
    """Headers asking for the REST API of ``major`` (8.x and 9.x servers accept their own)."""
    mimetype = f"application/vnd.elasticsearch+json; compatible-with={major}"
    return {"accept": mimetype, "content-type": mimetype}


def explain(exc: Exception, what: str) -> SetupError:
    """A `SetupError` saying what failed and why, from a client exception."""
    if isinstance(exc, ApiError):
        status = exc.status_code
        if status == 401:
            return SetupError(
                f"{what}: Elasticsearch refused the credentials (401); set "
                "index.elasticsearch_api_key, or elasticsearch_username and _password"
            )
        if status == 403:
            return SetupError(
                f"{what}: not allowed (403): the set-up user needs the cluster privileges "
                "manage_ilm and manage_index_templates and the index privilege manage on "
                f"the prefix's indices ({_reason(exc)})"
            )
        return SetupError(f"{what}: Elasticsearch answered {status}: {_reason(exc)}")
    if isinstance(exc, TransportError):
        return SetupError(f"{what}: cannot reach Elasticsearch: {exc}")
    return SetupError(f"{what}: {exc}")


def _reason(exc: ApiError) -> str:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    if isinstance(error, dict):
        cause = error.get("caused_by") or {}
        text = f"{error.get('type')}: {error.get('reason')}"
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" ({cause['reason']})"
        return text
    return str(exc.message)


def check_version(client: Elasticsearch) -> ClusterVersion:
    """Ask the cluster its version; `UnsupportedVersionError` unless it is 8.x or 9.x.

    The probe sends ``Accept: */*`` so that every version answers, whatever REST API
    version the client would ask for.
    """
    try:
        info = client.perform_request("GET", "/", headers={"accept": "*/*"}).body
    except UnsupportedProductError:
        raise UnsupportedVersionError(
            "the server is not Elasticsearch (it does not send X-Elastic-Product: "
            "Elasticsearch; OpenSearch and Elasticsearch before 7.14 do not)"
        ) from None
    except (ApiError, TransportError) as exc:
        raise explain(exc, "reading the cluster version") from None
    version = info.get("version", {}) if isinstance(info, dict) else {}
    number = str(version.get("number", "?"))
    match = re.match(r"(\d+)\.(\d+)", number)
    if match is None:
        raise UnsupportedVersionError(f"cannot read the Elasticsearch version {number!r}")
    found = ClusterVersion(
        number, int(match[1]), int(match[2]), str(version.get("build_flavor", "default"))
    )
    if found.flavor == "serverless":
        raise UnsupportedVersionError(
            "Elastic Cloud Serverless has no index lifecycle management (ILM); adwatch "
            "needs Elasticsearch 8.x or 9.x with ILM"
        )
    if found.major not in SUPPORTED_MAJORS:
        raise UnsupportedVersionError(
            f"Elasticsearch {number} is not supported: adwatch needs 8.x or 9.x"
        )
    return found


class _Cluster:
    """Requests pinned to the cluster's REST API version; client errors become SetupError."""

    def __init__(self, client: Elasticsearch, major: int) -> None:
        self._client = client
        self._headers = compat_headers(major)
        self._accept = {"accept": self._headers["accept"]}  # no body, no content-type

    def get(self, what: str, path: str) -> dict[str, Any] | None:
        try:
            body = self._client.perform_request("GET", path, headers=self._accept).body
        except NotFoundError:
            return None
        except (ApiError, TransportError) as exc:
            raise explain(exc, what) from None
        return body if isinstance(body, dict) else {}

    def exists(self, what: str, path: str) -> bool:
        try:
            response = self._client.perform_request("HEAD", path, headers=self._accept)
        except (ApiError, TransportError) as exc:
            raise explain(exc, what) from None
        return 200 <= response.meta.status < 300

    def put(self, what: str, path: str, body: dict[str, Any]) -> None:
        try:
            self._client.perform_request("PUT", path, headers=self._headers, body=body)
        except (ApiError, TransportError) as exc:
            raise explain(exc, what) from None


def setup_elasticsearch(
    client: Elasticsearch, settings: IndexSettings, *, files: Path | None = None
) -> list[str]:
    """Install or upgrade everything (module docstring); return what was done, line by line.

    Raises `SetupError` (or `UnsupportedVersionError`) with a readable message; what was
    done before the failure stays done, and running again continues from there. Warnings
    Elasticsearch sends (deprecations) are returned as lines too.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ElasticsearchWarning)
        log = _install(client, settings, files)
    seen = dict.fromkeys(str(w.message) for w in caught if w.category is ElasticsearchWarning)
    return log + [f"warning from Elasticsearch: {message}" for message in seen]


def _install(client: Elasticsearch, settings: IndexSettings, files: Path | None) -> list[str]:
    version = check_version(client)
    log = [f"Elasticsearch {version.number}: supported"]
    cluster = _Cluster(client, version.major)
    resources_ = desired_resources(settings, files)
    p = settings.index_prefix
    families_before = {
        f.name: cluster.exists(f"checking alias {p}-{f.name}", f"/_alias/{p}-{f.name}")
        for f in FAMILIES
    }
    changed: set[str] = set()
    for res in resources_:
        what = f"{res.kind} {res.name}"
        state = installed_state(res, cluster.get(f"reading {what}", res.path))
        if state == "same":
            log.append(f"{what}: unchanged")
            continue
        cluster.put(f"installing {what}", res.path, res.body)
        changed.add(res.name)
        log.append(f"{what}: {'created' if state == 'missing' else 'updated'}{_detail(res)}")
    log += _update_mappings(cluster, settings, resources_, changed, families_before)
    for family in FAMILIES:
        log.append(_bootstrap(cluster, p, family))
    return log


def _detail(res: Resource) -> str:
    if res.kind != "ILM policy":
        return ""
    phases = res.body["policy"]["phases"]
    rollover = phases["hot"]["actions"]["rollover"]
    return (
        f" (rollover at {rollover['max_age']} or {rollover['max_primary_shard_size']} per "
        f"primary shard, delete {phases['delete']['min_age']} after rollover)"
    )


def _update_mappings(
    cluster: _Cluster,
    settings: IndexSettings,
    resources_: list[Resource],
    changed: set[str],
    families_before: dict[str, bool],
) -> Iterator[str]:
    """Put changed mappings on the existing indices too, so new fields work before rollover."""
    p = settings.index_prefix
    bodies = {r.name: r.body for r in resources_}
    for family in FAMILIES:
        component = f"{p}-{family.mappings}"
        if component not in changed or not families_before[family.name]:
            continue
        mappings = bodies[component]["template"]["mappings"]
        try:
            cluster.put(f"mapping of {p}-{family.name}-*", f"/{p}-{family.name}-*/_mapping",
                        mappings)  # fmt: skip
        except SetupError as exc:
            yield (
                f"warning: existing {p}-{family.name}-* indices keep their old mapping ({exc}); "
                f"new indices get the new one: roll over now with POST /{p}-{family.name}/_rollover"
            )
        else:
            yield f"mapping of existing {p}-{family.name}-* indices: updated"


def _bootstrap(cluster: _Cluster, prefix: str, family: Family) -> str:
    alias = f"{prefix}-{family.name}"
    aliased = cluster.get(f"reading alias {alias}", f"/_alias/{alias}")
    if aliased:
        writers = [
            index
            for index, entry in sorted(aliased.items())
            if (entry.get("aliases", {}).get(alias) or {}).get("is_write_index")
            or len(aliased) == 1
        ]
        if not writers:
            return f"warning: alias {alias} has no write index; writes through it will fail"
        return f"alias {alias}: exists (write index {writers[0]}), left as it is"
    if cluster.exists(f"checking index {alias}", f"/{alias}"):
        raise SetupError(
            f"an index named {alias} exists where the write alias {alias} belongs (it was "
            "probably created by writing before the set-up ran); reindex it into "
            f"{alias}-000001 or delete it, then run the set-up again"
        )
    index, body = bootstrap_index(family.name, prefix)
    if cluster.exists(f"checking index {index}", f"/{index}"):
        raise SetupError(
            f"index {index} exists but the alias {alias} does not point at it; add it with "
            f'POST /_aliases {{"actions":[{{"add":{{"index":"{index}","alias":"{alias}",'
            '"is_write_index":true}}]}'
        )
    cluster.put(f"creating index {index}", f"/{index}", body)
    read = " and the read alias of its template" if family.name.startswith("ads-") else ""
    return f"index {index}: created, write index of alias {alias}{read}"
