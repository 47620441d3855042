"""Opening the SQLite store's database file, and sqlite3 errors as :class:`StoreError`.

The file's directory is created if missing. The connection runs in autocommit mode (the store begins its own
transactions), with a busy timeout, the WAL journal, ``synchronous=NORMAL`` and foreign keys on; then the
missing migrations are applied, in one ``BEGIN IMMEDIATE`` transaction so that one process at a time does it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import structlog
import tenacity

from .._clock import Clock
from ._base import Hold
from ._schema import Migration, apply_migrations
from ._translate import translate

__all__ = ["open_database", "open_reader", "sqlite_errors"]

log = structlog.get_logger(__name__)


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _advice(exc: Exception) -> str:
    text = str(exc).lower()
    if isinstance(exc, OSError) or "unable to open" in text or "readonly" in text:
        return (
            "Check that the directory exists or can be created and that this process may write to it, "
            "or set ORCHESTRATOR_STORE to another sqlite:/// path"
        )
    if "locked" in text or "busy" in text:
        return (
            "Another connection held the database's write lock for too long: retry, and look for a process "
            "that keeps a transaction open"
        )
    if "not a database" in text or "malformed" in text:
        return "The file is not a healthy SQLite database: point ORCHESTRATOR_STORE at another file"
    if "disk" in text or "full" in text:
        return "Check the free space and the health of the file system"
    return "Check the database file and retry"


def sqlite_errors(action: str, *, store: str) -> contextlib.AbstractContextManager[None]:
    """Turn sqlite3 and OS errors raised in the block into :class:`StoreError` naming ``action``."""
    return translate(action, store=store, errors=(sqlite3.Error, OSError), advice=_advice)


async def open_database(
    path: Path, *, store: str, clock: Clock, hold: Hold, busy_ms: int, migrations: Sequence[Migration]
) -> aiosqlite.Connection:
    """A connection to the database at ``path``, set up and migrated.

    Args:
        path: the database file.
        store: the store's URL, for messages.
        clock: paces the retries of the switch to WAL, and gives the time a migration is recorded at.
        hold: the store's hold on a virtual clock, taken while the database works.
        busy_ms: milliseconds to wait for another process's write lock.
        migrations: the schema the store needs.
    """
    with sqlite_errors("creating the database directory", store=store):
        path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite_errors("opening the database", store=store):
        with hold():
            db = await aiosqlite.connect(path, isolation_level=None)
        ready = False
        try:
            with hold():
                await db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            await _enable_wal(db, store=store, clock=clock, hold=hold)
            with hold():
                await db.execute("PRAGMA synchronous = NORMAL")
                await db.execute("PRAGMA foreign_keys = ON")
                await _migrate(db, migrations, store=store, clock=clock)
            ready = True
        finally:
            if not ready:
                with hold():
                    await db.close()
    return db


async def open_reader(path: Path, *, store: str, hold: Hold, busy_ms: int) -> aiosqlite.Connection:
    """A second connection to the (opened, migrated) database at ``path``, for reads only.

    In WAL mode its reads see every committed transaction and never wait for the writing connection's.
    """
    with sqlite_errors("opening the database for reading", store=store), hold():
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            await db.execute("PRAGMA query_only = ON")
        except BaseException:
            await db.close()
            raise
    return db


async def _enable_wal(db: aiosqlite.Connection, *, store: str, clock: Clock, hold: Hold) -> None:
    # Switching a new database to WAL needs an exclusive lock, and SQLite fails at once (without the busy
    # handler) when another connection is switching it at the same moment: retry, pausing on the clock.
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(_is_busy),
        wait=tenacity.wait_exponential(multiplier=0.005, max=0.2),
        stop=tenacity.stop_after_attempt(30),
        sleep=clock.sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt, hold():
            rows: Any = await db.execute_fetchall("PRAGMA journal_mode = WAL")
    if str(rows[0][0]).lower() != "wal":
        log.warning("SQLite refused WAL mode", store=store, journal_mode=rows[0][0])


async def _migrate(
    db: aiosqlite.Connection, migrations: Sequence[Migration], *, store: str, clock: Clock
) -> None:
    await db.execute("BEGIN IMMEDIATE")
    done = False
    try:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        rows: Any = await db.execute_fetchall("SELECT coalesce(max(version), 0) FROM schema_version")
        await apply_migrations(
            migrations,
            current=int(rows[0][0]),
            store=store,
            execute=db.execute,
            record=lambda version: db.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, clock.time())
            ),
        )
        await db.commit()
        done = True
    finally:
        if not done:
            await db.rollback()
