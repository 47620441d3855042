"""The event path under a token stream: concurrent dispatches streaming through the orchestrator into a store.

The local platform runs as its own process (``orchestrator platform serve``, system clock). This process runs an
:class:`Orchestrator` on SQLite or PostgreSQL that starts ``--runs`` (200) dispatch jobs at once; each run streams
``--burst`` tokens every 100 ms for ``--seconds`` (so 200 runs offer ``runs * burst * 10`` tokens/s). Every
configuration (``--configs``) gets the same load, one after the other, in this one process run:

- ``row-tx``: the baseline as shipped before: one event per token, one transaction per event
  (``batch_events=False``, ``token_window=0``);
- ``row-batch``: one event per token, written with group commit (one transaction per flush);
- ``merged``: the default: consecutive token deltas of a run merged over ``token_window`` (50 ms), group commit.

Columns: ``steady tok/s`` tokens recorded per second while every run streams (the tokens stored between the
moment the last run was started and the moment the first one finished, by their events' ``created_at``);
``tokens/s`` over the whole run (every token of every log, from the first start to the last job finished,
ramp-up and drain included; each log checked against its result's text); ``rows`` token events stored; ``flushes`` batch
transactions; ``cpu`` CPU seconds of this process, ``us/token`` of them per token recorded (what one free core would
sustain: ``1e6 / us/token`` tokens/s), ``pf cpu`` of the platform process, ``db cpu`` of the PostgreSQL server's processes (all of them share
this machine's cores); and the latency of an event under that load, p50/p99: once every run is started, a probe
job gets an event every 20 ms from the loaded store, and a reader waits for it (``iterate_events``, what a
``JobHandle.events()`` runs) on the same store object (``in-proc``) and on another store object on the same
database (``replica``: PostgreSQL LISTEN/NOTIFY; SQLite polls every ``poll_interval``, 0.5 s by default, here
0.05 s). ``loop lag``: how late a 10 ms sleep of this process wakes (the event loop's backlog, and the share of
a busy machine this process gets): every latency includes it. ``late``: runs whose supervisor subscribed so
late (an overloaded machine) that their first tokens had left the channel's 1000-event history; their log is
checked to be the end of the result's text.

Run: ``python bench/events.py [--runs 200] [--burst 20] [--seconds 8] [--stores sqlite,postgres]
[--configs row-tx,row-batch,merged] [--profile postgres:merged]`` (the profile is a pyinstrument HTML file in the
temporary directory; ``pip install pyinstrument``). PostgreSQL: 127.0.0.1:5432/test (``ORCHESTRATOR_BENCH_POSTGRES``),
in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from supervise import start_platform  # bench/supervise.py: the local platform as its own process

from orchestrator import EventType, Orchestrator, SystemClock
from orchestrator.platform import PlatformClient
from orchestrator.store import JobRecord, JobStatus, JobStore, PostgresStore, SQLiteStore, iterate_events

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("ORCHESTRATOR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PROBE_EVERY = 0.02
# name: (batch_events, token_window; None: the default)
CONFIGS: dict[str, tuple[bool, float | None]] = {
    "row-tx": (False, 0.0),
    "row-batch": (True, 0.0),
    "merged": (True, None),
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes on this machine (0 if none is visible)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += process_cpu(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return total


@dataclass
class Result:
    tokens: int
    seconds: float
    steady_rate: float
    rows: int
    flushes: int
    cpu: float
    platform_cpu: float
    db_cpu: float
    in_process: list[float]
    replica: list[float]
    lag: list[float]
    late: int

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def deltas(data: Any) -> int:
    parts = data.get("parts")
    return len(parts) if isinstance(parts, list) and parts else 1


@contextlib.asynccontextmanager
async def database(kind: str, tmp: Path) -> AsyncIterator[str]:
    """A fresh store URL of ``kind`` (a PostgreSQL schema is dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'events-{secrets.token_hex(3)}.sqlite3'}"
        return
    schema = f"events_bench_{secrets.token_hex(4)}"
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        conn = await asyncpg.connect(POSTGRES)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


def open_one(url: str, *, batch_events: bool, replica: bool = False) -> JobStore:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return SQLiteStore(path, batch_events=batch_events, poll_interval=0.05 if replica else 0.5)
    return PostgresStore(url, batch_events=batch_events, max_size=10)


async def probe(
    writer: JobStore, reader: JobStore, job_id: str, stop: asyncio.Event
) -> tuple[list[float], list[float]]:
    """Latencies (seconds) from an append on ``writer`` to the event read on ``writer`` and on ``reader``."""
    await writer.create_job(
        JobRecord(
            id=job_id,
            job_name="probe",
            route="dispatch",
            status=JobStatus.RUNNING,
            created_at=0.0,
            updated_at=0.0,
            idempotency_key=job_id,
            owner="bench-probe",  # leased for good: no orchestrator takes it for a job of its own
            lease_expires_at=time.time() + 86400,
        )
    )
    sent: dict[int, float] = {}
    local: list[float] = []
    remote: list[float] = []

    async def read(store: JobStore, into: list[float]) -> None:
        async for event in iterate_events(store, job_id):
            n = event.data.get("n")
            if n is None:
                return
            into.append(time.perf_counter() - sent[n])

    readers = [asyncio.create_task(read(writer, local)), asyncio.create_task(read(reader, remote))]
    await asyncio.sleep(0.2)  # both readers are waiting
    n = 0
    while not stop.is_set():
        sent[n] = time.perf_counter()
        await writer.append_event(job_id, "probe", {"n": n})
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY)
    await writer.append_event(job_id, "probe", {})
    await writer.finish_job(job_id, JobStatus.SUCCEEDED)
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    return local, remote


async def loop_lag(stop: asyncio.Event) -> list[float]:
    """How late a 10 ms sleep wakes up, sampled until ``stop``: the event loop's lag (and this process's
    share of a busy machine)."""
    lags: list[float] = []
    while not stop.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - began - 0.01)
    return lags


async def run_config(
    url: str,
    config: str,
    *,
    base_url: str,
    token: str,
    runs: int,
    burst: int,
    seconds: float,
    platform_pid: int,
) -> Result:
    batch_events, token_window = CONFIGS[config]
    store = open_one(url, batch_events=batch_events)
    replica = open_one(url, batch_events=True, replica=True)
    clock = SystemClock()
    orc = Orchestrator(platform=PlatformClient(base_url, token, clock=clock), store=store, clock=clock)
    rounds = int(seconds * 10)

    @orc.job(runtime="10m", name="stream")
    def stream(n: int) -> str:
        return f"stream {n} " + f"[[tokens {burst}]] [[sleep 100ms]] " * rounds

    async with orc, replica:
        if token_window is not None:
            orc.context.token_window = token_window
        stop = asyncio.Event()
        cpu0, pf0, db0 = cpu_seconds(), process_cpu(platform_pid), postgres_cpu()
        t0 = time.perf_counter()
        handles = await asyncio.gather(*(stream.start(n) for n in range(runs)))
        all_started = time.time()
        # latencies are measured while the runs stream (not during the burst of 200 starts)
        probing = asyncio.create_task(probe(orc.store, replica, f"probe-{secrets.token_hex(4)}", stop))
        lagging = asyncio.create_task(loop_lag(stop))
        finished: list[float] = []

        async def finish(handle: Any) -> Any:
            result = await handle.result()
            finished.append(time.time())
            return result

        results = await asyncio.gather(*(finish(h) for h in handles))
        first_done = min(finished)
        elapsed = time.perf_counter() - t0
        cpu, pf_cpu = cpu_seconds() - cpu0, process_cpu(platform_pid) - pf0
        db_cpu = postgres_cpu() - db0 if url.startswith("postgres") else 0.0
        stop.set()
        local, remote = await probing
        lag = await lagging
        tokens = rows = late = steady = 0
        for handle, result in zip(handles, results, strict=True):
            events = [e for e in await orc.store.events(handle.id) if e.type == EventType.TOKEN]
            text = "".join(str(e.data["token"]) for e in events)
            if text != result.text:
                # the supervisor subscribed so late that the run's first tokens had left the channel's
                # 1000-event history (an overloaded machine); anything else is a bug
                assert result.text.endswith(text), (
                    f"{config}: job {handle.id}: the log is not the result's text"
                )
                late += 1
            tokens += sum(deltas(e.data) for e in events)
            steady += sum(deltas(e.data) for e in events if all_started <= e.created_at <= first_done)
            rows += len(events)
        batcher = getattr(store, "_batcher", None)
        flushes = batcher.flushes if batcher is not None else rows
    return Result(
        tokens,
        elapsed,
        steady / (first_done - all_started) if first_done > all_started else float("nan"),
        rows,
        flushes,
        cpu,
        pf_cpu,
        db_cpu,
        local,
        remote,
        lag,
        late,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def fmt_latency(values: list[float]) -> str:
    return f"{pct(values, 0.5) * 1000:6.1f} / {pct(values, 0.99) * 1000:6.1f}"


@contextlib.contextmanager
def profiling(enabled: bool, name: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        path = Path(tempfile.gettempdir()) / f"events-{name.replace(':', '-')}"
        path.with_suffix(".html").write_text(profiler.output_html())
        path.with_suffix(".txt").write_text(profiler.output_text(unicode=False, show_all=False))
        print(f"profile of {name}: {path}.html and .txt", file=sys.stderr)


async def main(args: argparse.Namespace) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    token = secrets.token_hex(24)
    offered = args.runs * args.burst * 10
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        process, base_url = start_platform(token, tmp / "platform.log")
        try:
            for kind in args.stores.split(","):
                for config in args.configs.split(","):
                    async with database(kind, tmp) as url:
                        with profiling(args.profile == f"{kind}:{config}", f"{kind}:{config}"):
                            result = await run_config(
                                url,
                                config,
                                base_url=base_url,
                                token=token,
                                runs=args.runs,
                                burst=args.burst,
                                seconds=args.seconds,
                                platform_pid=process.pid,
                            )
                    rows.append(
                        (
                            kind,
                            config,
                            f"{result.steady_rate:,.0f}",
                            f"{result.rate:,.0f}",
                            f"{result.tokens:,}",
                            f"{result.rows:,}",
                            f"{result.flushes:,}",
                            f"{result.seconds:.1f}",
                            f"{result.cpu:.1f}",
                            f"{result.cpu * 1e6 / result.tokens:.1f}",
                            f"{result.platform_cpu:.1f}",
                            f"{result.db_cpu:.1f}",
                            fmt_latency(result.in_process),
                            fmt_latency(result.replica),
                            fmt_latency(result.lag),
                            str(result.late),
                        )
                    )
                    print("  ".join(rows[-1]), file=sys.stderr)
        finally:
            process.terminate()
            process.wait(timeout=10)
    header = (
        "store",
        "config",
        "steady tok/s",
        "tokens/s",
        "tokens",
        "rows",
        "flushes",
        "s",
        "cpu",
        "us/token",
        "pf cpu",
        "db cpu",
        "in-proc p50/p99 ms",
        "replica p50/p99 ms",
        "loop lag p50/p99 ms",
        "late",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    by = {(r[0], r[1]): float(r[2].replace(",", "")) for r in rows}  # the steady rates
    for kind in args.stores.split(","):
        base = by.get((kind, "row-tx"))
        for config in args.configs.split(","):
            if base and config != "row-tx" and (kind, config) in by:
                print(f"{kind} {config}: {by[(kind, config)] / base:.2f}x the row-tx baseline")
    print(
        f"\n{args.runs} runs streaming {args.burst} tokens per 100 ms for {args.seconds:g} s "
        f"(offered {offered:,} tokens/s); python {sys.version.split()[0]}, {os.cpu_count()} CPUs "
        "(shared with other work: figures vary run to run)"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--burst", type=int, default=20, help="tokens per run per 100 ms")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each run streams")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--configs", default="row-tx,row-batch,merged")
    parser.add_argument("--profile", default="", help="STORE:CONFIG to profile with pyinstrument")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
