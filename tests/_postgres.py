"""The test PostgreSQL server, shared by the store and crash suites.

The server on 127.0.0.1:5432, database ``test`` (trust auth; user ``postgres``, else ``root``), or the URL in
``ORCHESTRATOR_TEST_POSTGRES``. Tests work in fresh random schemas, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

CANDIDATES = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


async def _first_reachable(urls: tuple[str, ...]) -> str:
    failures = []
    for url in urls:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            failures.append(f"{url}: {exc}")
            continue
        await conn.close()
        return url
    raise RuntimeError("no PostgreSQL server for the tests: " + "; ".join(failures))


def base_url() -> str:
    """The URL of the test database (no schema); fails, saying why, when no candidate is reachable."""
    configured = os.environ.get("ORCHESTRATOR_TEST_POSTGRES")
    return asyncio.run(_first_reachable((configured,) if configured else CANDIDATES))


async def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
