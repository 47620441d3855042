"""The database schemas, as lists of migration steps.

Step ``n`` (1-based) brings a database from schema version ``n - 1`` to ``n``; the ``schema_version`` table
records each applied step. A store applies the missing steps when it opens, in one transaction, and refuses a
database whose version is newer than its own list (written by a newer orchestrator). Never edit a released
step: append a new one.

Columns mirror :class:`~orchestrator.store.JobRecord`; ``spec``/``state``/``result``/``error`` and meta values
are JSON (``jsonb`` on PostgreSQL, so that a state merge is one atomic ``state || patch``). Besides:

- ``jobs.revision`` (SQLite) counts changes to the record; with the last event seq it is what the SQLite store
  polls to see changes made by other processes.
- ``jobs.last_seq`` (PostgreSQL) is the last event seq; bumping it locks the job's row, which is what makes
  the seq gap-free across concurrent appenders on many replicas.
- ``jobs.insert_order`` (PostgreSQL; the ``rowid`` on SQLite) breaks ties between jobs created at one clock
  time.
- ``job_events.data`` is ``json`` on PostgreSQL: stored as written, and cheaper to insert than ``jsonb``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

from .._errors import StoreError

__all__ = [
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "Migration",
    "apply_migrations",
    "newer_schema_message",
]

log = structlog.get_logger(__name__)

Migration = tuple[str, ...]
"""One step: SQL statements run in order, in the migration's transaction."""

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    (
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            job_name TEXT NOT NULL,
            route TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            result TEXT,
            error TEXT,
            parent_id TEXT,
            started_at REAL,
            finished_at REAL,
            deadline REAL,
            owner TEXT,
            lease_expires_at REAL,
            revision INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX jobs_status ON jobs (status)",
        "CREATE INDEX jobs_job_name ON jobs (job_name)",
        "CREATE INDEX jobs_parent_id ON jobs (parent_id)",
        "CREATE INDEX jobs_owner ON jobs (owner)",
        """
        CREATE TABLE job_events (
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at REAL NOT NULL,
            key TEXT,
            PRIMARY KEY (job_id, seq)
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX job_events_key ON job_events (job_id, key) WHERE key IS NOT NULL",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
)

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    (
        """
        CREATE TABLE jobs (
            id text PRIMARY KEY,
            insert_order bigint GENERATED ALWAYS AS IDENTITY,
            job_name text NOT NULL,
            route text NOT NULL,
            status text NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            idempotency_key text NOT NULL,
            spec jsonb NOT NULL,
            state jsonb NOT NULL,
            result jsonb,
            error jsonb,
            parent_id text,
            started_at double precision,
            finished_at double precision,
            deadline double precision,
            owner text,
            lease_expires_at double precision,
            last_seq bigint NOT NULL DEFAULT 0,
            CONSTRAINT jobs_idempotency_key UNIQUE (idempotency_key)
        )
        """,
        "CREATE INDEX jobs_status ON jobs (status)",
        "CREATE INDEX jobs_job_name ON jobs (job_name)",
        "CREATE INDEX jobs_parent_id ON jobs (parent_id)",
        "CREATE INDEX jobs_owner ON jobs (owner)",
        """
        CREATE TABLE job_events (
            job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            type text NOT NULL,
            data json NOT NULL,
            created_at double precision NOT NULL,
            key text,
            PRIMARY KEY (job_id, seq)
        )
        """,
        "CREATE UNIQUE INDEX job_events_key ON job_events (job_id, key) WHERE key IS NOT NULL",
        "CREATE TABLE meta (key text PRIMARY KEY, value jsonb NOT NULL)",
    ),
)


def newer_schema_message(found: int, known: int) -> str:
    """Why a database of schema version ``found`` cannot be used by code that knows ``known`` versions."""
    return (
        f"the database has schema version {found}, newer than this orchestrator knows ({known}): it was "
        "written by a newer orchestrator. Upgrade orchestrator here, or point ORCHESTRATOR_STORE at another "
        "database"
    )


async def apply_migrations(
    migrations: Sequence[Migration],
    *,
    current: int,
    store: str,
    execute: Callable[[str], Awaitable[object]],
    record: Callable[[int], Awaitable[object]],
) -> None:
    """Bring a database from schema version ``current`` to the last of ``migrations``.

    Runs in the caller's transaction: each missing step's statements go through ``execute``, then
    ``record(version)`` notes the step in ``schema_version``. :class:`StoreError` (naming the store) if the
    database is newer than ``migrations`` know.
    """
    known = len(migrations)
    if current > known:
        raise StoreError(f"opening the store {store} failed: {newer_schema_message(current, known)}")
    for version in range(current + 1, known + 1):
        for statement in migrations[version - 1]:
            await execute(statement)
        await record(version)
        log.info("applied a store migration", store=store, version=version)
