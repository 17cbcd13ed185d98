"""Settings read once from the environment, so every knob has one name and one default."""

from __future__ import annotations

import ipaddress
import re
import socket
from contextlib import suppress
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote_to_bytes, urlsplit

import idna
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.limits import Limits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'impact-graph.db'}"


# What browsers' apps send beside the request itself: W3C trace context and baggage, and
# Apollo Client's client-awareness headers.
DEFAULT_CORS_HEADERS = (
    "Accept",
    "Authorization",
    "Content-Type",
    "If-None-Match",  # a page revalidating an answer it keeps itself (a service worker, a store)
    "traceparent",
    "tracestate",
    "baggage",
    "apollographql-client-name",
    "apollographql-client-version",
)
MAX_WORKERS = 64  # processes of `serve --workers`
METRICS_TOKEN_CHARACTERS = 16  # the least a guessed token would have to match
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


# The URL Standard's forbidden domain code points: a browser refuses a host holding one.
_FORBIDDEN_IN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")


def _host_as_sent(host: str, origin: str) -> str:
    """A host as a browser writes it in `Origin` (the URL Standard's host serializer): an
    IPv6 address compressed, in brackets; an IPv4 address in four decimal parts (`127.1` is
    127.0.0.1); a name in lower case (`web_app`: browsers take what DNS-style rules would
    not), its non-ASCII labels as UTS #46 maps them, non-transitional as browsers do
    (`faß.de` is `xn--fa-hia.de`, not `fass.de`, another domain)."""
    no_address = f"{origin!r} is not an origin; its host is no address"
    no_domain = f"{origin!r} is not an origin; its host is no domain name"
    if ":" in host:
        if "%" not in host:  # (a zone id: browsers refuse it)
            with suppress(ValueError):
                return f"[{ipaddress.IPv6Address(host).compressed}]"
        raise ValueError(no_address)
    try:  # a name is read percent-decoded (`ex%41mple.com` is example.com)
        host = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(no_domain) from None
    labels = host.removesuffix(".").split(".")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1], re.IGNORECASE):
        # a host ending in a number is an IPv4 address to a browser (1.2, 0x7f.1); inet_aton
        # alone would read `127.0.0.1 x.1` up to its space
        if re.fullmatch(r"[0-9a-fx.]+", host, re.IGNORECASE):
            with suppress(OSError):
                return socket.inet_ntoa(socket.inet_aton(".".join(labels)))
        raise ValueError(no_address)
    try:
        name = ".".join(
            label
            if label.isascii()
            else idna.encode(label, uts46=True, transitional=False).decode("ascii")
            for label in host.lower().split(".")
        )
    except idna.IDNAError:
        raise ValueError(no_domain) from None
    if _FORBIDDEN_IN_DOMAIN.search(name):
        raise ValueError(no_domain)
    return name


class Settings(BaseSettings):
    """Process configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="sqlite:///path/to/file.db or postgresql://user@host:5432/db",
    )
    database_read_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_READ_URL",
        description="where queries read (a PostgreSQL replica); DATABASE_URL when unset",
    )
    host: str = Field(default="127.0.0.1", validation_alias="IMPACT_GRAPH_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="IMPACT_GRAPH_PORT")
    graphiql: bool = Field(default=True, validation_alias="IMPACT_GRAPH_GRAPHIQL")
    seeds_dir: Path = Field(
        default=PROJECT_ROOT / "seeds",
        validation_alias="IMPACT_GRAPH_SEEDS_DIR",
        description="folder holding documents/ and graph.yaml",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = Field(
        default="info", validation_alias="IMPACT_GRAPH_LOG_LEVEL"
    )
    sql_echo: bool = Field(default=False, validation_alias="IMPACT_GRAPH_SQL_ECHO")
    executor: Literal["auto", "compiled", "reference"] = Field(
        default="auto",
        validation_alias="IMPACT_GRAPH_EXECUTOR",
        description="auto and compiled: one SQL statement per request where the compiler "
        "covers the operation, else the reference executor; compiled also logs each fallback",
    )

    # Requests and documents (README: Security and limits). A document limit's default is
    # the one `Limits` (core/limits.py) states.
    max_body_bytes: int = Field(default=100 * 1024, ge=1024, alias="IMPACT_GRAPH_MAX_BODY_BYTES")
    max_query_length: int = Field(
        default=Limits.max_query_length, ge=100, alias="IMPACT_GRAPH_MAX_QUERY_LENGTH"
    )
    max_tokens: int = Field(default=Limits.max_tokens, ge=50, alias="IMPACT_GRAPH_MAX_TOKENS")
    max_depth: int = Field(default=Limits.max_depth, ge=2, le=50, alias="IMPACT_GRAPH_MAX_DEPTH")
    max_aliases: int = Field(default=Limits.max_aliases, ge=0, alias="IMPACT_GRAPH_MAX_ALIASES")
    max_root_fields: int = Field(
        default=Limits.max_root_fields, ge=1, alias="IMPACT_GRAPH_MAX_ROOT_FIELDS"
    )
    max_directives: int = Field(
        default=Limits.max_directives, ge=0, alias="IMPACT_GRAPH_MAX_DIRECTIVES"
    )
    max_fields: int = Field(default=Limits.max_fields, ge=10, alias="IMPACT_GRAPH_MAX_FIELDS")
    max_repeated_fields: int = Field(
        default=Limits.max_repeated_fields, ge=2, alias="IMPACT_GRAPH_MAX_REPEATED_FIELDS"
    )
    max_fragments: int = Field(
        default=Limits.max_fragments, ge=0, alias="IMPACT_GRAPH_MAX_FRAGMENTS"
    )
    max_cost: int = Field(default=Limits.max_cost, ge=1, alias="IMPACT_GRAPH_MAX_COST")
    max_response_bytes: int = Field(
        default=Limits.max_response_bytes, ge=64 * 1024, alias="IMPACT_GRAPH_MAX_RESPONSE_BYTES"
    )
    introspection: bool = Field(default=Limits.introspection, alias="IMPACT_GRAPH_INTROSPECTION")
    trusted_documents: Path | None = Field(
        default=None,
        alias="IMPACT_GRAPH_TRUSTED_DOCUMENTS",
        description="a manifest of the only documents that may run (JSON, hash -> document)",
    )

    # Time and the database pool
    execution_timeout: float = Field(
        default=10.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_EXECUTION_TIMEOUT"
    )
    # At most the pool size: each request holds one connection while it runs.
    max_concurrent_queries: int = Field(
        default=10, ge=1, alias="IMPACT_GRAPH_MAX_CONCURRENT_QUERIES"
    )
    statement_timeout: float = Field(
        default=5.0, ge=0.001, allow_inf_nan=False, alias="IMPACT_GRAPH_STATEMENT_TIMEOUT"
    )
    db_pool_size: int = Field(default=10, ge=1, alias="IMPACT_GRAPH_DB_POOL_SIZE")
    db_max_overflow: int = Field(default=5, ge=0, alias="IMPACT_GRAPH_DB_MAX_OVERFLOW")
    db_pool_timeout: float = Field(
        default=5.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_DB_POOL_TIMEOUT"
    )
    db_connect_timeout: float = Field(
        default=5.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_DB_CONNECT_TIMEOUT"
    )

    # Connections (README: Security and limits; server/connections.py)
    head_timeout: float = Field(
        default=10.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_HEAD_TIMEOUT"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_BODY_TIMEOUT"
    )
    keep_alive_timeout: float = Field(
        default=5.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_KEEP_ALIVE_TIMEOUT"
    )
    send_timeout: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, alias="IMPACT_GRAPH_SEND_TIMEOUT"
    )
    max_connections: int = Field(default=1000, ge=1, alias="IMPACT_GRAPH_MAX_CONNECTIONS")
    shutdown_grace: int = Field(default=10, ge=0, alias="IMPACT_GRAPH_SHUTDOWN_GRACE")
    shutdown_drain: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, alias="IMPACT_GRAPH_SHUTDOWN_DRAIN"
    )

    # Many processes (README: Running at scale)
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS, alias="IMPACT_GRAPH_WORKERS")
    cache_url: str | None = Field(
        default=None,
        pattern=r"^(redis|rediss|unix)://",
        alias="CACHE_URL",
        description="redis://host:6379/0: what every worker and host share (the response "
        "cache, the rate limit)",
    )
    rate_limit: float = Field(
        default=0,
        ge=0,
        allow_inf_nan=False,
        alias="IMPACT_GRAPH_RATE_LIMIT",
        description="requests per second each client may send to /graphql; 0: no limit",
    )
    rate_limit_burst: int = Field(
        default=20,
        ge=1,
        alias="IMPACT_GRAPH_RATE_LIMIT_BURST",
        description="requests a client may send at once before the rate applies",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        alias="IMPACT_GRAPH_TRUSTED_PROXIES",
        description="comma-separated addresses or networks of proxies whose X-Forwarded-For "
        "names the client; none: the client is the connection's remote address",
    )

    # HTTP caching of GET answers (README: For frontend developers)
    cache_control: str = Field(
        default="no-cache",
        pattern=r"^[\x21-\x7e][\x20-\x7e]{0,199}$",  # one printable header value
        alias="IMPACT_GRAPH_CACHE_CONTROL",
        description="Cache-Control of GET answers that carry an ETag; no-cache: revalidate",
    )
    store_check_seconds: float = Field(
        default=1.0,
        ge=0,
        allow_inf_nan=False,
        alias="IMPACT_GRAPH_STORE_CHECK_SECONDS",
        description="how long after a seed the cost estimate may still use the list sizes "
        "measured before it (GET requests read the data version every time)",
    )

    version_leases: bool = Field(
        default=True,
        alias="IMPACT_GRAPH_VERSION_LEASES",
        description="on a PostgreSQL primary (no DATABASE_READ_URL), serve cached answers "
        "under a data version read at most 0.25 s before, which every seed waits out "
        "(db/lease.py); false: read the version for every request",
    )

    # What operators see (README: Running at scale)
    request_id_header: str | None = Field(
        default=None,
        alias="IMPACT_GRAPH_REQUEST_ID_HEADER",
        description="the header a trusted proxy sets to each request's id (e.g. X-Request-ID); "
        "unset, every request gets a new id whatever the client sends",
    )
    metrics: bool = Field(default=True, alias="IMPACT_GRAPH_METRICS")
    metrics_token: SecretStr | None = Field(
        default=None,
        alias="IMPACT_GRAPH_METRICS_TOKEN",
        description="when set (16 characters or more), /metrics answers only a scrape sending "
        "`Authorization: Bearer <token>` (Prometheus's `authorization` setting)",
    )
    metrics_operations: int = Field(
        default=100,
        ge=0,
        alias="IMPACT_GRAPH_METRICS_OPERATIONS",
        description="operation names labelled in the metrics, first come; later ones: other",
    )
    metrics_operation_names: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        alias="IMPACT_GRAPH_METRICS_OPERATION_NAMES",
        description="comma-separated: the only operation names the metrics label (others: "
        "other), so that no client's names can take the places of the apps'",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        pattern=r"^https?://",
        description="where traces go over OTLP/HTTP; unset, nothing is traced",
    )
    # prometheus-client's own setting, read here so that a directory that is not one is a
    # configuration error at start-up, not a failure of the first request's metrics
    prometheus_multiproc_dir: Path | None = Field(default=None, alias="PROMETHEUS_MULTIPROC_DIR")

    # The response cache (README: For frontend developers, Running at scale)
    cache: bool = Field(
        default=True,
        alias="IMPACT_GRAPH_CACHE",
        description="keep whole answers by request and data version; false: every request runs",
    )
    cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        alias="IMPACT_GRAPH_CACHE_BYTES",
        description="the in-process response cache's bound in bytes (without CACHE_URL)",
    )
    cache_prefix: str = Field(
        default="impact-graph:",
        max_length=200,
        alias="IMPACT_GRAPH_CACHE_PREFIX",
        description="the start of every key this server writes in Redis",
    )
    cache_ttl_seconds: int = Field(
        default=3600,
        ge=1,
        alias="IMPACT_GRAPH_CACHE_TTL_SECONDS",
        description="how long Redis keeps an answer (older data versions' are never asked for)",
    )

    # Browsers
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        alias="IMPACT_GRAPH_CORS_ORIGINS",
        description="comma-separated origins allowed to call the API from a browser",
    )
    cors_credentials: bool = Field(default=False, alias="IMPACT_GRAPH_CORS_CREDENTIALS")
    cors_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CORS_HEADERS),
        alias="IMPACT_GRAPH_CORS_HEADERS",
        description="comma-separated request headers a browser may send from those origins",
    )

    @field_validator(
        "cors_origins", "cors_headers", "trusted_proxies", "metrics_operation_names", mode="before"
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("cache_url")
    @classmethod
    def _a_port_if_any(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is none)
        # redis-py reads a path that is no number as database 0, without a word
        if parts.scheme != "unix" and not re.fullmatch(r"/?|/[0-9]{1,5}", parts.path):
            raise ValueError(f"the path {parts.path!r} is no database number (redis://host:6379/0)")
        return url

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < METRICS_TOKEN_CHARACTERS:
            raise ValueError(f"a token of {METRICS_TOKEN_CHARACTERS} characters or more")
        return token

    @field_validator("prometheus_multiproc_dir")
    @classmethod
    def _a_directory(cls, directory: Path | None) -> Path | None:
        if directory is not None and not directory.is_dir():
            raise ValueError(f"{directory} is not a directory")
        return directory

    @field_validator("cors_headers")
    @classmethod
    def _headers_are_header_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
        return names

    @field_validator("request_id_header")
    @classmethod
    def _header_name(cls, name: str | None) -> str | None:
        if not name:  # set but empty: no header trusted, as unset
            return None
        cls._headers_are_header_names([name])
        return name

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        """Exactly what a browser sends in `Origin`, so that a listed origin can match."""
        checked = []
        for origin in origins:
            if origin == "*":
                checked.append(origin)
                continue
            parts = urlsplit(origin)
            if (
                parts.scheme.lower() not in ("http", "https")
                or not parts.hostname
                or "*" in origin
                or parts.username is not None
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port] (no path, "
                    "query or wildcard)"
                )
            scheme = parts.scheme.lower()
            default_port = {"http": 80, "https": 443}[scheme]  # browsers leave it out
            port = f":{parts.port}" if parts.port not in (None, default_port) else ""
            checked.append(f"{scheme}://{_host_as_sent(parts.hostname, origin)}{port}")
        return checked

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Settings:
        if self.cors_credentials and "*" in self.cors_origins:
            raise ValueError(
                "IMPACT_GRAPH_CORS_ORIGINS='*' cannot be combined with credentials; "
                "list the origins"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy)  # as uvicorn reads it
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network (10.0.0.5, 10.0.0.0/8)"
                ) from None
        return proxies

    @property
    def query_url(self) -> str:
        """Where the server's queries read: the replica if there is one, else the store."""
        return self.database_read_url or self.database_url

    @property
    def query_url_variable(self) -> str:
        """The setting `query_url` comes from, which an error in it names."""
        return "DATABASE_READ_URL" if self.database_read_url else "DATABASE_URL"

    def limits(self) -> Limits:
        """The document limits, read from the settings of the same names."""
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})


@lru_cache
def get_settings() -> Settings:
    return Settings()
