"""Two processes on one store: appends stay gap-free, lock() excludes across processes (SQLite, Postgres)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from orchestrator.store import open_store

from ._child import fast_polling, work
from .conftest import Backend, make_record

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_two_processes_share_one_store(backend: Backend) -> None:
    """Appends from this process and a child process interleave gap-free, and lock() pairs never overlap."""
    async with fast_polling(open_store(backend.url)) as store:
        await store.create_job(make_record("job_a"))
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store._child",
            backend.url,
            "job_a",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        await asyncio.wait_for(work(store, "job_a", "parent"), 30)
        assert await asyncio.wait_for(child.wait(), 30) == 0
        events = await store.events("job_a")
    assert [e.seq for e in events] == list(range(1, 2 * 110 + 1))
    for who in ("parent", "child"):
        assert [e.data["n"] for e in events if e.type == "chunk" and e.data["who"] == who] == list(range(100))
    pairs = [(e.type, e.data["who"]) for e in events if e.type in ("in", "out")]
    assert len(pairs) == 20
    for i in range(0, len(pairs), 2):
        assert pairs[i][0] == "in"
        assert pairs[i + 1] == ("out", pairs[i][1])
