"""Settings: one frozen object from ``ADWATCH_*`` environment variables and ``adwatch.toml``.

Precedence, highest first: keyword arguments, environment (nested with ``__``, e.g.
``ADWATCH_KAFKA__BOOTSTRAP``), the TOML file (``ADWATCH_CONFIG`` or ``./adwatch.toml``),
defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.alerts.notifier_settings import NotifierSettings
from pipeline.linking.config import LinkConfig

CONFIG_ENV = "ADWATCH_CONFIG"
DEFAULT_CONFIG_FILE = "adwatch.toml"


class SettingsError(ValueError):
    """Settings are invalid; the message says which setting and why, for a human."""


class KafkaSettings(BaseModel):
    """Where the broker is; unset ``bootstrap`` means start the embedded Tansu broker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset = embedded broker"
    )
    embedded_port: int = Field(default=0, ge=0, le=65535, description="0 = any free port")
    partitions: int = Field(default=4, ge=1, le=1024, description="partitions per topic")
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = Field(default="adwatch", min_length=1)
    session_timeout_seconds: float = Field(
        default=10.0,
        ge=3.0,
        le=300.0,
        description="a worker that stops heartbeating leaves the group after this long",
    )
    rebalance_timeout_seconds: float = Field(
        default=10.0,
        ge=3.0,
        le=300.0,
        description="how long a rebalance waits for members to re-join",
    )
    single_record_batches: bool = Field(
        default=False,
        description=(
            "send one record per produce request batch; `adwatch up` turns it on for the "
            "embedded Tansu broker, whose high watermark counts batches, not records (with "
            "batches, table recovery from changelogs would stop before the last records)"
        ),
    )
    fetch_max_wait_ms: int = Field(
        default=500,
        ge=10,
        le=10_000,
        description=(
            "how long a fetch may wait for records; Kafka answers as soon as one arrives, the "
            "embedded Tansu only when the time is up, so `adwatch up` sets 100 for it (faust "
            "alone would wait 1,500 ms at every hop of the stream)"
        ),
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{part.strip()!r} is not host:port")
        return value.strip()


class IndexSettings(BaseModel):
    """Where enriched ads are indexed for search."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite_path: Path | None = Field(default=None, description="default: DATA_DIR/index.sqlite3")
    elasticsearch_url: str | None = Field(
        default=None, description="https://host:9200[,https://host2:9200]"
    )
    elasticsearch_api_key: SecretStr | None = Field(
        default=None, description="API key (base64 id:key), preferred over a password"
    )
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_ca_certs: Path | None = Field(
        default=None, description="CA bundle of the cluster's TLS certificate"
    )
    elasticsearch_verify_certs: bool = Field(
        default=True, description="off only for a local development cluster"
    )
    elasticsearch_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    elasticsearch_max_retries: int = Field(
        default=5, ge=0, le=50, description="retries of one bulk request on 429/5xx"
    )
    kibana_url: str | None = Field(default=None, description="for `adwatch setup kibana`")
    index_prefix: str = Field(
        default="adwatch",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        max_length=100,
        description="Elasticsearch names: PREFIX-ads, PREFIX-phones (aliases), PREFIX-* templates",
    )
    raw_retention_days: int = Field(
        default=30, ge=1, description="ads that raised no flag are deleted after this"
    )
    lead_retention_days: int = Field(
        default=365, ge=1, description="flagged ads (leads) and phone records are kept this long"
    )

    @model_validator(mode="after")
    def _elasticsearch_needs_url(self) -> IndexSettings:
        if self.backend == "elasticsearch" and not self.elasticsearch_url:
            raise ValueError("backend 'elasticsearch' needs index.elasticsearch_url")
        if self.lead_retention_days < self.raw_retention_days:
            raise ValueError("lead_retention_days must be at least raw_retention_days")
        return self


class PipelineSettings(BaseModel):
    """Processing knobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    state_store: Literal["memory", "rocksdb"] = Field(
        default="memory",
        description=(
            "where the worker keeps its tables (phones, template buckets): memory, rebuilt "
            "from the changelog topics at every start; rocksdb (rocksdict), on disk under "
            "DATA_DIR/faust, for production: a restart reads only what changed since"
        ),
    )
    sink_batch_size: int = Field(default=500, ge=1, le=100_000)
    sink_batch_seconds: float = Field(default=0.5, gt=0, le=60)


class IndicatorSettings(BaseModel):
    """Where analysts extend the indicator lexicons and set the risk-score weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lexicon_dirs: list[Path] = Field(
        default_factory=list,
        description="directories of lexicon files that extend (or, with '-phrase', trim) ours",
    )
    weights: Path | None = Field(
        default=None, description="TOML file of risk-score weights; default: the packaged one"
    )


class ConnectorSettings(BaseModel):
    """Where the connectors' configuration and state live."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Path | None = Field(
        default=None, description="connectors YAML file; default: the built-in demo source"
    )
    state_path: Path | None = Field(
        default=None, description="default: DATA_DIR/connectors.sqlite3"
    )
    user_agent: str = Field(
        default="adwatch/0.1 (classified-ad monitoring; obeys robots.txt)",
        min_length=8,
        max_length=300,
        description="sent with every request; add a contact address for site operators",
    )


class MonitoringSettings(BaseModel):
    """Health and metrics endpoints of the worker, the stall rule and the dead-letter cap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_enabled: bool = Field(
        default=True, description="serve /metrics, /healthz, /readyz and /status from the worker"
    )
    http_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address the endpoints listen on; 0.0.0.0 in a container",
    )
    http_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="0 = any free port, recorded under DATA_DIR/run/workers for `adwatch status`",
    )
    stall_seconds: float = Field(
        default=180.0,
        ge=2.0,
        le=86_400.0,
        description=(
            "liveness fails when an assigned partition has lag but its committed offset has "
            "not moved for this long (or the event loop has not run for this long)"
        ),
    )
    lag_interval_seconds: float = Field(
        default=10.0, ge=0.5, le=600.0, description="how often the worker measures its lag"
    )
    deadletter_max_ratio: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description=(
            "the worker halts when more than this share of the last `deadletter_window` "
            "records of a stage were dead-lettered; 1 turns the cap off"
        ),
    )
    deadletter_window: int = Field(
        default=1000,
        ge=10,
        le=1_000_000,
        description="records per stage the cap looks at; it never trips on fewer",
    )
    connectors_http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the connectors' /metrics on this port (0 = any); unset = not served",
    )

    @model_validator(mode="after")
    def _stall_spans_measurements(self) -> MonitoringSettings:
        if self.stall_seconds < 2 * self.lag_interval_seconds:
            raise ValueError(
                "stall_seconds must be at least twice lag_interval_seconds (and well above "
                "faust's commit interval of 2.8 s), or every pause between two commits "
                "looks like a stall"
            )
        return self


class Settings(BaseSettings):
    """Effective adwatch settings; build with `load_settings` to get readable errors."""

    model_config = SettingsConfigDict(
        env_prefix="ADWATCH_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        toml_file=None,
    )

    data_dir: Path = Field(default=Path(".adwatch"), description="state, index, logs")
    topic_prefix: str = Field(default="adwatch.", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = Field(
        default="json",
        description=(
            "worker log lines: one JSON object per line (timestamp, level, logger, event, "
            "stage, ad_key…) for a log store, or aligned text for a person"
        ),
    )
    log_debug_phones: bool = Field(
        default=False,
        description=(
            "DEBUG lines keep full phone numbers (INFO and above never do); only on a "
            "development machine, never where logs are shipped"
        ),
    )
    kafka: KafkaSettings = KafkaSettings()
    index: IndexSettings = IndexSettings()
    pipeline: PipelineSettings = PipelineSettings()
    indicators: IndicatorSettings = IndicatorSettings()
    linking: LinkConfig = LinkConfig()
    alerts: NotifierSettings = NotifierSettings()
    connectors: ConnectorSettings = ConnectorSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then environment, then the TOML file."""
        path = config_file_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def index_path(self) -> Path:
        """SQLite index file."""
        return self.index.sqlite_path or self.data_dir / "index.sqlite3"

    @property
    def connector_state_path(self) -> Path:
        """SQLite file of the connectors' per-source state."""
        return self.connectors.state_path or self.data_dir / "connectors.sqlite3"

    @property
    def delivery_log_path(self) -> Path:
        """JSON lines of every alert delivery attempt (the notifier's delivery log)."""
        return self.data_dir / "alerts" / "deliveries.jsonl"

    def topic(self, name: str) -> str:
        """Full topic name for a logical name such as ``ads.raw``."""
        return f"{self.topic_prefix}{name}"

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data, secrets replaced by ``'**********'``."""
        return cast(dict[str, Any], _mask(self.model_dump(mode="python")))


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def config_file_path() -> Path | None:
    """The TOML file in effect: ``$ADWATCH_CONFIG`` (must exist) or ``./adwatch.toml``."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings`, turning validation errors into one readable `SettingsError`."""
    path = config_file_path()
    if path is not None and not path.is_file():
        raise SettingsError(f"config file {path} (from ${CONFIG_ENV}) does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except ValueError as exc:  # malformed TOML, or an env value that is not valid JSON
        where = f" in {path}" if path else ""
        raise SettingsError(f"cannot read settings{where}: {exc}") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = ["invalid settings:"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        env = "ADWATCH_" + "__".join(p.upper() for p in loc)
        toml = ".".join(loc)
        value = err.get("input")
        shown = "" if isinstance(value, dict) or err["type"] == "missing" else f" (got {value!r})"
        lines.append(f"  {toml} [env {env}]: {err['msg']}{shown}")
    if path is not None:
        lines.append(f"  config file: {path}")
    return "\n".join(lines)
