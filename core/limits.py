"""The ceilings a request must stay under; built from settings, carried by the request context."""

from __future__ import annotations

from dataclasses import dataclass

# Lists are pages: at most this many items, this many when neither `first` nor `last` is given.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Limits:
    """Defaults are the README's "Security and limits" table, and the settings' of the same
    names (core/config.py); `Settings.limits()` builds one."""

    max_query_length: int = 20_000
    max_tokens: int = 2_000
    max_depth: int = 15
    max_aliases: int = 50
    max_root_fields: int = 20
    max_directives: int = 50
    max_fields: int = 2_000
    max_repeated_fields: int = 50
    max_fragments: int = 100
    max_cost: int = 25_000
    max_response_bytes: int = 4 * 1024 * 1024
    introspection: bool = True
