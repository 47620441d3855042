"""Fixtures for the crash tests: one local platform process for the session, PostgreSQL schemas."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from ._support import PlatformProcess, start_platform, stop_platform

_POSTGRES = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """The local platform, time-scaled, as its own process (shared by the crash tests; jobs never collide)."""
    served = start_platform(secrets.token_hex(24), tmp_path_factory.mktemp("platform") / "platform.log")
    try:
        yield served
    finally:
        stop_platform(served)


async def _reachable(urls: tuple[str, ...]) -> str:
    failures = []
    for url in urls:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            failures.append(f"{url}: {exc}")
            continue
        await conn.close()
        return url
    raise RuntimeError("no PostgreSQL server for the crash tests: " + "; ".join(failures))


@pytest.fixture(scope="session")
def postgres_base() -> str:
    """The test database's URL (``ORCHESTRATOR_TEST_POSTGRES``, else the local server, user postgres or root)."""
    configured = os.environ.get("ORCHESTRATOR_TEST_POSTGRES")
    return asyncio.run(_reachable((configured,) if configured else _POSTGRES))


@pytest.fixture
async def postgres_url(postgres_base: str) -> AsyncIterator[str]:
    """A store URL on a fresh schema of the test database, dropped after the test."""
    schema = f"crash_{secrets.token_hex(6)}"
    yield f"{postgres_base}?schema={schema}"
    conn = await asyncpg.connect(postgres_base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
