"""Fixtures for the crash tests: one local platform process for the session, PostgreSQL schemas."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from .._postgres import base_url, drop_schema
from ._support import PlatformProcess, start_platform, stop_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """The local platform, time-scaled, as its own process (shared by the crash tests; jobs never collide)."""
    served = start_platform(secrets.token_hex(24), tmp_path_factory.mktemp("platform") / "platform.log")
    try:
        yield served
    finally:
        stop_platform(served)


@pytest.fixture(scope="session")
def postgres_base() -> str:
    """The test database's URL (``ORCHESTRATOR_TEST_POSTGRES``, else the local server, user postgres or root)."""
    return base_url()


@pytest.fixture
async def postgres_url(postgres_base: str) -> AsyncIterator[str]:
    """A store URL on a fresh schema of the test database, dropped after the test."""
    schema = f"crash_{secrets.token_hex(6)}"
    yield f"{postgres_base}?schema={schema}"
    await drop_schema(postgres_base, schema)
