"""Kibana set-up: import adwatch's saved objects through the saved objects API.

    deploy/kibana/adwatch.ndjson   (packaged as pipeline/setup_files/kibana/adwatch.ndjson)
        │  with_prefix: every name adwatch-… becomes PREFIX-… (ids, data view patterns, links)
        ▼
    GET  KIBANA/api/status                                   reachable, credentials, version
    POST KIBANA/api/saved_objects/_import?overwrite=true     multipart "file", kbn-xsrf: true
        ▼
    one line per object (created / replaced), or a SetupError listing each object's error

Importing with ``overwrite=true`` replaces the objects by id, so running it again changes
nothing that adwatch did not ship; an analyst's edit of a shipped object is replaced.

The objects are in the format of Kibana 8.9 (Lens 8.9.0, dashboard 8.7.0, visualization
8.5.0, map 8.4.0, data views and saved searches 8.0.0): Kibana imports objects of its own
or an older version of the same or the previous major and migrates them, so 8.9 to 9.x can
import them.
"""

from __future__ import annotations

import re
import ssl
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from pipeline.es_bodies import SetupError, with_prefix
from pipeline.settings import IndexSettings

MIN_VERSION = (8, 9)
MAX_MAJOR = 9
IMPORT_PATH = "/api/saved_objects/_import"


def packaged_ndjson() -> Path:
    """The packaged saved objects (a copy of ``deploy/kibana/adwatch.ndjson``)."""
    return Path(str(resources.files("pipeline") / "setup_files" / "kibana" / "adwatch.ndjson"))


def saved_objects(prefix: str, path: Path | None = None) -> bytes:
    """The NDJSON to import, every ``adwatch-…`` name renamed for ``prefix``."""
    source = path or packaged_ndjson()
    try:
        text = source.read_text("utf-8")
    except OSError as exc:
        raise SetupError(f"cannot read {source}: {exc.strerror or exc}") from None
    return with_prefix(text, prefix).encode("utf-8")


def request_options(settings: IndexSettings) -> dict[str, Any]:
    """Options of the httpx client: Kibana URL, ``kbn-xsrf``, credentials and TLS of ``settings``.

    Kibana accepts the Elasticsearch credentials: an API key as ``Authorization: ApiKey``,
    a user as HTTP basic auth. TLS follows the Elasticsearch settings (CA bundle, verify).
    """
    if not settings.kibana_url:
        raise SetupError("index.kibana_url is not set")
    headers = {"kbn-xsrf": "true"}
    options: dict[str, Any] = {
        "base_url": settings.kibana_url.rstrip("/"),
        "timeout": settings.elasticsearch_timeout_seconds,
        "verify": _verify(settings),
    }
    if settings.elasticsearch_api_key is not None:
        headers["Authorization"] = f"ApiKey {settings.elasticsearch_api_key.get_secret_value()}"
    elif settings.elasticsearch_username:
        password = settings.elasticsearch_password
        secret = password.get_secret_value() if password is not None else ""
        options["auth"] = (settings.elasticsearch_username, secret)
    options["headers"] = headers
    return options


def _verify(settings: IndexSettings) -> bool | ssl.SSLContext:
    if not settings.elasticsearch_verify_certs:
        return False
    if settings.elasticsearch_ca_certs is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.elasticsearch_ca_certs))
    except (OSError, ssl.SSLError) as exc:
        raise SetupError(
            f"cannot read the CA bundle {settings.elasticsearch_ca_certs}: {exc}"
        ) from None


def setup_kibana(settings: IndexSettings, *, path: Path | None = None) -> list[str]:
    """Import the saved objects into Kibana; return one line per object.

    Raises `SetupError` when Kibana is unreachable, refuses the credentials, is too old,
    or refuses any object (each refusal listed).
    """
    data = saved_objects(settings.index_prefix, path)
    with httpx.Client(**request_options(settings)) as client:
        status = _call(client, "GET", "/api/status", "reading the Kibana status")
        log = [check_kibana_version(status.json() if _is_json(status) else {})]
        response = _call(
            client,
            "POST",
            IMPORT_PATH,
            "importing the saved objects",
            params={"overwrite": "true"},
            files={"file": ("adwatch.ndjson", data, "application/ndjson")},
        )
        try:
            answer = response.json()
        except ValueError:
            raise SetupError(
                f"importing the saved objects: Kibana answered {response.status_code} with "
                f"something that is not JSON: {response.text[:200]!r}"
            ) from None
    return log + import_report(answer)


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _call(client: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise SetupError(f"{what}: Kibana at {client.base_url} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise SetupError(f"{what}: cannot reach Kibana at {client.base_url}: {exc}") from None
    if response.headers.get("x-elastic-product") == "Elasticsearch":
        raise SetupError(
            f"{what}: {client.base_url} is Elasticsearch, not Kibana; set index.kibana_url "
            "to Kibana's address (port 5601 by default)"
        )
    if response.status_code == 401:
        raise SetupError(
            f"{what}: Kibana refused the credentials (401); it takes the Elasticsearch ones: "
            "index.elasticsearch_api_key, or elasticsearch_username and _password"
        )
    if response.status_code == 403:
        raise SetupError(
            f"{what}: not allowed (403): the user needs the Kibana privileges to manage saved "
            f"objects (All on Saved Objects Management, Dashboard, Discover, Visualize, Maps): "
            f"{_message(response)}"
        )
    if response.status_code == 503:
        raise SetupError(f"{what}: Kibana is not ready yet (503): {_message(response)}")
    if response.status_code == 404:
        raise SetupError(
            f"{what}: {response.url} does not exist (404); is index.kibana_url Kibana's "
            "address, with its base path if it has one?"
        )
    if response.status_code >= 400:
        raise SetupError(f"{what}: Kibana answered {response.status_code}: {_message(response)}")
    return response


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body)[:200]


def check_kibana_version(status: dict[str, Any]) -> str:
    """A line about the Kibana version in ``GET /api/status``; SetupError when unsupported.

    A status without a version (anonymous access shows none) is let through: the import
    itself then says what Kibana cannot read.
    """
    number = str((status.get("version") or {}).get("number", ""))
    found = re.match(r"(\d+)\.(\d+)", number)
    if found is None:
        return "Kibana: version not shown, importing anyway"
    version = (int(found[1]), int(found[2]))
    if version < MIN_VERSION or version[0] > MAX_MAJOR:
        raise SetupError(
            f"Kibana {number} is not supported: the saved objects need Kibana 8.9 or newer "
            f"8.x, or 9.x"
        )
    return f"Kibana {number}: supported"


def import_report(answer: dict[str, Any]) -> list[str]:
    """One line per imported object; SetupError listing every object Kibana refused."""
    lines = []
    for result in answer.get("successResults") or []:
        how = "replaced" if result.get("overwrite") else "created"
        lines.append(f"{_name(result)}: {how}")
    errors = answer.get("errors") or []
    if errors or not answer.get("success", False):
        problems = [f"  {_name(e)}: {_error(e.get('error') or {})}" for e in errors]
        if not problems:
            problems = [f"  {answer}"]
        raise SetupError(
            f"Kibana imported {answer.get('successCount', len(lines))} object(s) and refused "
            f"{len(errors)}:\n" + "\n".join(problems)
        )
    return lines


def _name(entry: dict[str, Any]) -> str:
    title = (entry.get("meta") or {}).get("title") or entry.get("title")
    shown = f" ({title})" if title else ""
    return f"{entry.get('type', '?')} {entry.get('id', '?')}{shown}"


def _error(error: dict[str, Any]) -> str:
    kind = error.get("type", "unknown")
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
        return f"refers to objects that are neither in the file nor in Kibana: {refs}"
    if kind == "unsupported_type":
        return "this Kibana has no such object type (is the plugin that provides it disabled?)"
    if kind == "conflict":
        return "conflicts with an existing object"
    if kind == "ambiguous_conflict":
        return "matches several existing objects (copies in other spaces?)"
    detail = error.get("message") or error.get("error") or ""
    status = f" ({error['statusCode']})" if error.get("statusCode") else ""
    return f"{kind}{status}{': ' + str(detail) if detail else ''}"
