"""The connectors file: which sources run, how often, with what options.

```yaml
connectors:
  - name: demo                  # unique; the default RawAd.source
    type: synthetic             # synthetic | site | rss | files | warc
    every_seconds: 1            # how often the runner polls it
    options: {rate: 10}
  - name: example-classifieds
    type: site
    every_seconds: 300
    options: {site: sites/example.yaml}   # relative paths start at this file's folder
```

Without a file (`connectors.config` unset) the built-in `DEFAULT` runs: the synthetic
demo stream. Each type's options are validated by that connector's own model when it is
built, so an error names the connector and the option.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.base import Connector, ConnectorContext, ConnectorError, read_yaml_mapping

# type -> "module:Class" (imported when used, so one type's dependencies never block another)
TYPES: dict[str, str] = {
    "synthetic": "connectors.synthetic:SyntheticConnector",
    "site": "connectors.site:SiteConnector",
    "rss": "connectors.rss:RssConnector",
    "files": "connectors.file_source:FileConnector",
    "warc": "connectors.warc:WarcConnector",
}


class ConnectorSpec(BaseModel):
    """One entry of the connectors file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s:]+$")
    type: str
    every_seconds: float = Field(default=60.0, gt=0, le=7 * 24 * 3600)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in TYPES:
            raise ValueError(f"unknown connector type {value!r}; one of {', '.join(TYPES)}")
        return value


class ConnectorsFile(BaseModel):
    """The whole file: a list of connectors with unique names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connectors: list[ConnectorSpec] = Field(default_factory=list)

    @field_validator("connectors")
    @classmethod
    def _unique(cls, value: list[ConnectorSpec]) -> list[ConnectorSpec]:
        names = [c.name for c in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connector names must be unique: {', '.join(dupes)}")
        return value


DEFAULT = ConnectorsFile(
    connectors=[ConnectorSpec(name="demo", type="synthetic", every_seconds=1.0, options={})]
)


def load_connectors(path: Path | None) -> tuple[ConnectorsFile, Path]:
    """The connectors file at ``path`` (or `DEFAULT`) and the folder relative paths start at.

    Raises `ConnectorError` with the file, and the entry and field at fault.
    """
    if path is None:
        return DEFAULT, Path.cwd()
    data = read_yaml_mapping(path, "connectors file")
    try:
        return ConnectorsFile.model_validate(data), path.parent
    except ValidationError as exc:
        problems = "; ".join(_where(data, e["loc"]) + e["msg"] for e in exc.errors())
        raise ConnectorError(f"{path}: {problems}") from None


def _where(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "connectors" and isinstance(loc[1], int):
        entries = data.get("connectors")
        if isinstance(entries, list) and loc[1] < len(entries):
            entry = entries[loc[1]]
            if isinstance(entry, Mapping) and entry.get("name"):
                parts[1] = repr(entry["name"])
    return ".".join(parts) + ": "


def build(spec: ConnectorSpec, ctx: ConnectorContext) -> Connector:
    """Build the connector an entry describes (its options validated by its own model)."""
    module_name, _, class_name = TYPES[spec.type].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - packaging error
        raise ConnectorError(f"connector type {spec.type!r} is not available: {exc}") from exc
    connector: Connector = cls.from_config(spec.name, spec.options, ctx)
    return connector
