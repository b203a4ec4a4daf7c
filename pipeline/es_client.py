"""The one way adwatch builds an Elasticsearch client from its settings (sink, search, setup)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from pipeline.settings import IndexSettings


def make_client(index: IndexSettings, *, retry_statuses: bool = False) -> Elasticsearch:
    """A client for the cluster of ``index`` settings; it connects on first use, not here.

    TLS options (``elasticsearch_ca_certs``, a file that must exist) need ``https://`` URLs.
    ``retry_statuses`` lets the transport retry 429/502/503/504 at once (fine for a search
    typed by a person); the sink leaves it off, since streaming_bulk retries those with
    backoff and the transport's immediate retries would multiply every attempt by four.
    """
    if not index.elasticsearch_url:
        raise ValueError("index.elasticsearch_url is not set")
    hosts = [h.strip() for h in index.elasticsearch_url.split(",") if h.strip()]
    options: dict[str, Any] = {
        "request_timeout": index.elasticsearch_timeout_seconds,
        # Connection errors: try each other node once. HTTP statuses: streaming_bulk's job.
        "max_retries": len(hosts),
        **({} if retry_statuses else {"retry_on_status": ()}),
        "retry_on_timeout": False,
        "verify_certs": index.elasticsearch_verify_certs,
    }
    if not index.elasticsearch_verify_certs:
        options["ssl_show_warn"] = False  # the setting says it is a development cluster
    if index.elasticsearch_ca_certs is not None:
        if not all(h.startswith("https://") for h in hosts):
            raise ValueError("index.elasticsearch_ca_certs needs https:// URLs")
        if not index.elasticsearch_ca_certs.is_file():  # else: TLS errors on every write
            raise FileNotFoundError(
                f"index.elasticsearch_ca_certs: no file {index.elasticsearch_ca_certs}"
            )
        options["ca_certs"] = str(index.elasticsearch_ca_certs)
    if index.elasticsearch_api_key is not None:
        options["api_key"] = index.elasticsearch_api_key.get_secret_value()
    elif index.elasticsearch_username:
        password = index.elasticsearch_password
        secret = password.get_secret_value() if password is not None else ""
        options["basic_auth"] = (index.elasticsearch_username, secret)
    return Elasticsearch(hosts, **options)
