"""Settings: defaults, env nesting, TOML, precedence, readable errors, worker env round trip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pipeline.broker import settings_env, worker_env
from pipeline.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(isolated_env: Path) -> Path:
    return isolated_env


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = load_settings()
    assert s.data_dir == Path(".adwatch")
    assert s.topic_prefix == "adwatch."
    assert s.log_level == "INFO"
    assert s.kafka.bootstrap is None
    assert s.kafka.partitions == 4
    assert s.kafka.consumer_group == "adwatch"
    assert s.kafka.security_protocol == "PLAINTEXT"
    assert s.kafka.sasl_password is None
    assert s.index.backend == "sqlite"
    assert s.pipeline.default_region == "US"
    assert s.pipeline.sink_batch_size == 500


def test_env_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADWATCH_KAFKA__BOOTSTRAP", "kafka1:9092,kafka2:9092")
    monkeypatch.setenv("ADWATCH_PIPELINE__SINK_BATCH_SIZE", "42")
    monkeypatch.setenv("ADWATCH_TOPIC_PREFIX", "prod.")
    s = load_settings()
    assert s.kafka.bootstrap == "kafka1:9092,kafka2:9092"
    assert s.pipeline.sink_batch_size == 42
    assert s.topic_prefix == "prod."
    # Siblings of the nested env values keep their defaults.
    assert s.kafka.partitions == 4
    assert s.pipeline.sink_batch_seconds == 0.5


TOML = """
topic_prefix = "toml."
log_level = "DEBUG"

[kafka]
bootstrap = "tomlhost:9092"
partitions = 8

[pipeline]
sink_batch_size = 7
"""


def test_toml_via_adwatch_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path / "elsewhere.toml", TOML)
    monkeypatch.setenv("ADWATCH_CONFIG", str(path))
    s = load_settings()
    assert s.topic_prefix == "toml."
    assert s.log_level == "DEBUG"
    assert s.kafka.bootstrap == "tomlhost:9092"
    assert s.kafka.partitions == 8
    assert s.pipeline.sink_batch_size == 7


def test_toml_in_cwd(clean_env: Path) -> None:
    write_toml(clean_env / "adwatch.toml", TOML)
    s = load_settings()
    assert s.topic_prefix == "toml."
    assert s.kafka.partitions == 8


def test_adwatch_config_wins_over_cwd_file(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path, tmp_path: Path
) -> None:
    write_toml(clean_env / "adwatch.toml", 'topic_prefix = "cwd."\n')
    monkeypatch.setenv("ADWATCH_CONFIG", str(write_toml(tmp_path / "x.toml", TOML)))
    assert load_settings().topic_prefix == "toml."


def test_precedence_kwargs_over_env_over_toml(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    write_toml(clean_env / "adwatch.toml", TOML)
    monkeypatch.setenv("ADWATCH_TOPIC_PREFIX", "env.")
    monkeypatch.setenv("ADWATCH_KAFKA__PARTITIONS", "16")
    s = load_settings()
    assert s.topic_prefix == "env."  # env over TOML
    assert s.kafka.partitions == 16  # nested env over nested TOML
    assert s.kafka.bootstrap == "tomlhost:9092"  # TOML over default
    assert s.log_level == "DEBUG"

    s = load_settings(topic_prefix="kw.")
    assert s.topic_prefix == "kw."  # kwargs over env
    assert s.kafka.partitions == 16


def test_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        s.topic_prefix = "x."  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.kafka.partitions = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "value", "setting"),
    [
        ("ADWATCH_KAFKA__PARTITIONS", "0", "kafka.partitions"),
        ("ADWATCH_KAFKA__PARTITIONS", "many", "kafka.partitions"),
        ("ADWATCH_PIPELINE__SINK_BATCH_SIZE", "-5", "pipeline.sink_batch_size"),
        ("ADWATCH_LOG_LEVEL", "LOUD", "log_level"),
        ("ADWATCH_PIPELINE__DEFAULT_REGION", "usa", "pipeline.default_region"),
        ("ADWATCH_KAFKA__SECURITY_PROTOCOL", "TLS", "kafka.security_protocol"),
    ],
)
def test_bad_env_value_message(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, setting: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    message = str(exc.value)
    assert setting in message
    assert env in message
    assert repr(value) in message


@pytest.mark.parametrize("bootstrap", ["nohost", "host:", ":9092", "host:port", "a:1,nohost"])
def test_bad_bootstrap_rejected(monkeypatch: pytest.MonkeyPatch, bootstrap: str) -> None:
    monkeypatch.setenv("ADWATCH_KAFKA__BOOTSTRAP", bootstrap)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    message = str(exc.value)
    assert "kafka.bootstrap" in message
    assert "ADWATCH_KAFKA__BOOTSTRAP" in message
    assert "host:port" in message


@pytest.mark.parametrize(("given", "expected"), [(" h:1 ", "h:1"), ("", None), ("   ", None)])
def test_bootstrap_normalized(given: str, expected: str | None) -> None:
    assert load_settings(kafka={"bootstrap": given}).kafka.bootstrap == expected


def test_bad_toml_value_names_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path / "bad-value.toml", "[kafka]\npartitions = 0\n")
    monkeypatch.setenv("ADWATCH_CONFIG", str(path))
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert "kafka.partitions" in str(exc.value)
    assert str(path) in str(exc.value)


def test_unknown_toml_key_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path / "typo.toml", "[kafka]\nbootstrapp = 'h:1'\n")
    monkeypatch.setenv("ADWATCH_CONFIG", str(path))
    with pytest.raises(SettingsError, match=r"kafka\.bootstrapp"):
        load_settings()


def test_missing_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("ADWATCH_CONFIG", str(missing))
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert str(missing) in str(exc.value)
    assert "does not exist" in str(exc.value)
    assert "ADWATCH_CONFIG" in str(exc.value)


def test_malformed_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path / "broken.toml", "[kafka\nbootstrap = \n")
    monkeypatch.setenv("ADWATCH_CONFIG", str(path))
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert str(path) in str(exc.value)


def test_malformed_toml_in_cwd(clean_env: Path) -> None:
    write_toml(clean_env / "adwatch.toml", "topic_prefix = = 'x'\n")
    with pytest.raises(SettingsError, match=r"adwatch\.toml"):
        load_settings()


def test_masked_hides_secrets() -> None:
    s = load_settings(
        kafka={"sasl_mechanism": "PLAIN", "sasl_username": "me", "sasl_password": "hunter2"},
        index={"elasticsearch_api_key": "es-key-123"},
    )
    masked = s.masked()
    assert masked["kafka"]["sasl_password"] == "**********"
    assert masked["index"]["elasticsearch_api_key"] == "**********"
    assert masked["kafka"]["sasl_username"] == "me"
    assert masked["data_dir"] == ".adwatch"
    flat = repr(masked)
    assert "hunter2" not in flat and "es-key-123" not in flat
    # The secret itself is still available to code that needs it.
    assert isinstance(s.kafka.sasl_password, SecretStr)
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)


def test_masked_keeps_unset_secrets_none() -> None:
    masked = load_settings().masked()
    assert masked["kafka"]["sasl_password"] is None
    assert masked["index"]["elasticsearch_api_key"] is None


def test_topic_prefixing() -> None:
    assert load_settings().topic("ads.raw") == "adwatch.ads.raw"
    assert load_settings(topic_prefix="").topic("ads.raw") == "ads.raw"
    assert load_settings(topic_prefix="t1-x.").topic("ads.deadletter") == "t1-x.ads.deadletter"


def test_bad_topic_prefix() -> None:
    with pytest.raises(SettingsError, match="topic_prefix"):
        load_settings(topic_prefix="has space")


def test_index_path(tmp_path: Path) -> None:
    assert load_settings().index_path == Path(".adwatch") / "index.sqlite3"
    assert load_settings(data_dir=tmp_path).index_path == tmp_path / "index.sqlite3"
    custom = tmp_path / "elsewhere.db"
    s = load_settings(data_dir=tmp_path, index={"sqlite_path": custom})
    assert s.index_path == custom


# --- settings travel to worker subprocesses as environment -------------------------------


def custom_settings(data_dir: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        topic_prefix="my-prefix.",
        log_level="DEBUG",
        kafka={
            "bootstrap": "broker1:9093,broker2:9093",
            "partitions": 12,
            "consumer_group": "grp-1",
            "session_timeout_seconds": 12.5,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "svc",
            "sasl_password": 'p@ss w0rd="quoted"',
        },
        index={
            "backend": "elasticsearch",
            "elasticsearch_url": "https://es.test:9200",
            "elasticsearch_api_key": "k3y==",
            "sqlite_path": data_dir / "idx.db",
        },
        pipeline={"default_region": "GB", "sink_batch_size": 17, "sink_batch_seconds": 0.25},
    )


def test_settings_env_reproduces_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = custom_settings(tmp_path / "data")
    env = settings_env(original)
    assert all(k.startswith("ADWATCH_") for k in env)
    assert env["ADWATCH_KAFKA__SASL_PASSWORD"] == 'p@ss w0rd="quoted"'
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rebuilt = load_settings()
    assert rebuilt == original
    assert rebuilt.kafka.sasl_password is not None
    assert rebuilt.kafka.sasl_password.get_secret_value() == 'p@ss w0rd="quoted"'
    assert rebuilt.topic("ads.raw") == "my-prefix.ads.raw"


def test_settings_env_from_toml_and_defaults(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    write_toml(clean_env / "adwatch.toml", TOML)
    original = load_settings(kafka={"bootstrap": "h:1", "sasl_password": "s"})
    env = settings_env(original)
    (clean_env / "adwatch.toml").unlink()  # the child must not need the file
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == original


def test_worker_env_reproduces_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = custom_settings(tmp_path / "data")
    monkeypatch.setenv("ADWATCH_TOPIC_PREFIX", "stale.")  # must not leak into the child
    monkeypatch.setenv("UNRELATED_VAR", "kept")
    env = worker_env(original, "broker1:9093,broker2:9093")
    assert env["UNRELATED_VAR"] == "kept"
    assert env["ADWATCH_TOPIC_PREFIX"] == "my-prefix."

    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == original


def test_worker_env_replaces_bootstrap_and_resolves_data_dir(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    original = load_settings(data_dir="rel/data", kafka={"sasl_password": "pw"})
    env = worker_env(original, "127.0.0.1:4567")
    assert env["ADWATCH_KAFKA__BOOTSTRAP"] == "127.0.0.1:4567"
    assert env["ADWATCH_DATA_DIR"] == str(clean_env / "rel" / "data")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rebuilt = load_settings()
    assert rebuilt.kafka.bootstrap == "127.0.0.1:4567"
    assert rebuilt.data_dir == clean_env / "rel" / "data"
    expected = original.model_copy(
        update={
            "data_dir": clean_env / "rel" / "data",
            "kafka": original.kafka.model_copy(update={"bootstrap": "127.0.0.1:4567"}),
        }
    )
    assert rebuilt == expected
