"""The deploy configs, checked without Docker or a cluster (tests beside the configs).

- docker compose: structure (images, memory limits, health checks, depends_on), every
  `${VAR}` defined in .env.example, security on (and off only in the dev override), and
  the environment of each adwatch container loads as valid `Settings`;
- the image: deploy/Dockerfile runs `python -m pipeline.worker` as a non-root user;
- Kubernetes: every core-API object validated by kubernetes-validate (offline schemas,
  strict) for `K8S_VERSION`; the Strimzi and ECK resources by the keys adwatch relies on;
  topics, partitions, replicas and service names agreeing across files and with the code;
- monitoring: the workers' probes and scrape targets use the port and paths the worker
  serves; every metric the Prometheus alerts and the Grafana dashboard query exists in
  adwatch's registry; the dashboard is a well-formed Grafana dashboard whose template
  variables resolve.

Every `ADWATCH_*` name in these files must be a real setting: the valid names are built by
walking `pipeline.settings.Settings`, so a typo fails here instead of being ignored.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from pipeline import topics
from pipeline.linking.config import LinkConfig
from pipeline.metrics import ConnectorStatsCollector, WorkerMetrics, exposed_names, new_registry
from pipeline.settings import CONFIG_ENV, Settings, load_settings
from pipeline.worker_http import HEALTHZ, METRICS, READYZ

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# A version every pinned operator supports: ECK 3.5 supports Kubernetes 1.32-1.36,
# Strimzi 1.2 1.27 and later.
K8S_VERSION = "1.34"
WORKER_COMMAND = ["python", "-m", "pipeline.worker"]
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "adwatch-dashboard.json"
SETUP_COMMAND = "adwatch setup elasticsearch && adwatch setup kibana"
TABLES = ("phones", "buckets", "alerted", "digests")  # pipeline/link_agents.py, alert_agents.py
CRD_KINDS = {
    "kafka.strimzi.io/v1": {"Kafka", "KafkaNodePool", "KafkaTopic"},
    "elasticsearch.k8s.elastic.co/v1": {"Elasticsearch"},
    "kibana.k8s.elastic.co/v1": {"Kibana"},
}
# The deploy files this suite owns (deploy/elasticsearch and deploy/kibana have their own).
OWN_FILES = [
    DEPLOY / "docker-compose.yml",
    DEPLOY / "docker-compose.dev.yml",
    DEPLOY / ".env.example",
    DEPLOY / "Dockerfile",
    DEPLOY / "README.md",
    *sorted(K8S.rglob("*.yaml")),
    *sorted(PROMETHEUS.glob("*.y*ml")),
]


# --- helpers ----------------------------------------------------------------------------


def setting_env_names() -> set[str]:
    """Every environment variable `Settings` reads: nested models joined with ``__``."""
    names = {CONFIG_ENV}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            env = prefix + name.upper()
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, env + "__")
            else:
                names.add(env)

    walk(Settings, "ADWATCH_")
    return names


class Override(dict[str, Any]):
    """A mapping tagged ``!override`` in a compose file: replaces, not merges."""


class OverrideList(list[Any]):
    """A sequence tagged ``!override``."""


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus compose's ``!override`` and ``!reset`` tags."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return OverrideList(loader.construct_sequence(node, deep=True))
    return loader.construct_scalar(node)  # type: ignore[arg-type]


ComposeLoader.add_constructor("!override", _override)
ComposeLoader.add_constructor("!reset", _override)


def load_compose(name: str) -> dict[str, Any]:
    data = yaml.load((DEPLOY / name).read_text(encoding="utf-8"), Loader=ComposeLoader)
    assert isinstance(data, dict)
    return data


def merged_compose() -> dict[str, Any]:
    """The base file with the dev override applied (mappings merge, the rest replaces)."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(over, Override) or not (isinstance(base, dict) and isinstance(over, dict)):
            return over
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out

    return merge(load_compose("docker-compose.yml"), load_compose("docker-compose.dev.yml"))


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_]\w*)[^}]*\}|([A-Za-z_]\w*))")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def compose_variables(data: Any) -> set[str]:
    """Names interpolated by compose (``$$`` is an escaped ``$`` for the container)."""
    return {m.group(1) or m.group(2) for s in strings(data) for m in _VAR.finditer(s)} - {None}


def interpolate(value: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda m: "$" if m.group(0) == "$$" else env[m.group(1) or m.group(2)], value)


def is_adwatch(service: dict[str, Any]) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("adwatch:")


def memory_limit(service: dict[str, Any]) -> Any:
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    return service.get("mem_limit") or limits.get("memory")


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append((str(path.relative_to(K8S)), doc))
    return docs


def k8s(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    found = [d for _, d in k8s_documents() if d["kind"] == kind]
    return [d for d in found if name is None or d["metadata"]["name"] == name]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = k8s(kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def config_map() -> dict[str, str]:
    data: dict[str, str] = one("ConfigMap", "adwatch-config")["data"]
    return data


def containers(kind: str, name: str) -> list[dict[str, Any]]:
    spec = one(kind, name)["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def image_tag(image: str) -> str:
    _, sep, tag = image.rpartition(":")
    assert sep and "/" not in tag, f"{image}: no version tag"
    return tag


# --- every ADWATCH_* name is a setting ---------------------------------------------------


def test_setting_env_names_walks_nested_models() -> None:
    names = setting_env_names()
    for name in (
        "ADWATCH_DATA_DIR",
        "ADWATCH_KAFKA__BOOTSTRAP",
        "ADWATCH_INDEX__ELASTICSEARCH_API_KEY",
        "ADWATCH_LINKING__BURST_MIN_ADS",
        "ADWATCH_CONNECTORS__CONFIG",
    ):
        assert name in names
    assert "ADWATCH_KAFKA" not in names  # a model, not a value


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_adwatch_variable_is_a_setting(path: Path) -> None:
    used = set(re.findall(r"ADWATCH_[A-Z0-9]+(?:__?[A-Z0-9]+)*", path.read_text("utf-8")))
    assert not used - setting_env_names(), f"not settings: {sorted(used - setting_env_names())}"


# --- docker compose ---------------------------------------------------------------------


def test_compose_services_have_image_or_build_and_memory_limit() -> None:
    for name, service in load_compose("docker-compose.yml")["services"].items():
        assert "image" in service or "build" in service, name
        assert memory_limit(service), f"{name}: no mem_limit / deploy.resources.limits.memory"


def test_compose_third_party_images_pinned() -> None:
    services = load_compose("docker-compose.yml")["services"]
    for name, service in services.items():
        if is_adwatch(service):
            continue
        tag = image_tag(service["image"])
        assert tag != "latest" and "$" not in tag and re.match(r"\d+\.\d+\.\d+$", tag), name
    es = image_tag(services["elasticsearch"]["image"])
    assert es.startswith("9.")
    assert image_tag(services["kibana"]["image"]) == es
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_compose_long_running_services_have_health_checks() -> None:
    services = load_compose("docker-compose.yml")["services"]
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shots == {"certs", "es-passwords", "topics", "setup"}
    for name, service in services.items():
        if name not in one_shots:
            assert service.get("restart") == "unless-stopped", name
            assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"


def test_compose_depends_on_targets_exist_with_conditions() -> None:
    services = load_compose("docker-compose.yml")["services"]
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} never completes"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
    # No cycles: the services can be started in some order.
    left = {n: set(s.get("depends_on", {})) for n, s in services.items()}
    while left:
        ready = [n for n, deps in left.items() if not deps & left.keys()]
        assert ready, f"depends_on cycle among {sorted(left)}"
        for n in ready:
            del left[n]


def test_compose_workers_wait_for_the_setup_job() -> None:
    services = load_compose("docker-compose.yml")["services"]
    setup, worker = services["setup"], services["worker"]
    assert setup["restart"] == "no"
    assert setup["command"] == ["sh", "-c", SETUP_COMMAND]
    assert worker["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
    assert worker["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    assert "command" not in worker  # the image's CMD: python -m pipeline.worker
    assert worker["deploy"]["replicas"] == "${WORKER_REPLICAS}"
    assert services["connectors"]["command"] == ["adwatch", "connectors", "run"]


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.dev.yml"])
def test_compose_variables_are_defined_in_env_example(name: str) -> None:
    missing = compose_variables(load_compose(name)) - env_example().keys()
    assert not missing, f"{name} uses variables .env.example does not define: {missing}"


def test_env_example_has_no_unused_variables() -> None:
    used = compose_variables(load_compose("docker-compose.yml"))
    used |= compose_variables(load_compose("docker-compose.dev.yml"))
    assert not env_example().keys() - used
    assert int(env_example()["WORKER_REPLICAS"]) <= int(env_example()["PARTITIONS"])


@pytest.mark.parametrize("dev", [False, True], ids=["production", "dev"])
def test_compose_adwatch_containers_configured_only_by_valid_settings(
    dev: bool, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose = merged_compose() if dev else load_compose("docker-compose.yml")
    adwatch = {n: s for n, s in compose["services"].items() if is_adwatch(s)}
    assert set(adwatch) == {"setup", "worker", "connectors"}
    for name, service in adwatch.items():
        assert "env_file" not in service
        env = {k: interpolate(str(v), env_example()) for k, v in service["environment"].items()}
        assert all(k.startswith("ADWATCH_") for k in env), name
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            settings = load_settings()  # raises on any bad value
        assert settings.kafka.bootstrap == "kafka:9092"
        assert settings.kafka.partitions == int(env_example()["PARTITIONS"])
        assert settings.topic_prefix == env_example()["TOPIC_PREFIX"]
        if name != "connectors":
            url = settings.index.elasticsearch_url or ""
            assert settings.index.backend == "elasticsearch"
            assert url.startswith("http://" if dev else "https://"), (name, url)
            if not dev:
                assert settings.index.elasticsearch_ca_certs == Path("/certs/ca/ca.crt")
                assert "certs:/certs:ro" in service["volumes"]
        else:  # the connectors get no Elasticsearch credentials
            assert settings.index.elasticsearch_password is None


def test_compose_security_is_on() -> None:
    services = load_compose("docker-compose.yml")["services"]
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert es["xpack.security.transport.ssl.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD}"
    kibana = services["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_HOSTS"].startswith("https://")
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_PASSWORD"] == "${KIBANA_PASSWORD}"
    assert "elasticsearch-certutil" in " ".join(services["certs"]["command"])
    assert services["elasticsearch"]["depends_on"]["certs"]["condition"] == (
        "service_completed_successfully"
    )
    # Published ports listen on loopback only.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_dev_override_turns_security_off_and_says_so() -> None:
    head = (DEPLOY / "docker-compose.dev.yml").read_text(encoding="utf-8").splitlines()[0]
    assert "NOT FOR PRODUCTION" in head
    services = merged_compose()["services"]
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "false"
    assert not any("ssl.key" in key or key == "ELASTIC_PASSWORD" for key in es)
    assert services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"].startswith("http://")
    assert "ADWATCH_CONNECTORS__CONFIG" not in services["connectors"]["environment"]


def test_compose_topics_service_creates_every_topic() -> None:
    services = load_compose("docker-compose.yml")["services"]
    env = services["topics"]["environment"]
    assert set(env["TOPICS"].split()) == set(topics.ALL)
    assert env["SUBSCRIPTIONS_TOPIC"] == topics.SUBSCRIPTIONS
    script = "\n".join(services["topics"]["command"])
    assert '--topic "$${TOPIC_PREFIX}$${SUBSCRIPTIONS_TOPIC}"' in script
    assert "cleanup.policy=compact" in script.split("SUBSCRIPTIONS_TOPIC}")[-1]
    adwatch_env = services["worker"]["environment"]
    assert env["TOPIC_PREFIX"] == adwatch_env["ADWATCH_TOPIC_PREFIX"]
    assert env["PARTITIONS"] == adwatch_env["ADWATCH_KAFKA__PARTITIONS"]
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert image_tag(services["kafka"]["image"]) == one("Kafka")["spec"]["kafka"]["version"]


# --- the image --------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def test_dockerfile_runs_the_worker_as_non_root() -> None:
    steps = dockerfile()
    assert [a for i, a in steps if i == "FROM"] == ["python:3.11-slim"]
    users = [i for i, (instr, _) in enumerate(steps) if instr == "USER"]
    assert users, "no USER: the image would run as root"
    user = steps[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"}
    assert all(instr != "RUN" for instr, _ in steps[users[-1] :]), "RUN after USER"
    cmd = [a for i, a in steps if i == "CMD"]
    assert cmd == ['["python", "-m", "pipeline.worker"]']
    assert not any(i == "ENTRYPOINT" for i, _ in steps)  # compose/k8s commands replace CMD
    assert importlib.util.find_spec("pipeline.worker") is not None


def test_dockerfile_installs_the_locked_package() -> None:
    steps = dockerfile()
    copied = [shlex.split(a)[:-1] for i, a in steps if i == "COPY"]
    sources = {s for group in copied for s in group}
    assert {"requirements.lock", "pyproject.toml", "README.md"} <= sources
    assert {"schemas", "connectors", "pipeline"} <= sources  # the packages of pyproject
    for source in sources:
        assert (ROOT / source).exists(), source
    env = " ".join(a for i, a in steps if i == "ENV")
    assert "PIP_CONSTRAINT=/tmp/build/requirements.lock" in env
    assert any(i == "RUN" and "pip install ." in a for i, a in steps)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {f"!{s}" for s in sources if (ROOT / s).is_file()} <= set(ignore)


# --- Kubernetes: core objects validated, custom resources by structure -------------------


@pytest.mark.parametrize(
    "doc",
    [d for _, d in k8s_documents() if d["apiVersion"] not in CRD_KINDS],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_core_objects_validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_object_is_validated_or_a_known_custom_resource() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for _, d in k8s_documents()}
    custom = {(v, k) for v, ks in CRD_KINDS.items() for k in ks}
    assert custom <= kinds
    core = {k for _, k in kinds - custom}
    assert {
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Job",
    } <= core


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), resource
    files = {str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml")}
    assert set(resources) == files - {"kustomization.yaml", "secret.example.yaml"}
    assert kustomization["namespace"] == one("Namespace")["metadata"]["name"]
    assert [i["name"] for i in kustomization["images"]] == ["adwatch"]


def test_adwatch_pods_are_configured_only_by_settings(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = setting_env_names()
    secret = one("Secret", "adwatch-secrets")["stringData"]
    assert set(config_map()) <= names and set(secret) <= names
    for kind, name in [
        ("Deployment", "adwatch-worker"),
        ("Deployment", "adwatch-connectors"),
        ("Job", "adwatch-setup"),
    ]:
        for container in containers(kind, name):
            if not container["image"].startswith("adwatch:"):
                continue
            assert {e["name"] for e in container.get("env", [])} <= names, name
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources <= {"adwatch-config", "adwatch-secrets"}, name
    # The ConfigMap plus the Secret is a valid configuration.
    for key, value in {**config_map(), **secret}.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.index.backend == "elasticsearch"
    assert settings.kafka.partitions == 12


def test_worker_deployment() -> None:
    deployment = one("Deployment", "adwatch-worker")
    spec = deployment["spec"]
    assert "replicas" not in spec  # the HPA owns it
    worker = next(c for c in spec["template"]["spec"]["containers"] if c["name"] == "worker")
    assert worker["command"] == WORKER_COMMAND
    assert worker["livenessProbe"]["httpGet"]["path"] == HEALTHZ
    assert worker["readinessProbe"]["httpGet"]["path"] == READYZ
    assert worker["resources"]["limits"]["memory"] and worker["resources"]["requests"]["cpu"]
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_workers_wait_for_the_setup_job() -> None:
    job = one("Job", "adwatch-setup")
    setup = job["spec"]["template"]["spec"]["containers"][0]
    assert setup["command"] == ["sh", "-c", SETUP_COMMAND]
    assert "ttlSecondsAfterFinished" not in job["spec"]  # new workers wait for it
    wait = one("Deployment", "adwatch-worker")["spec"]["template"]["spec"]["initContainers"][0]
    assert "--for=condition=complete" in wait["args"] and "job/adwatch-setup" in wait["args"]
    image_tag(wait["image"])
    account = one("Deployment", "adwatch-worker")["spec"]["template"]["spec"]
    binding = one("RoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["serviceAccountName"]}
    ]
    rule = one("Role", binding["roleRef"]["name"])["rules"][0]
    assert "jobs" in rule["resources"] and {"get", "watch"} <= set(rule["verbs"])


def test_hpa_bounded_by_partitions() -> None:
    hpa = one("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "adwatch-worker",
    }
    assert (
        2
        <= hpa["minReplicas"]
        <= hpa["maxReplicas"]
        <= int(config_map()["ADWATCH_KAFKA__PARTITIONS"])
    )
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert "kafka_consumergroup_lag" in (K8S / "worker-hpa.yaml").read_text(encoding="utf-8")


def test_connectors_run_alone() -> None:
    spec = one("Deployment", "adwatch-connectors")["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == ["adwatch", "connectors", "run"]
    assert {"livenessProbe", "readinessProbe"} <= container.keys()
    claim = spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert one("PersistentVolumeClaim", claim)


QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def quantities(value: Any) -> Iterator[str]:
    """Every value under a ``requests``/``limits`` mapping, and every volume ``size``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"requests", "limits"} and isinstance(item, dict):
                yield from (str(v) for v in item.values() if not isinstance(v, dict))
            elif key == "size" and isinstance(item, str):
                yield item
            yield from quantities(item)
    elif isinstance(value, list):
        for item in value:
            yield from quantities(item)


def test_resource_quantities_are_well_formed() -> None:
    # The JSON schemas accept any string here; the API server would refuse a bad one.
    found = [q for _, doc in k8s_documents() for q in quantities(doc)]
    assert len(found) > 20
    assert not [q for q in found if not QUANTITY.match(q)]
    env = env_example()
    for name, service in load_compose("docker-compose.yml")["services"].items():
        limit = interpolate(str(memory_limit(service)), env)
        assert re.match(r"^\d+[bkmg]$", limit), (name, limit)


def test_images_pinned() -> None:
    for kind in ("Deployment", "Job"):
        for obj in k8s(kind):
            for container in containers(kind, obj["metadata"]["name"]):
                assert image_tag(container["image"]) != "latest"


# --- Strimzi and ECK --------------------------------------------------------------------


def test_strimzi_kafka_is_kraft_with_node_pools() -> None:
    kafka = one("Kafka")
    cluster = kafka["metadata"]["name"]
    pools = k8s("KafkaNodePool")
    assert {p["metadata"]["labels"]["strimzi.io/cluster"] for p in pools} == {cluster}
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    for pool in pools:
        assert pool["spec"]["storage"]["type"] == "jbod"
        assert pool["spec"]["resources"]["limits"]["memory"]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    spec = kafka["spec"]["kafka"]
    assert "zookeeper" not in kafka["spec"] and "replicas" not in spec
    plain = next(x for x in spec["listeners"] if x["name"] == "plain")
    assert config_map()["ADWATCH_KAFKA__BOOTSTRAP"] == f"{cluster}-kafka-bootstrap:{plain['port']}"
    assert int(config_map()["ADWATCH_KAFKA__REPLICATION_FACTOR"]) <= brokers
    assert spec["config"]["min.insync.replicas"] < spec["config"]["default.replication.factor"]
    assert spec["config"]["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]


def test_kafka_topics_are_the_pipeline_topics() -> None:
    cm = config_map()
    prefix, group = cm["ADWATCH_TOPIC_PREFIX"], cm["ADWATCH_KAFKA__CONSUMER_GROUP"]
    partitions = int(cm["ADWATCH_KAFKA__PARTITIONS"])
    cluster = one("Kafka")["metadata"]["name"]
    brokers = sum(
        p["spec"]["replicas"] for p in k8s("KafkaNodePool") if "broker" in p["spec"]["roles"]
    )
    declared = {t["spec"]["topicName"]: t for t in k8s("KafkaTopic")}
    changelogs = {f"{group}-{table}-changelog" for table in TABLES}
    subscriptions = prefix + topics.SUBSCRIPTIONS
    assert set(declared) == {prefix + name for name in topics.ALL} | changelogs | {subscriptions}
    for name, topic in declared.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster, name
        assert topic["spec"]["partitions"] == partitions, name
        assert 2 <= topic["spec"]["replicas"] <= brokers, name
        compacted = topic["spec"]["config"].get("cleanup.policy") == "compact"
        assert compacted == (name in changelogs or name == subscriptions), name
    # ads.raw outlives the longest linking window, so a replay can rebuild the tables.
    raw = declared[prefix + topics.RAW]["spec"]["config"]["retention.ms"]
    assert raw >= LinkConfig().retention.total_seconds() * 1000
    assert declared[prefix + topics.DEADLETTER]["spec"]["config"]["retention.ms"] >= raw


def test_eck_elasticsearch_and_kibana() -> None:
    es, kibana = one("Elasticsearch"), one("Kibana")
    name = es["metadata"]["name"]
    compose = load_compose("docker-compose.yml")["services"]
    assert es["spec"]["version"] == kibana["spec"]["version"]
    assert es["spec"]["version"] == image_tag(compose["elasticsearch"]["image"])
    assert kibana["spec"]["elasticsearchRef"]["name"] == name
    node_sets = es["spec"]["nodeSets"]
    assert sum(n["count"] for n in node_sets) >= 3
    for node_set in node_sets:
        claim = node_set["volumeClaimTemplates"][0]["metadata"]["name"]
        assert claim == "elasticsearch-data"
    cm = config_map()
    assert cm["ADWATCH_INDEX__ELASTICSEARCH_URL"] == f"https://{name}-es-http:9200"
    assert cm["ADWATCH_INDEX__KIBANA_URL"].startswith(
        f"http://{kibana['metadata']['name']}-kb-http:"
    )
    # The Secrets the pods read are the ones ECK makes for this cluster.
    for kind, obj in [("Deployment", "adwatch-worker"), ("Job", "adwatch-setup")]:
        volumes = one(kind, obj)["spec"]["template"]["spec"]["volumes"]
        ca = next(v for v in volumes if v["name"] == "es-ca")["secret"]["secretName"]
        assert ca == f"{name}-es-http-certs-public"
    password = next(
        e
        for e in containers("Job", "adwatch-setup")[0]["env"]
        if e["name"] == "ADWATCH_INDEX__ELASTICSEARCH_PASSWORD"
    )
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": f"{name}-es-elastic-user",
        "key": "elastic",
    }


# --- monitoring: probes, scrape targets, alerts, the Grafana dashboard -------------------


def worker_monitoring_env() -> dict[str, str]:
    worker = next(c for c in containers("Deployment", "adwatch-worker") if c["name"] == "worker")
    return {e["name"]: e["value"] for e in worker.get("env", []) if "value" in e}


def test_worker_probes_and_annotations_use_the_port_it_serves() -> None:
    deployment = one("Deployment", "adwatch-worker")
    template = deployment["spec"]["template"]
    worker = next(c for c in template["spec"]["containers"] if c["name"] == "worker")
    env = worker_monitoring_env()
    port = int(env["ADWATCH_MONITORING__HTTP_PORT"])
    assert env["ADWATCH_MONITORING__HTTP_HOST"] == "0.0.0.0"  # reachable by the kubelet
    (named,) = [p for p in worker["ports"] if p["name"] == "metrics"]
    assert named["containerPort"] == port
    for probe in ("livenessProbe", "readinessProbe"):
        assert worker[probe]["httpGet"]["port"] == "metrics", probe
    # liveness gives a stall time to show: several periods, never quicker than the rule
    live = worker["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port
    assert annotations["prometheus.io/path"] == METRICS
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**config_map(), **env}.items():
            patch.setenv(key, value)
        settings = load_settings()
    assert settings.monitoring.http_port == port
    assert settings.monitoring.stall_seconds >= live["periodSeconds"]


def test_compose_worker_health_check_asks_the_liveness_endpoint() -> None:
    for compose in (load_compose("docker-compose.yml"), merged_compose()):
        worker = compose["services"]["worker"]
        port = worker["environment"]["ADWATCH_MONITORING__HTTP_PORT"]
        assert worker["environment"]["ADWATCH_MONITORING__HTTP_HOST"] == "0.0.0.0"
        test = worker["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"]
        assert f"http://127.0.0.1:{port}{HEALTHZ}" in test[3]
        compile(test[3], "healthcheck", "exec")  # the one-liner is valid Python
    assert "ports" not in load_compose("docker-compose.yml")["services"]["worker"]


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_prometheus_scrapes_the_compose_workers_and_connectors() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    services = load_compose("docker-compose.yml")["services"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    worker = jobs["adwatch-worker"]
    (sd,) = worker["dns_sd_configs"]
    assert sd["names"] == ["worker"] and "worker" in services
    assert sd["port"] == int(services["worker"]["environment"]["ADWATCH_MONITORING__HTTP_PORT"])
    assert worker["metrics_path"] == METRICS
    (target,) = jobs["adwatch-connectors"]["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    assert host in services and 0 < int(port) < 65536
    for rules in config["rule_files"]:
        assert (PROMETHEUS / rules).is_file()


def test_prometheus_on_kubernetes_keeps_the_annotated_worker_pods() -> None:
    config = load_yaml(PROMETHEUS / "prometheus-k8s.yml")
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    assert sd["namespaces"]["names"] == [
        yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))["namespace"]
    ]
    relabel = job["relabel_configs"]
    keeps = {tuple(r["source_labels"]): r["regex"] for r in relabel if r.get("action") == "keep"}
    labels = one("Deployment", "adwatch-worker")["spec"]["template"]["metadata"]["labels"]
    component = labels["app.kubernetes.io/component"]
    assert keeps[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)] == "true"
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)] == component
    # the address rewrite puts the annotated port on the pod's IP ($1 is RE2's \1)
    address = next(r for r in relabel if r.get("target_label") == "__address__")
    replacement = address["replacement"].replace("$", "\\")
    assert re.sub(address["regex"], replacement, "10.0.0.7:8080;9464") == "10.0.0.7:9464"


def test_podmonitor_selects_the_worker_pods_by_port_name() -> None:
    monitor = load_yaml(PROMETHEUS / "podmonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "PodMonitor"
    template = one("Deployment", "adwatch-worker")["spec"]["template"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    )
    ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in ports and endpoint["path"] == METRICS


def adwatch_metric_names() -> set[str]:
    """Every sample name a worker or the connectors can expose."""
    from faust.sensors.prometheus import FaustMetrics

    registry = new_registry()
    WorkerMetrics(registry)
    FaustMetrics.create(registry, "faust")
    registry.register(ConnectorStatsCollector(list))
    return exposed_names(registry)


PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "le", "inf", "nan",
}  # fmt: skip
SYNTHETIC = {"up", "scrape_duration_seconds"}  # made by Prometheus itself


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression selects (label matchers, groupings and ranges removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set(re.findall(r"(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", text))
    return names - PROMQL_WORDS


def test_promql_metrics_helper() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, sink) (rate(adwatch_sink_write_seconds_bucket"
        '{job=~"$job"}[$__rate_interval]))) / on (instance) up'
    )
    assert promql_metrics(expr) == {"adwatch_sink_write_seconds_bucket", "up"}


def test_prometheus_alerts_query_metrics_adwatch_exposes() -> None:
    known = adwatch_metric_names() | SYNTHETIC
    rules = [r for g in load_yaml(PROMETHEUS / "alerts.yml")["groups"] for r in g["rules"]]
    assert len(rules) >= 6
    names = [r["alert"] for r in rules]
    assert len(set(names)) == len(names)
    for rule in rules:
        used = promql_metrics(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, (rule["alert"], used - known)
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert {"AdwatchWorkerStalled", "AdwatchDeadLetterRatioHigh"} <= set(names)


DASH = json.loads(DASHBOARD.read_text(encoding="utf-8"))
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__all"}
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "table", "bargauge", "text"}


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in DASH["panels"] if p["type"] != "row"]


def test_dashboard_is_an_importable_grafana_dashboard() -> None:
    assert {"uid", "title", "panels", "templating", "schemaVersion", "time"} <= DASH.keys()
    assert DASH["id"] is None  # assigned by Grafana on import
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", DASH["uid"])
    assert 36 <= DASH["schemaVersion"] <= 41
    ids = [p["id"] for p in DASH["panels"]]
    assert len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids)
    cells: set[tuple[int, int]] = set()
    for panel in DASH["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] >= 1 and pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["h"] >= 1 and pos["y"] >= 0
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_dashboard_datasource_and_variables_resolve() -> None:
    variables = {v["name"]: v for v in DASH["templating"]["list"]}
    source = variables["datasource"]
    assert source["type"] == "datasource" and source["query"] == "prometheus"
    wanted = {"type": "prometheus", "uid": "${datasource}"}
    defined = set(variables) | GRAFANA_BUILTINS
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == wanted, var["name"]
            query = var["query"]["query"]
            assert set(re.findall(r"\$\{?(\w+)", query)) <= defined, var["name"]
            assert promql_metrics(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query)) <= (
                adwatch_metric_names()
            )
    for panel in dashboard_panels():
        assert panel["datasource"] == wanted, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", wanted) == wanted, panel["title"]
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined, (panel["title"], used - defined)


def test_dashboard_panels_query_metrics_adwatch_exposes() -> None:
    known = adwatch_metric_names()
    queried: set[str] = set()
    for panel in dashboard_panels():
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            used = promql_metrics(target["expr"])
            assert used, (panel["title"], target["expr"])
            assert used <= known, (panel["title"], used - known)
            queried |= used
    # what operators asked for is on it
    for name in (
        "adwatch_records_in_total",
        "adwatch_records_out_total",
        "adwatch_deadlettered_total",
        "adwatch_flags_total",
        "adwatch_sink_write_seconds_bucket",
        "adwatch_sink_retries_total",
        "adwatch_alerts_delivered_total",
        "adwatch_alerts_failed_total",
        "adwatch_consumer_lag",
        "adwatch_connector_polls_total",
        "adwatch_connector_errors_total",
        "adwatch_worker_live",
    ):
        assert name in queried, name
