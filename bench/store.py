"""Benchmark the durable job stores: SQLite and PostgreSQL, side by side.

1. Events written per second by ``append_event`` (one job, sequentially; 50 jobs at once; with a dedupe ``key``),
   each next to a baseline of plain INSERTs of the same rows through the same driver (seq computed in Python, no
   locking, no notification), so the cost of the gap-free seq is visible.
2. Wake-up latency: ``append_event`` on one store object (replica A) until ``watch().wait()`` returns on another
   (replica B), p50/p95, on the system clock. SQLite sees other replicas' changes by polling, so its latency is
   bounded by ``poll_interval``; PostgreSQL uses LISTEN/NOTIFY.

Run: ``python bench/store.py`` (PostgreSQL at 127.0.0.1:5432/test, in a schema of its own, dropped afterwards;
SQLite in a temporary file). Set ``ORCHESTRATOR_BENCH_POSTGRES`` to use another server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import structlog

from orchestrator.store import JobRecord, JobStatus, JobStore, PostgresStore, SQLiteStore

POSTGRES = os.environ.get("ORCHESTRATOR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SEQUENTIAL = 2000
JOBS, PER_JOB = 50, 100
PAYLOAD = {"type": "token", "text": "some streamed text of typical length", "index": 0}


def record(job_id: str) -> JobRecord:
    return JobRecord(
        id=job_id,
        job_name="bench",
        route="dispatch",
        status=JobStatus.RUNNING,
        created_at=0.0,
        updated_at=0.0,
        idempotency_key=job_id,
    )


async def rate(count: int, run: Callable[[], Awaitable[None]]) -> float:
    """Events per second of ``run``, which writes ``count`` events."""
    started = time.perf_counter()
    await run()
    return count / (time.perf_counter() - started)


# -- throughput ------------------------------------------------------------------------------------------------


async def store_rates(store: JobStore) -> dict[str, float]:
    prefix = secrets.token_hex(3)
    seq_job = f"seq-{prefix}"
    key_job = f"key-{prefix}"
    jobs = [f"conc-{prefix}-{i}" for i in range(JOBS)]
    for job_id in (seq_job, key_job, *jobs):
        await store.create_job(record(job_id))

    async def sequential() -> None:
        for n in range(SEQUENTIAL):
            await store.append_event(seq_job, "token", {**PAYLOAD, "index": n})

    async def keyed() -> None:
        for n in range(SEQUENTIAL):
            await store.append_event(key_job, "token", {**PAYLOAD, "index": n}, key=f"k{n}")

    async def concurrent() -> None:
        async def one(job_id: str) -> None:
            for n in range(PER_JOB):
                await store.append_event(job_id, "token", {**PAYLOAD, "index": n})

        await asyncio.gather(*(one(j) for j in jobs))

    return {
        "sequential": await rate(SEQUENTIAL, sequential),
        "concurrent": await rate(JOBS * PER_JOB, concurrent),
        "keyed": await rate(SEQUENTIAL, keyed),
    }


async def raw_sqlite_rates(path: Path, store: JobStore) -> dict[str, float]:
    prefix = secrets.token_hex(3)
    seq_job = f"raw-{prefix}"
    jobs = [f"rawc-{prefix}-{i}" for i in range(JOBS)]
    for job_id in (seq_job, *jobs):
        await store.create_job(record(job_id))
    sql = "INSERT INTO job_events (job_id, seq, type, data, created_at, key) VALUES (?, ?, ?, ?, ?, NULL)"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA busy_timeout = 5000")
        await db.execute("PRAGMA synchronous = NORMAL")

        async def sequential() -> None:
            for n in range(SEQUENTIAL):
                await db.execute(sql, (seq_job, n + 1, "token", _json(n), time.time()))

        async def concurrent() -> None:
            async def one(job_id: str) -> None:
                for n in range(PER_JOB):
                    await db.execute(sql, (job_id, n + 1, "token", _json(n), time.time()))

            await asyncio.gather(*(one(j) for j in jobs))

        return {
            "sequential": await rate(SEQUENTIAL, sequential),
            "concurrent": await rate(JOBS * PER_JOB, concurrent),
        }


async def raw_postgres_rates(url: str, schema: str, store: JobStore) -> dict[str, float]:
    prefix = secrets.token_hex(3)
    seq_job = f"raw-{prefix}"
    jobs = [f"rawc-{prefix}-{i}" for i in range(JOBS)]
    for job_id in (seq_job, *jobs):
        await store.create_job(record(job_id))
    sql = "INSERT INTO job_events (job_id, seq, type, data, created_at, key) VALUES ($1, $2, $3, $4::json, $5, NULL)"
    pool = await asyncpg.create_pool(url, min_size=10, max_size=10, server_settings={"search_path": schema})
    try:

        async def sequential() -> None:
            async with pool.acquire() as conn:
                for n in range(SEQUENTIAL):
                    await conn.execute(sql, seq_job, n + 1, "token", _json(n), time.time())

        async def concurrent() -> None:
            async def one(job_id: str) -> None:
                for n in range(PER_JOB):
                    await pool.execute(sql, job_id, n + 1, "token", _json(n), time.time())

            await asyncio.gather(*(one(j) for j in jobs))

        return {
            "sequential": await rate(SEQUENTIAL, sequential),
            "concurrent": await rate(JOBS * PER_JOB, concurrent),
        }
    finally:
        await pool.close()


def _json(n: int) -> str:
    import json

    return json.dumps({**PAYLOAD, "index": n}, separators=(",", ":"))


# -- latency ---------------------------------------------------------------------------------------------------


async def wake_latency(writer: JobStore, watcher: JobStore, samples: int, jitter: float) -> tuple[float, float]:
    """p50 and p95 seconds from an append on ``writer`` to ``wait()`` returning on ``watcher``.

    Each append comes after a random pause in ``[0, jitter)``, so it lands anywhere in a poll interval.
    """
    job_id = f"lat-{secrets.token_hex(4)}"
    await writer.create_job(record(job_id))
    woke = asyncio.Queue[float]()
    latencies: list[float] = []
    async with watcher.watch(job_id) as watch:

        async def listen() -> None:
            while True:
                await watch.wait()
                woke.put_nowait(time.perf_counter())

        listener = asyncio.create_task(listen())
        try:
            for n in range(samples):
                await asyncio.sleep(random.uniform(0, jitter))
                sent = time.perf_counter()
                await writer.append_event(job_id, "token", {"n": n})
                latencies.append(await asyncio.wait_for(woke.get(), 10) - sent)
                while not woke.empty():  # a spurious extra wake-up must not count for the next sample
                    woke.get_nowait()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
    latencies.sort()
    return statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]


# -- main ------------------------------------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def fmt_latency(pair: tuple[float, float] | None, samples: int) -> str:
    if pair is None:
        return "-"
    return f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f} ms (n={samples})"


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    schema = f"bench_{secrets.token_hex(4)}"
    pg_url = f"{POSTGRES}?schema={schema}"
    results: dict[str, dict[str, Any]] = {"SQLite": {}, "PostgreSQL": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.sqlite3"
        sqlite = results["SQLite"]
        async with SQLiteStore(path) as store:
            sqlite.update({f"store {k}": v for k, v in (await store_rates(store)).items()})
            sqlite.update({f"raw {k}": v for k, v in (await raw_sqlite_rates(path, store)).items()})
        for poll, samples in ((0.05, 200), (0.5, 30)):
            async with SQLiteStore(path, poll_interval=poll) as a, SQLiteStore(path, poll_interval=poll) as b:
                sqlite[f"latency {poll}"] = (await wake_latency(a, b, samples, jitter=poll), samples)
        pg = results["PostgreSQL"]
        try:
            async with PostgresStore(pg_url) as store:
                pg.update({f"store {k}": v for k, v in (await store_rates(store)).items()})
                pg.update({f"raw {k}": v for k, v in (await raw_postgres_rates(POSTGRES, schema, store)).items()})
            async with PostgresStore(pg_url) as a, PostgresStore(pg_url) as b:
                pg["latency notify"] = (await wake_latency(a, b, 200, jitter=0.005), 200)
        finally:
            conn = await asyncpg.connect(POSTGRES)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

    rows: list[tuple[str, str, str]] = [
        (
            "append_event, 1 job, sequential",
            fmt_rate(sqlite["store sequential"]),
            fmt_rate(pg["store sequential"]),
        ),
        ("  baseline: plain INSERT, sequential", fmt_rate(sqlite["raw sequential"]), fmt_rate(pg["raw sequential"])),
        (
            f"append_event, {JOBS} jobs concurrently",
            fmt_rate(sqlite["store concurrent"]),
            fmt_rate(pg["store concurrent"]),
        ),
        (
            f"  baseline: plain INSERT, {JOBS} concurrently",
            fmt_rate(sqlite["raw concurrent"]),
            fmt_rate(pg["raw concurrent"]),
        ),
        ("append_event with key (dedupe), sequential", fmt_rate(sqlite["store keyed"]), fmt_rate(pg["store keyed"])),
        (
            "wake latency A->B p50/p95, poll 0.05 s",
            fmt_latency(*sqlite["latency 0.05"]),
            "(LISTEN/NOTIFY, no polling)",
        ),
        ("wake latency A->B p50/p95, poll 0.5 s (default)", fmt_latency(*sqlite["latency 0.5"]), ""),
        ("wake latency A->B p50/p95, LISTEN/NOTIFY", "", fmt_latency(*pg["latency notify"])),
    ]
    widths = [max(len(r[i]) for r in [*rows, ("", "SQLite (WAL)", "PostgreSQL")]) for i in range(3)]
    print(f"{'':<{widths[0]}}  {'SQLite (WAL)':>{widths[1]}}  {'PostgreSQL':>{widths[2]}}")
    for name, a, b in rows:
        print(f"{name:<{widths[0]}}  {a:>{widths[1]}}  {b:>{widths[2]}}")
    print(
        f"\n{SEQUENTIAL} sequential events; {JOBS}x{PER_JOB} concurrent; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; took {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
