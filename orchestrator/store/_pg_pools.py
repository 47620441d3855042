"""The PostgreSQL store's connections: its two pools, the listener's connection, the schema, asyncpg errors.

- Queries and ``lock()`` blocks have a pool each: a lock holds its connection for as long as its block runs,
  so giving locks their own pool keeps them from starving queries, and makes every wait for a query
  connection a wait for database work only. Flushes of event appends have a pool of one connection: after a
  flush, every reader of its jobs queries at once, and the next flush must not queue behind them.
- Opening applies the missing migrations, one replica at a time (a transaction-scoped advisory lock), and
  creates the ``?schema=`` schema if it is missing; every connection finds the tables through its
  ``search_path``.
- asyncpg and OS errors become :class:`StoreError` saying what to do about them, the password scrubbed.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
import structlog

from .._clock import Clock
from .._errors import UsageError
from ._base import Hold
from ._checks import check_limit, check_positive
from ._schema import Migration, apply_migrations
from ._translate import translate
from ._url import PostgresTarget, quote_ident

__all__ = ["Pools", "lock_key"]

log = structlog.get_logger(__name__)

_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


def lock_key(name: str) -> int:
    """The advisory lock key of ``name``: a signed 64-bit hash (``hashtext`` has 32 bits: collisions)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


_MIGRATION_LOCK = lock_key("orchestrator.store:migrate")


class Pools:
    """The connections of one :class:`~._postgres.PostgresStore` (see its arguments).

    Args:
        target: the store's parsed URL.
        clock: gives the time a migration is recorded at.
        hold: the store's hold on a virtual clock, taken while the database works.
        min_size: connections the query pool keeps open.
        max_size: most connections the query pool opens.
        max_locks: most connections the lock pool opens.
        connect_timeout: seconds to wait for a connection before failing.
    """

    def __init__(
        self,
        target: PostgresTarget,
        *,
        clock: Clock,
        hold: Hold,
        min_size: int,
        max_size: int,
        max_locks: int,
        connect_timeout: float,
    ) -> None:
        self._target = target
        self._clock = clock
        self._hold = hold
        self._min_size = check_limit(min_size, what="min_size") if min_size else 0
        self._max_size = check_limit(max_size, what="max_size")
        self._max_locks = check_limit(max_locks, what="max_locks")
        if self._min_size > self._max_size:
            raise UsageError(f"min_size ({min_size}) must not exceed max_size ({max_size})")
        self._timeout = check_positive(connect_timeout, what="connect_timeout")
        self.queries: Pool | None = None
        self.locks: Pool | None = None
        self.events: Pool | None = None

    def _advice(self, exc: Exception) -> str:
        where = self._target.where
        if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
            return (
                f"PostgreSQL at {where} refused user {self._target.user or '(default)'}: check the user and "
                "password in the store URL (ORCHESTRATOR_STORE)"
            )
        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            return f"No such database at {where}: create it (createdb) or fix the name in the store URL"
        if isinstance(exc, asyncpg.InsufficientPrivilegeError):
            return "The user lacks a privilege this needs: grant it, or connect as the owner of the schema"
        if isinstance(exc, asyncpg.UntranslatableCharacterError):
            return "PostgreSQL jsonb cannot hold the NUL character (\\u0000) in a string: remove it"
        if isinstance(exc, OSError | asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError):
            return (
                f"Cannot connect to PostgreSQL at {where}: check that the server is running and reachable "
                "there, and the host and port in the store URL (ORCHESTRATOR_STORE)"
            )
        if isinstance(exc, asyncpg.InterfaceError):
            return f"The connection to PostgreSQL at {where} failed: retry, and check the server"
        return "Retry; if it persists, check the PostgreSQL server log"

    def errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        """Turn asyncpg and OS errors raised in the block into :class:`StoreError` naming ``action``."""
        return translate(
            action, store=self._target.url, errors=_ERRORS, advice=self._advice, secrets=self._target.secrets
        )

    def _settings(self, application: str) -> dict[str, str]:
        settings = {"application_name": application}
        if self._target.schema is not None:
            settings["search_path"] = quote_ident(self._target.schema)
        return settings

    async def open(self, migrations: Sequence[Migration]) -> None:
        """Open both pools, bringing the schema up to ``migrations`` in between."""
        with self._hold(), self.errors(f"connecting to PostgreSQL at {self._target.where}"):
            queries = await asyncpg.create_pool(
                self._target.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._timeout,
                server_settings=self._settings("orchestrator"),
            )
        ready = False
        try:
            await self._migrate(queries, migrations)
            with self.errors(f"connecting to PostgreSQL at {self._target.where}"):
                locks = await asyncpg.create_pool(
                    self._target.dsn,
                    min_size=0,
                    max_size=self._max_locks,
                    timeout=self._timeout,
                    server_settings=self._settings("orchestrator-lock"),
                )
                events = await asyncpg.create_pool(
                    self._target.dsn,
                    min_size=0,
                    max_size=1,
                    timeout=self._timeout,
                    server_settings=self._settings("orchestrator-events"),
                )
            ready = True
        finally:
            if not ready:
                queries.terminate()
        self.queries, self.locks, self.events = queries, locks, events

    async def _migrate(self, pool: Pool, migrations: Sequence[Migration]) -> None:
        schema = self._target.schema
        with self.errors("preparing the schema"):
            async with pool.acquire() as conn:
                with self._hold():
                    async with conn.transaction():
                        # one migrator at a time, across every replica opening at once
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                        if schema is not None and not await conn.fetchval(
                            "SELECT 1 FROM pg_namespace WHERE nspname = $1", schema
                        ):
                            await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
                        if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
                            await conn.execute(
                                "CREATE TABLE schema_version "
                                "(version integer PRIMARY KEY, applied_at double precision NOT NULL)"
                            )
                        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
                        await apply_migrations(
                            migrations,
                            current=int(current),
                            store=self._target.url,
                            execute=conn.execute,
                            record=lambda version: conn.execute(
                                "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                                version,
                                self._clock.time(),
                            ),
                        )

    async def connect_listener(self) -> asyncpg.Connection[Any]:
        """A connection of its own for the listener."""
        with self._hold(), self.errors(f"connecting the listener to PostgreSQL at {self._target.where}"):
            return await asyncpg.connect(
                self._target.dsn,
                timeout=self._timeout,
                server_settings=self._settings("orchestrator-listener"),
            )

    async def close(self) -> None:
        """Close both pools (terminating one that fails to close)."""
        pools = (self.queries, self.locks, self.events)
        self.queries = self.locks = self.events = None
        for pool in pools:
            if pool is None:
                continue
            try:
                with self._hold():
                    await pool.close()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning(
                    "closing the PostgreSQL pool failed; terminating it",
                    store=self._target.url,
                    error=str(exc),
                )
                pool.terminate()
