"""What the Elasticsearch set-up installs: the bodies of deploy/elasticsearch, made concrete.

Pure functions, no client: the files are read (the packaged copy, or a directory given),
every name ``adwatch-…`` becomes ``P-…`` for index prefix ``P`` (`with_prefix`), the ILM
delete phases get the configured retention, and each body gets a fingerprint in its
``_meta`` so that `installed_state` can tell an installed body from a changed one.

    ilm-raw.json, ilm-leads.json             ─> ILM policies P-raw, P-leads
    component-settings.json                  ─> component template P-settings
    component-ad-mappings.json               ─> component template P-ad-mappings
    component-entity-mappings.json           ─> component template P-entity-mappings
    template-ads-leads.json, -ads-raw, -phones ─> index templates (composed of the above)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pipeline.settings import IndexSettings

PLACEHOLDER = "adwatch"
"""The index prefix the files are written with."""
_NAME = re.compile(r"(?<![\w.-])adwatch(?=-)")
POLICY_KINDS = ("raw", "leads")
COMPONENTS = ("settings", "ad-mappings", "entity-mappings")
FINGERPRINT_KEY = "adwatch_fingerprint"

Kind = Literal["ILM policy", "component template", "index template"]
State = Literal["missing", "same", "different"]


class SetupError(Exception):
    """A set-up step failed; the message says which step and why, for a human."""


@dataclass(frozen=True)
class Family:
    """One write alias ``P-<name>`` with its index template, ILM policy and mappings."""

    name: str
    policy: str
    mappings: str


FAMILIES = (
    Family("ads-leads", policy="leads", mappings="ad-mappings"),
    Family("ads-raw", policy="raw", mappings="ad-mappings"),
    Family("phones", policy="leads", mappings="entity-mappings"),
)


@dataclass(frozen=True)
class Resource:
    """One body to install with ``PUT path``, fingerprinted in its ``_meta``."""

    kind: Kind
    name: str
    path: str
    body: dict[str, Any]


def packaged_files() -> Path:
    """The directory of the packaged JSON files (a copy of ``deploy/elasticsearch``)."""
    return Path(str(resources.files("pipeline") / "setup_files" / "elasticsearch"))


def with_prefix(text: str, prefix: str) -> str:
    """``text`` with every name ``adwatch-…`` renamed ``{prefix}-…`` (prose is left alone)."""
    return _NAME.sub(prefix, text)


def load_body(filename: str, prefix: str = PLACEHOLDER, files: Path | None = None) -> Any:
    """The JSON body of ``filename`` with the index prefix applied."""
    path = (files or packaged_files()) / filename
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(with_prefix(text, prefix))
    except json.JSONDecodeError as exc:
        raise SetupError(f"{path} is not valid JSON: {exc}") from None


def ilm_policy(
    kind: str, days: int, *, prefix: str = PLACEHOLDER, files: Path | None = None
) -> dict[str, Any]:
    """The ILM policy ``P-<kind>`` (raw or leads): indices deleted ``days`` after rollover."""
    if kind not in POLICY_KINDS:
        raise ValueError(f"unknown ILM policy kind {kind!r}; expected one of {POLICY_KINDS}")
    if days < 1:
        raise ValueError("retention must be at least 1 day")
    body: dict[str, Any] = load_body(f"ilm-{kind}.json", prefix, files)
    body["policy"]["phases"]["delete"]["min_age"] = f"{days}d"
    return body


def component_template(
    name: str, *, prefix: str = PLACEHOLDER, files: Path | None = None
) -> dict[str, Any]:
    """The component template ``P-<name>`` (settings, ad-mappings or entity-mappings)."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown component template {name!r}; expected one of {COMPONENTS}")
    body: dict[str, Any] = load_body(f"component-{name}.json", prefix, files)
    return body


def index_template(
    family: str, *, prefix: str = PLACEHOLDER, files: Path | None = None
) -> dict[str, Any]:
    """The composable index template ``P-<family>`` (ads-leads, ads-raw or phones)."""
    if family not in {f.name for f in FAMILIES}:
        raise ValueError(f"unknown index family {family!r}")
    body: dict[str, Any] = load_body(f"template-{family}.json", prefix, files)
    return body


def bootstrap_index(family: str, prefix: str = PLACEHOLDER) -> tuple[str, dict[str, Any]]:
    """The first index of ``family`` and its creation body: the write alias on it.

    The read alias (``P-ads``) comes from the index template, so every rollover index
    gets it too.
    """
    alias = f"{prefix}-{family}"
    return f"{alias}-000001", {"aliases": {alias: {"is_write_index": True}}}


def fingerprint(body: dict[str, Any]) -> str:
    """A short digest of ``body`` as installed (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _stamped(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its fingerprint in its ``_meta`` (the policy's, for ILM)."""
    holder = body["policy"] if kind == "ILM policy" else body
    holder.setdefault("_meta", {}).pop(FINGERPRINT_KEY, None)
    holder["_meta"][FINGERPRINT_KEY] = fingerprint(body)
    return body


def desired_resources(settings: IndexSettings, files: Path | None = None) -> list[Resource]:
    """Everything to install, in order: policies, component templates, index templates."""
    p = settings.index_prefix
    days = {"raw": settings.raw_retention_days, "leads": settings.lead_retention_days}
    out = [
        Resource("ILM policy", f"{p}-{k}", f"/_ilm/policy/{p}-{k}",
                 _stamped("ILM policy", ilm_policy(k, days[k], prefix=p, files=files)))
        for k in POLICY_KINDS
    ]  # fmt: skip
    out += [
        Resource("component template", f"{p}-{c}", f"/_component_template/{p}-{c}",
                 _stamped("component template", component_template(c, prefix=p, files=files)))
        for c in COMPONENTS
    ]  # fmt: skip
    out += [
        Resource("index template", f"{p}-{f.name}", f"/_index_template/{p}-{f.name}",
                 _stamped("index template", index_template(f.name, prefix=p, files=files)))
        for f in FAMILIES
    ]  # fmt: skip
    return out


def installed_state(resource: Resource, current: dict[str, Any] | None) -> State:
    """Compare the GET answer for ``resource`` (None: 404) with what would be installed."""
    if current is None:
        return "missing"
    try:
        if resource.kind == "ILM policy":
            meta = current[resource.name]["policy"].get("_meta") or {}
        elif resource.kind == "component template":
            (entry,) = current["component_templates"]
            meta = entry["component_template"].get("_meta") or {}
        else:
            (entry,) = current["index_templates"]
            meta = entry["index_template"].get("_meta") or {}
    except (KeyError, TypeError, ValueError):
        return "different"
    holder = resource.body["policy"] if resource.kind == "ILM policy" else resource.body
    return "same" if meta.get(FINGERPRINT_KEY) == holder["_meta"][FINGERPRINT_KEY] else "different"
