"""A second process for test_processes: opens the store at argv[1], waits for a line on stdin, then works."""

from __future__ import annotations

import asyncio
import sys

from orchestrator.store import JobStore, SQLiteStore, open_store


def fast_polling(store: JobStore) -> JobStore:
    """The same store with a short lock-retry interval for SQLite (the test runs on the system clock)."""
    return SQLiteStore(store.path, poll_interval=0.02) if isinstance(store, SQLiteStore) else store


async def work(store: JobStore, job_id: str, who: str) -> None:
    """100 appends, then 5 pairs of appends inside lock("pair") (a pair must never be split)."""
    for n in range(100):
        await store.append_event(job_id, "chunk", {"who": who, "n": n})
    for _ in range(5):
        async with store.lock("pair"):
            await store.append_event(job_id, "in", {"who": who})
            await asyncio.sleep(0.005)
            await store.append_event(job_id, "out", {"who": who})


async def main(url: str, job_id: str) -> None:
    async with fast_polling(open_store(url)) as store:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await work(store, job_id, "child")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
