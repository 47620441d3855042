"""Benchmark the durable job stores: SQLite and PostgreSQL, side by side.

1. Events written per second by ``append_event`` (one job, sequentially; 50 jobs at once; with a dedupe
   ``key``), each next to a baseline of plain INSERTs of the same rows through the same driver (seq computed
   in Python, no locking, no notification), so the cost of the gap-free seq is visible.
2. Wake-up latency: ``append_event`` on one store object (replica A) until ``watch().wait()`` returns on
   another (replica B), p50/p95, on the system clock. SQLite sees other replicas' changes by polling, so its
   latency is bounded by ``poll_interval``; PostgreSQL uses LISTEN/NOTIFY.

Run: ``python bench/store.py`` (PostgreSQL at 127.0.0.1:5432/test, in a schema of its own, dropped afterwards;
SQLite in a temporary file). Set ``ORCHESTRATOR_BENCH_POSTGRES`` to use another server.
"""

from __future__ import annotations

import asyncio
import json
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
SEQUENTIAL = 1000
JOBS, PER_JOB = 50, 40
ROUNDS = 3  # each rate is the best of this many runs (the machine may be busy with other work)
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


# -- throughput ----------------------------------------------------------------------------------------------


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
    sql = (
        "INSERT INTO job_events (job_id, seq, type, data, created_at, key) "
        "VALUES ($1, $2, $3, $4::json, $5, NULL)"
    )
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


def best(results: dict[str, Any], prefix: str, rates: dict[str, float]) -> None:
    """Keep the best rate of each measurement."""
    for name, value in rates.items():
        key = f"{prefix} {name}"
        results[key] = max(value, results.get(key, 0.0))


def _json(n: int) -> str:
    return json.dumps({**PAYLOAD, "index": n}, separators=(",", ":"))


# -- latency -------------------------------------------------------------------------------------------------


async def wake_latency(
    writer: JobStore, watcher: JobStore, samples: int, jitter: float
) -> tuple[float, float]:
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


# -- main ----------------------------------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def fmt_latency(pair: tuple[float, float] | None, samples: int) -> str:
    if pair is None:
        return "-"
    return f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f} ms (n={samples})"


async def sqlite_results(path: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with SQLiteStore(path) as store:
        for _ in range(ROUNDS):
            best(results, "store", await store_rates(store))
            best(results, "raw", await raw_sqlite_rates(path, store))
    for poll, samples in ((0.05, 200), (0.5, 20)):
        writer, watcher = SQLiteStore(path, poll_interval=poll), SQLiteStore(path, poll_interval=poll)
        async with writer, watcher:
            results[f"latency {poll}"] = (await wake_latency(writer, watcher, samples, jitter=poll), samples)
    return results


async def postgres_results() -> dict[str, Any]:
    results: dict[str, Any] = {}
    schema = f"bench_{secrets.token_hex(4)}"
    url = f"{POSTGRES}?schema={schema}"
    try:
        async with PostgresStore(url) as store:
            for _ in range(ROUNDS):
                best(results, "store", await store_rates(store))
                best(results, "raw", await raw_postgres_rates(POSTGRES, schema, store))
        async with PostgresStore(url) as writer, PostgresStore(url) as watcher:
            results["latency notify"] = (await wake_latency(writer, watcher, 200, jitter=0.005), 200)
    finally:
        conn = await asyncpg.connect(POSTGRES)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    return results


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await sqlite_results(Path(tmp) / "jobs.sqlite3")
    pg = await postgres_results()
    rows: list[tuple[str, str, str]] = [
        (label, fmt_rate(sqlite[key]), fmt_rate(pg[key]))
        for label, key in (
            ("append_event, 1 job, sequential", "store sequential"),
            ("  baseline: plain INSERT, sequential", "raw sequential"),
            (f"append_event, {JOBS} jobs concurrently", "store concurrent"),
            (f"  baseline: plain INSERT, {JOBS} concurrently", "raw concurrent"),
            ("append_event with key (dedupe), sequential", "store keyed"),
        )
    ]
    rows += [
        ("wake latency A->B p50/p95, poll 0.05 s", fmt_latency(*sqlite["latency 0.05"]), "(no polling)"),
        ("wake latency A->B p50/p95, poll 0.5 s (default)", fmt_latency(*sqlite["latency 0.5"]), ""),
        ("wake latency A->B p50/p95, LISTEN/NOTIFY", "", fmt_latency(*pg["latency notify"])),
    ]
    header = ("", "SQLite (WAL)", "PostgreSQL")
    widths = [max(len(row[i]) for row in [*rows, header]) for i in range(3)]
    for name, left, right in [header, *rows]:
        print(f"{name:<{widths[0]}}  {left:>{widths[1]}}  {right:>{widths[2]}}")
    print(
        f"\nbest of {ROUNDS} runs of {SEQUENTIAL} sequential events and {JOBS}x{PER_JOB} concurrent ones; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; took {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
