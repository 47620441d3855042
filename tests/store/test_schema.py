"""Schema migrations of the durable stores (SQLite and PostgreSQL): applied once, upgraded, newer refused."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, ClassVar

import asyncpg
import pytest

from orchestrator import StoreError
from orchestrator.store import JobStore, PostgresStore, SQLiteStore
from orchestrator.store._schema import Migration

from .conftest import Backend, make_record

durable = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


class _NextSQLite(SQLiteStore):
    _migrations: ClassVar[tuple[Migration, ...]] = (
        *SQLiteStore._migrations,
        ("CREATE TABLE extra_things (x INTEGER)",),
    )


class _NextPostgres(PostgresStore):
    _migrations: ClassVar[tuple[Migration, ...]] = (
        *PostgresStore._migrations,
        ("CREATE TABLE extra_things (x integer)",),
    )


def _next_version(backend: Backend) -> JobStore:
    if backend.kind == "sqlite":
        assert backend.path is not None
        return _NextSQLite(backend.path, clock=backend.clock)
    return _NextPostgres(backend.url, clock=backend.clock)


async def _query(backend: Backend, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the backend's database directly (not through a store)."""
    if backend.kind == "sqlite":
        with sqlite3.connect(str(backend.path)) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]
    base, _, schema = backend.url.partition("?schema=")
    conn = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _versions(backend: Backend) -> list[int]:
    return [row[0] for row in await _query(backend, "SELECT version FROM schema_version ORDER BY version")]


@durable
async def test_migrations_are_applied_once(backend: Backend) -> None:
    """The first open creates the tables and records version 1; opening again changes nothing."""
    async with backend.replica() as store:
        await store.create_job(make_record("job_a"))
    async with backend.replica() as store:
        assert await store.get_job("job_a") is not None
    assert await _versions(backend) == [1]
    for table in ("jobs", "job_events", "meta"):
        assert await _query(backend, f"SELECT count(*) FROM {table}") in ([(1,)], [(0,)])


@durable
async def test_concurrent_first_opens_migrate_once(backend: Backend) -> None:
    """Three replicas opening a fresh database at once all succeed and apply the migrations once."""
    stores = [backend.replica() for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert await _versions(backend) == [1]
    finally:
        await asyncio.gather(*(s.aclose() for s in stores))


@durable
async def test_older_database_is_upgraded(backend: Backend) -> None:
    """A database at version 1, opened by code with a second step, gets that step and keeps its data."""
    async with backend.replica() as store:
        await store.create_job(make_record("job_a"))
    async with _next_version(backend) as newer:
        assert await newer.get_job("job_a") is not None
    assert await _versions(backend) == [1, 2]
    assert await _query(backend, "SELECT count(*) FROM extra_things") == [(0,)]


@durable
async def test_newer_database_is_refused(backend: Backend) -> None:
    """A database at a version this code does not know is refused with a StoreError that says to upgrade."""
    async with _next_version(backend):
        pass
    store = backend.replica()
    with pytest.raises(StoreError, match="schema version 2, newer than this orchestrator knows"):
        await store.open()
    assert not getattr(store, "is_open")  # noqa: B009
