"""On a real broker: subscriptions stored in a compacted topic, the CLI and the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from typer.testing import CliRunner

from pipeline.alerts.api import ApiKey, ApiKeys, create_api
from pipeline.alerts.store import SUBSCRIPTIONS, SubscriptionStore, ensure_subscription_topic
from pipeline.broker import settings_env
from pipeline.cli.main import _register, app
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.topic_reader import read_records
from schemas import EnrichedAd, Flag, PhoneMention, SearchQuery
from schemas.ads import join_text
from schemas.alerts import Channel, Subscription

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SECRET = "s3cret-hmac-key-xyz"
KEYS = ApiKeys(
    keys={
        "alice-key": ApiKey(subscriber="alice"),
        "bob-key": ApiKey(subscriber="bob"),
        "admin-key": ApiKey(subscriber="ops", admin=True),
    }
)


def sub(sub_id: str, owner: str = "alice", **changes: object) -> Subscription:
    values: dict[str, object] = {
        "id": sub_id,
        "owner": owner,
        "name": f"watch {sub_id}",
        "rule": SearchQuery(flags_any=["youth_language"]),
        "channels": [Channel(kind="webhook", target="https://hooks.example/x", secret=SECRET)],
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return Subscription.model_validate(values)


@pytest.fixture
def store_factory(
    settings_factory: Callable[..., Settings],
) -> Iterator[Callable[..., tuple[Settings, SubscriptionStore]]]:
    opened: list[SubscriptionStore] = []

    def make(idle: float = 0.2) -> tuple[Settings, SubscriptionStore]:
        settings = settings_factory()
        assert settings.kafka.bootstrap
        ensure_subscription_topic(settings, settings.kafka.bootstrap)
        store = SubscriptionStore(settings, settings.kafka.bootstrap, idle=idle)
        opened.append(store)
        return settings, store

    yield make
    for store in opened:
        store.close()


def test_store_round_trip_with_updates_and_tombstones(
    store_factory: Callable[..., tuple[Settings, SubscriptionStore]],
) -> None:
    settings, store = store_factory()
    assert store.all() == {}
    store.put(sub("a"))
    store.put(sub("b", owner="bob"))
    store.put(sub("a", active=False, updated_at=NOW + timedelta(hours=1)))
    store.put(sub("c"))
    store.delete("c")
    store.delete("never-existed")

    # A second store sees only what the topic holds: last write wins, tombstones remove.
    assert settings.kafka.bootstrap
    with SubscriptionStore(settings, settings.kafka.bootstrap) as fresh:
        seen = fresh.all()
        assert sorted(seen) == ["a", "b"]
        assert seen["a"].active is False
        assert seen["a"].channels[0].secret == SECRET
        assert fresh.get("c") is None
        assert fresh.get("b") == sub("b", owner="bob")
        # Its later reads pick up writes made by another store.
        store.put(sub("d"))
        store.delete("a")
        assert sorted(fresh.all()) == ["b", "d"]

    records = read_records(settings, settings.kafka.bootstrap, SUBSCRIPTIONS, min_count=8)
    assert len(records) == 8
    assert sum(r.value is None for r in records) == 3


def _index_ads(settings: Settings) -> None:
    def ad(source_id: str, flags: list[str], phone: str) -> EnrichedAd:
        return EnrichedAd(
            source="site",
            source_id=source_id,
            key=f"site:{source_id}",
            title="Title",
            body="body",
            text=join_text("Title", "body"),
            content_hash="0" * 32,
            phones=[PhoneMention(raw=phone, start=0, end=len(phone), extractor="t", e164=phone)],
            flags=[Flag(id=f) for f in flags],
            risk_score=0.5,
            posted_at=NOW,
            scraped_at=NOW,
        )

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with SQLiteIndex.open(settings.index_path) as index:
        index.write(
            [
                ad("1", ["youth_language"], "+17025550147"),
                ad("2", [], "+17025550147"),
                ad("3", ["youth_language"], "+12125550188"),
            ]
        )


def test_cli_add_list_pause_resume_test_delete(
    store_factory: Callable[..., tuple[Settings, SubscriptionStore]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, store = store_factory()
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    _index_ads(settings)
    _register()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["subscriptions", *args])
        assert result.exit_code == code, result.output
        return result.output

    out = run(
        "add", "--name", "Vegas watch", "--owner", "alice", "--phone", "(702) 555-0147",
        "--flag", "youth_language", "--webhook", "https://hooks.example/a", "--secret", SECRET,
        "--mask-phones", "--digest-every", "1h", "--id", "vegas",
    )  # fmt: skip
    assert "added vegas" in out
    typo = run(
        "add", "--name", "t", "--owner", "a", "--flag", "youth_langauge", "--file", "x", code=2
    )
    assert "--flag: unknown flag 'youth_langauge'" in typo
    generated = run("add", "--name", "Bob's Search!", "--owner", "bob", "--email", "b@ex.org")
    bob_id = generated.split()[-1]
    assert bob_id.startswith("bob-s-search-")

    stored = store.get("vegas")
    assert stored is not None
    assert stored.rule.phones == ["+17025550147"]
    assert stored.rule.flags_any == ["youth_language"]
    assert stored.channels[0].secret == SECRET and stored.channels[0].mask_phones
    assert stored.digest_every == timedelta(hours=1)

    # Invalid rules are refused with one line naming the option.
    bad = runner.invoke(app, ["subscriptions", "add", "--name", "x", "--owner", "o",
                              "--min-score", "2", "--file", "/tmp/x.jsonl"])  # fmt: skip
    assert bad.exit_code == 2 and "--min-score" in bad.output
    bad = runner.invoke(app, ["subscriptions", "add", "--name", "x", "--owner", "o",
                              "--webhook", "ftp://x"])  # fmt: skip
    assert bad.exit_code == 2 and "--webhook" in bad.output
    bad = runner.invoke(app, ["subscriptions", "add", "--name", "x", "--owner", "o",
                              "--file", "/tmp/x", "--realert-after", "soon"])  # fmt: skip
    assert bad.exit_code == 2 and "--realert-after" in bad.output

    listed = run("list", "--json")
    rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
    assert sorted(r["id"] for r in rows) == sorted(["vegas", bob_id])
    assert SECRET not in listed and SECRET not in run("list") and SECRET not in run("show", "vegas")
    bobs = run("list", "--owner", "bob", "--json").splitlines()
    assert [json.loads(line)["id"] for line in bobs] == [bob_id]

    run("pause", "vegas")
    paused = store.get("vegas")
    assert paused is not None and not paused.active and paused.updated_at > stored.updated_at
    assert "paused" in run("list")
    run("resume", "vegas")
    resumed = store.get("vegas")
    assert resumed is not None and resumed.active

    tested = run("test", "vegas")
    assert "1 ad match vegas" in tested and "site:1" in tested

    run("delete", bob_id)
    assert store.get(bob_id) is None
    run("show", bob_id, code=1)


@pytest.fixture
def api(
    store_factory: Callable[..., tuple[Settings, SubscriptionStore]],
) -> tuple[FastAPI, SubscriptionStore]:
    _, store = store_factory(idle=0.05)
    return create_api(store, KEYS), store


def body(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "night watch",
        "rule": {"flags_any": ["youth_language"], "min_score": 0.5},
        "channels": [{"kind": "webhook", "target": "https://hooks.example/n", "secret": SECRET}],
    }
    values.update(changes)
    return values


def test_api_auth_ownership_validation_and_secrets(
    api: tuple[FastAPI, SubscriptionStore],
) -> None:
    app_, store = api
    client = TestClient(app_)
    alice = {"X-API-Key": "alice-key"}
    bob = {"X-API-Key": "bob-key"}
    admin = {"X-API-Key": "admin-key"}

    assert client.get("/subscriptions").status_code == 401
    assert client.get("/subscriptions", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.post("/subscriptions", json=body()).status_code == 401

    created = client.post("/subscriptions", json=body(owner="mallory"), headers=alice)
    assert created.status_code == 201, created.text
    mine = created.json()
    assert mine["owner"] == "alice"  # forced to the caller
    assert mine["channels"][0]["has_secret"] is True
    sub_id = mine["id"]
    stored = store.get(sub_id)
    assert stored is not None and stored.channels[0].secret == SECRET

    by_admin = client.post("/subscriptions", json=body(owner="carol", id="carols"), headers=admin)
    assert by_admin.status_code == 201 and by_admin.json()["owner"] == "carol"
    assert client.post("/subscriptions", json=body(id="carols"), headers=alice).status_code == 409

    # Another subscriber's id looks exactly like one that does not exist.
    for method, path in [
        ("GET", f"/subscriptions/{sub_id}"),
        ("PATCH", f"/subscriptions/{sub_id}"),
        ("DELETE", f"/subscriptions/{sub_id}"),
        ("POST", f"/subscriptions/{sub_id}/pause"),
        ("POST", f"/subscriptions/{sub_id}/resume"),
    ]:
        patch = {"name": "x"} if method == "PATCH" else None
        refused = client.request(method, path, headers=bob, json=patch)
        missing = client.request(method, path.replace(sub_id, "nope"), headers=bob, json=patch)
        assert (refused.status_code, missing.status_code) == (404, 404), (method, path)
        assert refused.json()["detail"].replace(sub_id, "nope") == missing.json()["detail"]
    assert client.get("/subscriptions", headers=bob).json() == []
    assert [s["id"] for s in client.get("/subscriptions", headers=alice).json()] == [sub_id]
    assert sorted(s["id"] for s in client.get("/subscriptions", headers=admin).json()) == sorted(
        ["carols", sub_id]
    )

    invalid = client.post("/subscriptions", json=body(rule={"min_score": 3}), headers=alice)
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"][-1] == "min_score"
    window = body(rule={"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"})
    invalid = client.post("/subscriptions", json=window, headers=alice)
    assert invalid.status_code == 422 and "'since' must be before 'until'" in invalid.text
    invalid = client.patch(f"/subscriptions/{sub_id}", json={"realert_after": -5}, headers=alice)
    assert invalid.status_code == 422 and "realert_after must be positive" in invalid.text
    typo = client.post(
        "/subscriptions", json=body(rule={"flags_any": ["youth_langauge"]}), headers=alice
    )
    assert typo.status_code == 422 and "unknown flag 'youth_langauge'" in typo.text
    typo = client.patch(
        f"/subscriptions/{sub_id}", json={"rule": {"flags_all": ["nope"]}}, headers=alice
    )
    assert typo.status_code == 422 and "unknown flag 'nope'" in typo.text

    paused = client.post(f"/subscriptions/{sub_id}/pause", headers=alice)
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert client.post(f"/subscriptions/{sub_id}/resume", headers=alice).json()["active"] is True
    patched = client.patch(
        f"/subscriptions/{sub_id}", json={"name": "renamed", "digest_every": 3600}, headers=alice
    )
    assert patched.status_code == 200 and patched.json()["name"] == "renamed"
    after = store.get(sub_id)
    assert after is not None and after.channels[0].secret == SECRET  # kept through a patch

    responses = [created, by_admin, paused, patched]
    responses += [client.get(f"/subscriptions/{sub_id}", headers=alice)]
    responses += [client.get("/subscriptions", headers=admin)]
    assert all(SECRET not in r.text for r in responses)
    assert client.delete(f"/subscriptions/{sub_id}", headers=alice).status_code == 204
    assert store.get(sub_id) is None
    assert "/subscriptions/{sub_id}/pause" in client.get("/openapi.json").json()["paths"]


def test_api_conforms_to_its_schema(api: tuple[FastAPI, SubscriptionStore]) -> None:
    # schemathesis.pytest.from_fixture breaks on pytest 9 (reads node._nodeid), so each
    # operation's strategy is run with hypothesis directly.
    app_, store = api
    store.put(sub("fuzz-target", owner="alice"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_)
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/subscriptions"):
            continue

        @hypothesis_settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            if case.path_parameters and "sub_id" in case.path_parameters:
                case.path_parameters["sub_id"] = "fuzz-target"  # an id that exists
            response = case.call_and_validate(
                headers={"X-API-Key": "alice-key"},
                checks=[not_a_server_error, response_schema_conformance],
            )
            assert SECRET not in response.text

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    assert len(ran) == 7, ran
