"""``open_store``: a store chosen by URL, from the argument, ``ORCHESTRATOR_STORE``, or the default."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .._clock import Clock
from .._errors import ConfigurationError
from ._memory import MemoryStore
from ._postgres import PostgresStore
from ._protocol import JobStore
from ._sqlite import SQLiteStore
from ._translate import quote_url
from ._url import DEFAULT_STORE_URL, SCHEMES_HELP, check_encodable, parse_sqlite_url

__all__ = ["ENV_VAR", "open_store"]

ENV_VAR = "ORCHESTRATOR_STORE"


def open_store(
    url: str | JobStore | None = None,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> JobStore:
    """Build the store a URL names (not opened yet: use ``async with store:``).

    Args:
        url: ``memory://``, ``sqlite:///relative/path``, ``sqlite:////absolute/path`` or
            ``postgresql://user:password@host:5432/database[?schema=NAME]`` (also ``postgres://``).
            ``None`` reads ``ORCHESTRATOR_STORE``, and without it uses
            ``sqlite:///.orchestrator/jobs.sqlite3``. A store object is returned as it is.
        clock: the store's clock (``created_at``, leases, polling); defaults to :class:`SystemClock`.
        environ: where to read ``ORCHESTRATOR_STORE``; defaults to ``os.environ``.

    Returns:
        The store, not yet open.

    Raises:
        ConfigurationError: the URL has an unknown scheme or is malformed (the message lists the schemes).
    """
    if url is not None and not isinstance(url, str):
        if isinstance(url, JobStore):
            return url
        raise ConfigurationError(f"a store must be a URL string or a JobStore, got {type(url).__name__}")
    if url is None:
        env = os.environ if environ is None else environ
        url = env.get(ENV_VAR) or DEFAULT_STORE_URL
    scheme, sep, rest = check_encodable(url).strip().partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError(f"the store URL {quote_url(url)} has no scheme: use {SCHEMES_HELP}")
    if scheme == "memory":
        if rest:
            raise ConfigurationError(f"the store URL {quote_url(url)} should be just memory://")
        return MemoryStore(clock=clock)
    if scheme == "sqlite":
        return SQLiteStore(parse_sqlite_url(url.strip()), clock=clock)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url.strip(), clock=clock)
    raise ConfigurationError(f"unknown store URL scheme {scheme!r} in {quote_url(url)}: use {SCHEMES_HELP}")
