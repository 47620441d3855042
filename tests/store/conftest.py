"""Fixtures for the store suite: every behavioural test runs against memory, SQLite and PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432, database ``test`` (trust auth; user ``postgres``, else ``root``,
or the URL in ``ORCHESTRATOR_TEST_POSTGRES``). Each test gets a fresh random schema, dropped afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator import VirtualClock
from orchestrator.store import JobRecord, JobStatus, JobStore, MemoryStore, PostgresStore, SQLiteStore

from .._postgres import base_url, drop_schema

START = 1_700_000_000.0
POLL = 0.5


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The base URL of the test PostgreSQL database (no schema)."""
    return base_url()


@pytest.fixture
async def pg_schema(postgres_url: str) -> AsyncIterator[str]:
    """A fresh schema name (the store creates it), dropped after the test."""
    schema = f"t_{secrets.token_hex(6)}"
    yield schema
    await drop_schema(postgres_url, schema)


@dataclass
class Backend:
    """One kind of store, and a way to make more store objects on the same data ("replicas")."""

    kind: str
    clock: VirtualClock
    url: str
    path: Path | None = None
    _memory: MemoryStore | None = field(default=None, repr=False)

    def replica(self, **options: Any) -> JobStore:
        """A new store object on the same data (for memory, the one shared object)."""
        if self.kind == "memory":
            assert self._memory is not None
            return self._memory
        if self.kind == "sqlite":
            assert self.path is not None
            return SQLiteStore(self.path, clock=self.clock, **{"poll_interval": POLL, **options})
        return PostgresStore(self.url, clock=self.clock, **options)

    @property
    def shared_memory(self) -> bool:
        """Replicas are one object (memory), so cross-instance behaviour is trivially in-process."""
        return self.kind == "memory"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store kind in turn, on a virtual clock."""
    clock = VirtualClock(start=START)
    kind = request.param
    if kind == "memory":
        yield Backend("memory", clock, "memory://", _memory=MemoryStore(clock=clock))
    elif kind == "sqlite":
        path = tmp_path / "db" / "jobs.sqlite3"
        yield Backend("sqlite", clock, f"sqlite:///{path}", path=path)
    else:
        postgres_url: str = request.getfixturevalue("postgres_url")
        schema: str = request.getfixturevalue("pg_schema")
        yield Backend("postgres", clock, f"{postgres_url}?schema={schema}")


@pytest.fixture
def clock(backend: Backend) -> VirtualClock:
    """The backend's virtual clock."""
    return backend.clock


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[JobStore]:
    """An open store of the backend's kind."""
    async with backend.replica() as opened:
        yield opened


def make_record(
    job_id: str | None = None,
    *,
    key: str | None = None,
    job_name: str = "triage",
    status: JobStatus = JobStatus.PENDING,
    **fields: Any,
) -> JobRecord:
    """A job record with a fresh id (times are stamped by the store)."""
    job_id = job_id or f"job_{secrets.token_hex(6)}"
    return JobRecord(
        id=job_id,
        job_name=job_name,
        route="dispatch",
        status=status,
        created_at=0.0,
        updated_at=0.0,
        idempotency_key=key or f"key-{job_id}",
        **fields,
    )
