"""What the commands that read the index share: opening it, and phones typed by people."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import ConnectionTimeout, TlsError, TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
)
from pydantic import ValidationError

from pipeline.cli.common import fail
from pipeline.es_search import client_from_settings
from pipeline.phones import PhoneNumberError, normalize_phone
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SchemaVersionError, SQLiteIndex


@contextmanager
def open_index(settings: Settings, command: str) -> Iterator[SQLiteIndex]:
    """The configured index, read-only use; exits with a clear message when it cannot be read.

    ``command`` names the command in the message for a backend it cannot read yet.
    """
    if settings.index.backend == "elasticsearch":
        fail(
            f"the Elasticsearch backend is not available yet for `adwatch {command}`; "
            "set ADWATCH_INDEX__BACKEND=sqlite",
            code=1,
        )
    path = settings.index_path
    try:
        with SQLiteIndex.open(path, create=False) as index:
            yield index
    except FileNotFoundError:
        fail(f"no index at {path} yet; run `adwatch up` or `adwatch ingest` first", code=1)
    except (SchemaVersionError, sqlite3.DatabaseError) as exc:
        fail(f"cannot read index at {path}: {exc}", code=1)


@contextmanager
def open_elasticsearch(settings: Settings, alias: str) -> Iterator[Elasticsearch]:
    """A client for the configured cluster; errors inside the block exit with a message.

    ``alias`` is what the block reads, named in the message when it does not exist.
    Unreachable cluster, TLS trouble, refused credentials, a missing index and documents
    this adwatch cannot read each get a message saying what to check: exit code 1, never a
    traceback.
    """
    client = client_from_settings(settings.index)
    try:
        yield client
    except (TransportError, ApiError, ValidationError) as exc:
        fail(describe_es_error(exc, settings, alias), code=1)
    finally:
        client.close()


def describe_es_error(
    exc: TransportError | ApiError | ValidationError, settings: Settings, alias: str
) -> str:
    """One line for a person: what went wrong reading ``alias``, and what to check."""
    index = settings.index
    where = display_url(index.elasticsearch_url or "")
    if isinstance(exc, ValidationError):
        return (
            f"a document in {alias} is not a record this adwatch can read "
            f"({exc.error_count()} errors, first: {exc.errors()[0]['msg']})"
        )
    if isinstance(exc, ConnectionTimeout):
        return (
            f"Elasticsearch at {where} did not answer within "
            f"{index.elasticsearch_timeout_seconds:g} s (index.elasticsearch_timeout_seconds)"
        )
    if isinstance(exc, TlsError):
        return (
            f"TLS with Elasticsearch at {where} failed: {exc}; set index.elasticsearch_ca_certs "
            "to the CA bundle of the cluster's certificate"
        )
    if isinstance(exc, TransportError):
        return f"cannot reach Elasticsearch at {where}: {exc}"
    if isinstance(exc, AuthenticationException):
        return (
            f"Elasticsearch at {where} refused the credentials (401); check "
            "index.elasticsearch_api_key, or elasticsearch_username and elasticsearch_password"
        )
    if isinstance(exc, AuthorizationException):
        return f"the configured Elasticsearch user may not read {alias} (403): {_reason(exc)}"
    if isinstance(exc, NotFoundError) and _error_type(exc) == "index_not_found_exception":
        return (
            f"no index {alias} in Elasticsearch at {where}; run `adwatch setup elasticsearch` first"
        )
    if _error_type(exc) == "media_type_header_exception":
        return (
            f"Elasticsearch at {where} refused the REST API version 9 that this adwatch's "
            f"client asks for ({_reason(exc)}); searching needs Elasticsearch 9.x"
        )
    if isinstance(exc, UnsupportedProductError):
        return f"{where} does not answer as Elasticsearch: {exc}"
    return f"Elasticsearch refused the request on {alias} ({exc.meta.status}): {_reason(exc)}"


def display_url(urls: str) -> str:
    """The configured cluster URL(s) without any user:password written into them."""
    shown = []
    for url in filter(None, (u.strip() for u in urls.split(","))):
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        shown.append(urlunsplit(parts._replace(netloc=host)))
    return ", ".join(shown)


def normalized_phone(raw: str, settings: Settings) -> str:
    """E.164 of a phone given on the command line; exits naming ``--phone`` when invalid."""
    try:
        return normalize_phone(raw, settings.pipeline.default_region)
    except PhoneNumberError as exc:
        fail(f"--phone: {exc}")


def _error_type(exc: ApiError) -> str | None:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return kind if isinstance(kind, str) else None
    return None


def _reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        causes = error.get("root_cause") or [error]
        cause = causes[0] if isinstance(causes[0], dict) else error
        return f"{cause.get('type', 'error')}: {cause.get('reason', '')}".rstrip(": ")
    return str(exc.message)
