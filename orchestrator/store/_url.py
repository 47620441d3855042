"""Store URLs: which schemes exist, and how ``sqlite://`` and ``postgresql://`` URLs are read.

``sqlite:///relative/path`` and ``sqlite:////absolute/path`` (three slashes, then the path). ``postgresql://``
(or ``postgres://``) URLs are libpq connection URLs, plus one parameter of ours, ``?schema=NAME``: the store's
tables live in that schema (created if missing), so several orchestrators, or tests, can share a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode

from .._errors import ConfigurationError
from ._translate import mask_url, quote_url

__all__ = [
    "DEFAULT_STORE_URL",
    "SCHEMES_HELP",
    "PostgresTarget",
    "parse_postgres_url",
    "parse_sqlite_url",
    "quote_ident",
]

DEFAULT_STORE_URL = "sqlite:///.orchestrator/jobs.sqlite3"

SCHEMES_HELP = (
    "memory:// (in process, nothing kept), sqlite:///relative/path or sqlite:////absolute/path, "
    "postgresql://user@host:5432/database (also postgres://; add ?schema=NAME to use a schema of your own)"
)

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def check_encodable(url: str) -> str:
    """``url``, if it can be written as UTF-8; :class:`ConfigurationError` naming the bad character otherwise."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"the store URL holds a character that cannot be encoded ({url[exc.start]!r} at position "
            f"{exc.start}, a lone surrogate): write the URL in UTF-8, percent-encoding any byte that is not text"
        ) from None
    return url


def parse_sqlite_url(url: str) -> str:
    """The file path in a ``sqlite:///path`` URL (relative) or ``sqlite:////path`` (absolute)."""
    check_encodable(url)
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/"):
        raise ConfigurationError(
            f"{quote_url(url)} is not a SQLite store URL: write sqlite:///relative/path or sqlite:////absolute/path "
            "(three slashes before the path; a host is not allowed)"
        )
    path = rest[1:]
    if "?" in path:
        raise ConfigurationError(
            f"the SQLite store URL {quote_url(url)} takes no query parameters: remove the '?...'"
        )
    if not path or path.endswith("/"):
        raise ConfigurationError(
            f"the SQLite store URL {quote_url(url)} names no file: write sqlite:///.orchestrator/jobs.sqlite3 "
            "or sqlite:////absolute/path/jobs.sqlite3"
        )
    return unquote(path)


@dataclass(frozen=True)
class PostgresTarget:
    """What a ``postgresql://`` store URL says.

    Attributes:
        dsn: the URL handed to asyncpg (our ``schema`` parameter removed). Holds the password: never log it.
        url: the URL without its password, for messages and ``store.url``.
        schema: the schema of the store's tables, or ``None`` for the server's default ``search_path``.
        where: ``host:port/database``, for messages.
        user: the user named in the URL, if any.
        secrets: the password as written and decoded, to scrub from messages.
    """

    dsn: str = field(repr=False)
    url: str
    schema: str | None
    where: str
    user: str | None
    secrets: tuple[str, ...] = field(default=(), repr=False)


def parse_postgres_url(url: str) -> PostgresTarget:
    """Read a ``postgresql://`` or ``postgres://`` store URL (see the module docstring)."""
    check_encodable(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"{quote_url(url)} is not a PostgreSQL store URL: write postgresql://user@host:5432/database"
        )
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    user_raw, _, password_raw = userinfo.partition(":") if at else ("", "", "")
    params = parse_qsl(query, keep_blank_values=True)
    schema: str | None = None
    kept: list[tuple[str, str]] = []
    secrets = [password_raw, unquote(password_raw)]
    for key, value in params:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
            if key.lower() == "password":
                secrets.append(value)
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError(
            f"the schema name {schema!r} in the store URL {quote_url(url)} is not a plain SQL identifier: "
            "use letters, digits and underscores (at most 63), not starting with a digit"
        )
    user = unquote(user_raw) or None
    database = unquote(path) or (user or "the default database")
    dsn = f"{scheme}://{rest}" + (f"?{urlencode(kept)}" if kept else "")
    return PostgresTarget(
        dsn=dsn,
        url=mask_url(url),
        schema=schema,
        where=f"{hosts or 'localhost'}/{database}",
        user=user,
        secrets=tuple(s for s in secrets if s),
    )
