"""Per-site crawl configuration (YAML) and the selectors it is written in.

A selector is a string with a prefix: ``css:h1.title::text`` (parsel CSS, with ``::text``
and ``::attr(name)``) or ``xpath://span[@class='loc']/text()``. A selector that matches
elements yields their visible text; one that matches text nodes or attributes yields those.
See ``connectors/sites/example.yaml`` for a documented config.

    listing_urls ─> listing page ─ad_links─> ad page ─fields─> RawAd
                       └─next_page─> listing page …   (at most max_pages per listing URL)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import parsel
from cssselect import SelectorError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.base import ConnectorError, read_yaml_mapping
from connectors.files import html_to_text
from connectors.http import Politeness

FieldName = Literal["title", "body", "location", "posted_at", "images"]
TEXT_FIELDS: tuple[FieldName, ...] = ("title", "body")
_PROBE = parsel.Selector(text="<html><body></body></html>")


def _check_selector(value: str) -> str:
    kind, sep, expr = value.partition(":")
    if not sep or kind not in ("css", "xpath") or not expr.strip():
        raise ValueError(f"selector {value!r} must start with 'css:' or 'xpath:'")
    try:
        _PROBE.css(expr) if kind == "css" else _PROBE.xpath(expr)
    except (SelectorError, ValueError) as exc:
        raise ValueError(f"invalid {kind} selector {expr!r}: {exc}") from None
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


Selector = Annotated[str, AfterValidator(_check_selector)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Url = Annotated[str, AfterValidator(_check_url)]


def select(doc: parsel.Selector, selector: str) -> list[str]:
    """Every value ``selector`` picks from ``doc``: element text, text nodes, attributes."""
    kind, _, expr = selector.partition(":")
    values: list[str] = []
    for match in doc.css(expr) if kind == "css" else doc.xpath(expr):
        root = match.root
        if isinstance(root, str):
            values.append(root)
        elif hasattr(root, "tag"):  # an element: its visible text, a line per block
            title, text = html_to_text(match.get())
            values.append(text or title or "")
        else:  # a number or boolean from an XPath function
            values.append(str(match.get()))
    return values


class FieldSelectors(BaseModel):
    """Where each field of an ad page is; ``extra`` values go to `RawAd.extra`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Selector | None = None
    body: Selector | None = None
    location: Selector | None = None
    posted_at: Selector | None = None
    images: Selector | None = None
    extra: dict[str, Selector] = Field(default_factory=dict)

    def configured(self) -> list[FieldName]:
        """Names of the fields that have a selector."""
        names: tuple[FieldName, ...] = ("title", "body", "location", "posted_at", "images")
        return [name for name in names if getattr(self, name) is not None]


class SourceIdRule(BaseModel):
    """How to get an ad's id: a ``regex`` with one group applied to its URL, or a selector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: Regex | None = None
    selector: Selector | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> SourceIdRule:
        if (self.regex is None) == (self.selector is None):
            raise ValueError("give exactly one of 'regex' or 'selector'")
        if self.regex is not None and re.compile(self.regex).groups != 1:
            raise ValueError(f"regex {self.regex!r} must have exactly one group (the id)")
        return self


class SiteConfig(BaseModel):
    """One site: where its listings are, how to read its pages, how gently to crawl it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=r"^[^\s:]+$", max_length=100, description="RawAd.source")
    listing_urls: list[Url] = Field(min_length=1)
    ad_links: Selector
    next_page: Selector | None = None
    max_pages: int = Field(default=20, ge=1, description="listing pages per listing URL")
    fields: FieldSelectors
    required: list[FieldName] | None = Field(
        default=None, description="fields a page must have; default: title and body if set"
    )
    source_id: SourceIdRule
    posted_at_format: str | None = Field(default=None, description="strptime format")
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO country")
    url_pattern: Regex | None = Field(default=None, description="URLs of ad pages (for WARC)")
    recrawl_seconds: float = Field(default=3600.0, ge=0, description="pause between crawls")
    batch_size: int | None = Field(default=None, ge=1, description="ad pages per poll")
    politeness: Politeness = Field(default_factory=Politeness)

    @model_validator(mode="after")
    def _check_fields(self) -> SiteConfig:
        configured = self.fields.configured()
        if not any(name in configured for name in TEXT_FIELDS):
            raise ValueError("fields: give a selector for 'title' or 'body' (or both)")
        missing = [name for name in self.required or [] if name not in configured]
        if missing:
            raise ValueError(f"required: {', '.join(missing)} has no selector in 'fields'")
        if self.required is not None and not any(n in self.required for n in TEXT_FIELDS):
            raise ValueError("required: must include 'title' or 'body'")
        return self

    @property
    def required_fields(self) -> list[FieldName]:
        """The fields whose absence makes a page a problem."""
        if self.required is not None:
            return list(self.required)
        return [name for name in TEXT_FIELDS if name in self.fields.configured()]

    @property
    def ads_per_poll(self) -> int:
        """How many ad pages one poll fetches (default: the concurrency)."""
        return self.batch_size or self.politeness.concurrency

    def owns(self, url: str) -> bool:
        """Whether ``url`` is an ad page of this site (``url_pattern``; False without one)."""
        return self.url_pattern is not None and re.search(self.url_pattern, url) is not None


class SiteConfigError(ConnectorError):
    """A site config file that cannot be read or does not validate."""


def site_config(data: Mapping[str, Any], where: str = "site config") -> SiteConfig:
    """Validate a site config mapping; errors name ``where`` and every bad field."""
    try:
        return SiteConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise SiteConfigError(f"{where}: {problems}") from None


def read_site_yaml(path: Path) -> dict[str, Any]:
    """The raw mapping in a site config file (for callers that merge overrides first)."""
    return read_yaml_mapping(path, "site config", SiteConfigError)


def load_site_config(path: Path, overrides: Mapping[str, Any] | None = None) -> SiteConfig:
    """Load and validate a YAML site config; ``overrides`` replace top-level keys.

    A ``politeness`` override is merged key by key into the file's. Raises
    `SiteConfigError` (a `ConnectorError`) naming the file and the bad fields.
    """
    data = read_site_yaml(path)
    for key, value in (overrides or {}).items():
        if key == "politeness" and isinstance(value, Mapping):
            base = data.get("politeness")
            data[key] = {**(base if isinstance(base, dict) else {}), **value}
        else:
            data[key] = value
    return site_config(data, f"site config {path}")
