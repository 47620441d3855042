"""Supervision at scale: how many concurrent dispatches one orchestrator process can start and supervise.

The local platform runs as its own process (``orchestrator platform serve``, system clock). Each configuration
gets a fresh platform and a fresh measuring process (so that none inherits another's memory or state), which
ramps up: it starts dispatches, 256 starts in flight at once, for ``--window`` seconds or until ``--max`` (10,000)
are started, whichever comes first. Each run streams 5 tokens, then sleeps until a common moment ``window + 3 s``
after the first start (``[[sleep Ns]]`` computed per run), then streams its answer. So every run started is in
flight at that moment, and all of them end together: the drain that follows is a burst of N results at once.

Configurations (``--configs``, ``MODE:TRANSPORT``):

- ``baseline``: bare readers, no orchestrator: ``conversations.dispatch`` with a channel id of their own, then
  ``channels.subscribe(history_length=1000)`` read to the ``result`` (the HTTP work of a supervised dispatch,
  without the store and the supervisor);
- ``memory`` / ``sqlite``: one :class:`Orchestrator` on that store starts dispatch jobs and supervises them.

``TRANSPORT`` is what the :class:`PlatformClient` sends through (``transport=``), wrapped only to count dispatch
requests: ``default`` is the transport it ships with (:func:`orchestrator.platform.default_transport`, aiohttp's
pool); ``httpx`` is plain httpx (one httpcore pool with no connection cap), ``httpxN`` N such pools round-robin.
httpcore's pool scans all of its connections on every request and every response close, so with N streams open
each operation costs O(N) there; aiohttp's does not.

After the table, each orchestrator configuration is compared with the baseline on the same transport: CPU per
run started (target: at most 1.2x the baseline's) and RSS per in-flight run (target: at most the baseline's
+20 KB).

Columns: ``started`` runs started within the window; ``peak`` most in flight at once (readers between dispatch and
result; the orchestrator's supervisor tasks); ``t@1k``/``t@5k``/``t@10k`` seconds until that many were started;
``st/s 1st``/``st/s last`` starts per second over the first and the last 1,000; ``drain`` seconds from the common
end of the runs to every result recorded; ``burst ev/s`` events stored (orchestrator) or received (baseline) per
second during the drain; ``KB/run`` RSS growth per in-flight run at the peak; ``fds`` peak open descriptors;
``disp/job`` dispatch requests sent per job (1.00 when no start is repeated); ``cpu`` CPU seconds of the measuring
process, ``ms/run`` of them per run started, ``obj/run`` objects the cyclic garbage collector tracks per
in-flight run (counted once, when the window closes), ``gc s`` of them in the cyclic garbage collector, ``gc2 s`` in its
``#gc2`` full collections; ``pf cpu`` of the platform process (both processes share this machine's cores);
``pf MB`` the platform's peak RSS.

``BENCH_GC_TRACE=FILE`` appends the CPU time and the heap size (tracked objects) of each full collection to FILE.

Run: ``python bench/supervise.py [--window 30] [--max 10000] [--configs baseline:default,memory:default,sqlite:default]
[--profile memory:default]`` (the last writes a pyinstrument profile of that configuration to the temporary directory;
``pip install pyinstrument``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import structlog

from orchestrator import JobStatus, Orchestrator, SystemClock
from orchestrator.platform import PlatformClient, default_transport

ROOT = Path(__file__).resolve().parents[1]
TOKENS = 5
STARTS_IN_FLIGHT = 256
SETTLE = 3.0
SAMPLE_EVERY = 0.1
MILESTONES = (1000, 5000, 10000)
FREEZE_GC = False  # --gc-freeze, set in the measuring process


# -- the client under test ------------------------------------------------------------------------------------


class ShardedTransport(httpx.AsyncBaseTransport):
    """Spreads requests round-robin over ``shards`` plain-httpx (httpcore) connection pools."""

    def __init__(self, shards: int) -> None:
        self._pools = [
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=None, max_keepalive_connections=20))
            for _ in range(max(1, shards))
        ]
        self._next = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._pools[self._next]
        self._next = (self._next + 1) % len(self._pools)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts dispatch requests on their way to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.dispatches = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/dispatch"):
            self.dispatches += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_transport(name: str) -> CountingTransport:
    """``default``: the transport ``PlatformClient`` ships with; ``httpx``/``httpxN``: N plain-httpx pools."""
    if name == "default":
        return CountingTransport(default_transport())
    shards = name.removeprefix("httpx")
    if name.startswith("httpx") and (not shards or shards.isdigit()):
        return CountingTransport(ShardedTransport(int(shards or 1)))
    raise SystemExit(f"unknown transport {name!r}: use default, httpx or httpxN (N pools)")


# -- measuring, in the child process ----------------------------------------------------------------------------


def rss_bytes() -> int:
    """This process's resident set size (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class GCTimer:
    """CPU time spent in the cyclic garbage collector, and how many full (generation 2) collections ran."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self.full_seconds = 0.0
        self._began = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.thread_time()
        else:
            took = time.thread_time() - self._began
            self.seconds += took
            if info["generation"] == 2:
                self.full += 1
                self.full_seconds += took
                if os.environ.get("BENCH_GC_TRACE"):
                    with open(os.environ["BENCH_GC_TRACE"], "a") as out:
                        print(f"gc2 {took:.3f}s heap={len(gc.get_objects())}", file=out)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Sampler:
    """Samples the in-flight count, RSS and open descriptors every ``SAMPLE_EVERY`` seconds."""

    in_flight: Callable[[], int]
    peak_in_flight: int = 0
    rss_at_peak: int = 0
    peak_fds: int = 0

    async def run(self) -> None:
        while True:
            self.sample()
            await anyio.sleep(SAMPLE_EVERY)

    def sample(self) -> None:
        count = self.in_flight()
        if count >= self.peak_in_flight:
            self.peak_in_flight = count
            self.rss_at_peak = max(self.rss_at_peak, rss_bytes())
        self.peak_fds = max(self.peak_fds, open_fds())


def prompt(n: int, sleep: float) -> str:
    return f"bench {n} [[tokens {TOKENS}]] [[sleep {sleep:.2f}s]] [[tokens {TOKENS}]]"


@dataclass
class Ramp:
    """One ramp: start runs for ``window`` seconds (at most ``limit``), all ending at ``window + SETTLE``."""

    limit: int
    window: float
    stamps: list[float] = field(default_factory=list)  # when each start returned, seconds after t0
    t0: float = 0.0
    end_at: float = 0.0  # wall time (time.time()) at which every run ends

    async def run(
        self,
        in_flight: Callable[[], int],
        start_one: Callable[[int, float], Awaitable[None]],
        wait_all: Callable[[], Awaitable[None]],
    ) -> dict[str, Any]:
        sampler = Sampler(in_flight)
        if FREEZE_GC:
            gc.collect()
            gc.freeze()  # what a service may do once started: the collector never walks startup objects again
        gc_timer = GCTimer()
        objects0 = len(gc.get_objects())
        rss0, cpu0 = rss_bytes(), cpu_seconds()
        limiter = anyio.CapacityLimiter(STARTS_IN_FLIGHT)
        self.t0 = time.perf_counter()
        end = self.t0 + self.window + SETTLE
        self.end_at = time.time() + self.window + SETTLE

        async def start(i: int) -> None:
            async with limiter:
                now = time.perf_counter()
                if now - self.t0 >= self.window:
                    return
                await start_one(i, end - now)
            self.stamps.append(time.perf_counter() - self.t0)

        async with anyio.create_task_group() as tg:
            tg.start_soon(sampler.run)
            async with anyio.create_task_group() as starts:
                for i in range(self.limit):
                    starts.start_soon(start, i)
            # every run started is in flight now (they all end at ``end``): the collector's heap per run
            flying, objects = in_flight(), len(gc.get_objects())
            await wait_all()
            done = time.perf_counter()
            sampler.sample()
            tg.cancel_scope.cancel()
        stamps = sorted(self.stamps)
        n = len(stamps)
        figures: dict[str, Any] = {
            "started": n,
            "peak": sampler.peak_in_flight,
            "drain_s": done - end,
            "wall_s": done - self.t0,
            "rss0_mb": rss0 / 2**20,
            "kb_per_run": (sampler.rss_at_peak - rss0) / max(1, sampler.peak_in_flight) / 1024,
            "objects_per_run": (objects - objects0) / max(1, flying),
            "fds": sampler.peak_fds,
            "cpu_s": cpu_seconds() - cpu0,
            "gc_s": gc_timer.seconds,
            "gc_full": gc_timer.full,
            "gc_full_s": gc_timer.full_seconds,
            "first_rate": min(n, 1000) / stamps[min(n, 1000) - 1] if n else 0.0,
            "last_rate": 1000 / (stamps[-1] - stamps[-1001]) if n > 1000 else 0.0,
        }
        for k in MILESTONES:
            figures[f"t@{k}"] = stamps[k - 1] if n >= k else None
        return figures


async def run_baseline(
    url: str, token: str, limit: int, window: float, transport_name: str
) -> dict[str, Any]:
    """Bare dispatch + channel readers on one ``PlatformClient``, no orchestrator."""
    transport = make_transport(transport_name)
    ramp = Ramp(limit, window)
    reading = started = results = late_events = 0
    done = anyio.Event()
    ramp_over = anyio.Event()
    async with PlatformClient(url, token, transport=transport) as client, anyio.create_task_group() as tg:

        async def read(channel: str) -> None:
            nonlocal reading, results, late_events
            async with client.channels.subscribe(channel, history_length=1000) as stream:
                async for item in stream:
                    inner = item.inner()
                    if inner is None or inner.type in ("nop", "ping"):
                        continue
                    if time.time() >= ramp.end_at:
                        late_events += 1
                    if inner.is_terminal:
                        results += inner.type == "result"
                        break
            reading -= 1
            if ramp_over.is_set() and reading == 0:
                done.set()

        async def start_one(i: int, sleep: float) -> None:
            nonlocal started, reading
            channel = f"bench-{secrets.token_hex(12)}"
            body = {"messages": [{"type": "user", "text": prompt(i, sleep)}]}
            await client.conversations.dispatch(body, channel_id=channel)
            started += 1
            reading += 1
            tg.start_soon(read, channel)

        async def wait_all() -> None:
            ramp_over.set()
            if reading:
                await done.wait()

        figures = await ramp.run(lambda: reading, start_one, wait_all)
    return {
        **figures,
        "ok": results,
        "burst_ev_s": late_events / figures["drain_s"] if figures["drain_s"] > 0 else 0.0,
        "disp_per_job": transport.dispatches / max(1, started),
    }


async def run_orchestrator(
    url: str, token: str, limit: int, window: float, store: str, transport_name: str
) -> dict[str, Any]:
    """One orchestrator starting and supervising dispatch jobs on ``store``."""
    transport = make_transport(transport_name)
    orc = Orchestrator(
        platform=PlatformClient(url, token, transport=transport), store=store, clock=SystemClock()
    )

    @orc.job(runtime="5m", name="bench")
    def bench(i: int, sleep: float) -> str:
        return prompt(i, sleep)

    ramp = Ramp(limit, window)
    ids: list[str] = []
    async with orc:

        async def start_one(i: int, sleep: float) -> None:
            ids.append((await bench.start(i, sleep)).id)

        async def wait_all() -> None:
            # the job ids the runtime supervises (its supervisor tasks)
            while True:
                if not orc.runtime.supervising:
                    return
                await anyio.sleep(SAMPLE_EVERY / 2)

        figures = await ramp.run(lambda: len(orc.runtime.supervising), start_one, wait_all)
        ok = late = 0
        for job_id in ids:
            record = await orc.store.get_job(job_id)
            ok += record is not None and record.status is JobStatus.SUCCEEDED
            late += sum(1 for e in await orc.store.events(job_id) if e.created_at >= ramp.end_at)
    return {
        **figures,
        "ok": ok,
        "burst_ev_s": late / figures["drain_s"] if figures["drain_s"] > 0 else 0.0,
        "disp_per_job": transport.dispatches / max(1, len(ids)),
    }


def child(args: argparse.Namespace) -> None:
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    mode, shards = args.child, args.transport
    if args.gc0:
        gc.set_threshold(args.gc0, *gc.get_threshold()[1:])
    global FREEZE_GC
    FREEZE_GC = args.gc_freeze

    async def runner() -> dict[str, Any]:
        if mode == "baseline":
            return await run_baseline(args.url, args.token, args.max, args.window, shards)
        store = "memory://" if mode == "memory" else f"sqlite:///{args.sqlite}"
        return await run_orchestrator(args.url, args.token, args.max, args.window, store, shards)

    if args.profile_to:
        from pyinstrument import Profiler  # type: ignore[import-not-found, unused-ignore]

        profiler = Profiler(async_mode="enabled")
        profiler.start()
        figures = asyncio.run(runner())
        profiler.stop()
        Path(args.profile_to).write_text(profiler.output_text(unicode=False, color=False))
    else:
        figures = asyncio.run(runner())
    print(json.dumps(figures), flush=True)


# -- orchestrating the runs, in the parent process -----------------------------------------------------------


def raise_fd_limit(needed: int) -> str:
    """Raise the soft descriptor limit (inherited by the children) as far as needed and allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = soft if soft >= needed else (needed if hard == resource.RLIM_INFINITY else min(needed, hard))
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    note = "" if target >= needed else f" (below the {needed} needed: runs past it will fail)"
    return f"open files: soft limit {soft} -> {target}, hard {hard}{note}"


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_platform(token: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "platform", "serve", "--port", "0", "--token", token],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    for _ in range(1500):
        first, newline, _rest = log.read_text().partition("\n")
        if newline and " at http" in first:
            return process, first.split(" at ")[1].split(" ")[0]
        if process.poll() is not None:
            break
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"the local platform did not start: {log.read_text()[-2000:]}")


def stop_platform(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def one_run(config: str, args: argparse.Namespace, work: Path, profile: Path | None) -> dict[str, Any]:
    mode, _, transport = config.partition(":")
    token = secrets.token_hex(24)
    name = config.replace(":", "-")
    platform, url = start_platform(token, work / f"platform-{name}.log")
    try:
        cpu0 = proc_cpu(platform.pid)
        command = [sys.executable, __file__, "--child", mode, "--transport", transport or "default"]
        command += ["--max", str(args.max), "--window", f"{args.window:g}", "--url", url, f"--token={token}"]
        command += ["--sqlite", str(work / f"jobs-{name}.sqlite3"), "--gc0", str(args.gc0)]
        command += ["--gc-freeze"] if args.gc_freeze else []
        if profile is not None:
            command += ["--profile-to", str(profile)]
        with (work / f"child-{name}.err").open("wb") as err:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, check=False, timeout=900)
        if done.returncode != 0:
            tail = (work / f"child-{name}.err").read_text()[-3000:]
            raise RuntimeError(f"{config} failed ({done.returncode}):\n{tail}")
        figures: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
        figures["pf_cpu_s"] = proc_cpu(platform.pid) - cpu0
        figures["pf_mb"] = proc_peak_rss_mb(platform.pid)
    finally:
        stop_platform(platform)
    return figures


HEADER = (
    f"{'config':<17}{'started':>8}{'ok':>7}{'peak':>7}{'t@1k':>6}{'t@5k':>6}{'t@10k':>6}{'st/s 1st':>9}"
    f"{'st/s last':>10}{'drain':>7}{'burst ev/s':>11}{'KB/run':>7}{'fds':>7}{'disp/job':>9}{'cpu':>6}"
    f"{'ms/run':>7}{'obj/run':>8}{'gc s':>6}{'gc2 s':>6}{'#gc2':>5}{'pf cpu':>7}{'pf MB':>6}"
)


def _t(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def row(config: str, f: dict[str, Any]) -> str:
    return (
        f"{config:<17}{f['started']:>8}{f['ok']:>7}{f['peak']:>7}{_t(f['t@1000']):>6}{_t(f['t@5000']):>6}"
        f"{_t(f['t@10000']):>6}{f['first_rate']:>9.0f}{f['last_rate']:>10.0f}{f['drain_s']:>7.1f}"
        f"{f['burst_ev_s']:>11.0f}{f['kb_per_run']:>7.1f}{f['fds']:>7}{f['disp_per_job']:>9.2f}{f['cpu_s']:>6.0f}"
        f"{cpu_ms_per_run(f):>7.2f}{f['objects_per_run']:>8.0f}{f['gc_s']:>6.1f}{f['gc_full_s']:>6.1f}{f['gc_full']:>5}{f['pf_cpu_s']:>7.0f}{f['pf_mb']:>6.0f}"
    )


def cpu_ms_per_run(f: dict[str, Any]) -> float:
    return 1000 * float(f["cpu_s"]) / max(1, int(f["started"]))


def compare(results: dict[str, dict[str, Any]]) -> list[str]:
    """Each orchestrator configuration beside the baseline on the same transport, with the targets' ratios."""
    lines = []
    for config, f in results.items():
        mode, _, transport = config.partition(":")
        base = results.get(f"baseline:{transport}")
        if mode == "baseline" or base is None:
            continue
        ratio = cpu_ms_per_run(f) / max(1e-9, cpu_ms_per_run(base))
        extra = f["kb_per_run"] - base["kb_per_run"]
        lines.append(
            f"  {config} vs baseline:{transport}: CPU/run {cpu_ms_per_run(f):.2f} ms vs {cpu_ms_per_run(base):.2f} ms"
            f" = {ratio:.2f}x (target <= 1.20x); RSS/run {f['kb_per_run']:.1f} KB vs {base['kb_per_run']:.1f} KB"
            f" = {extra:+.1f} KB (target <= +20 KB); started {f['started']} vs {base['started']}"
        )
        ten_k = f["t@10000"]
        whole = f["ok"] == f["started"] and f["disp_per_job"] == 1.0
        lines.append(
            f"    10,000 started within 30 s: {'yes, at ' + format(ten_k, '.1f') + ' s' if ten_k is not None and ten_k <= 30 else 'no'}"
            f"; every run succeeded with disp/job 1.00: {'yes' if whole else 'no'}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds of starting per configuration")
    parser.add_argument("--max", type=int, default=10_000, help="most dispatches started per configuration")
    parser.add_argument(
        "--configs",
        default="baseline:default,memory:default,sqlite:default",
        help="MODE:TRANSPORT, comma-separated (MODE baseline, memory or sqlite; TRANSPORT default, httpx, httpxN)",
    )
    parser.add_argument("--profile", default="", help="a configuration to profile with pyinstrument")
    parser.add_argument(
        "--gc0",
        type=int,
        default=0,
        help="the garbage collector's generation-0 threshold (default: Python's 700)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() before the ramp (the documented complement for a service; default: not frozen)",
    )
    parser.add_argument("--child", choices=["baseline", "memory", "sqlite"], help=argparse.SUPPRESS)
    parser.add_argument("--transport", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite", default="", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    print(raise_fd_limit(args.max + 1000))
    print(
        f"cpus={os.cpu_count()}; window {args.window:g}s, at most {args.max} runs; {TOKENS}+{TOKENS} tokens per run; "
        f"{STARTS_IN_FLIGHT} starts in flight"
    )
    print(HEADER, flush=True)
    failures = 0
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-supervise-") as tmp:
        for config in configs:
            name = f"bench-supervise-{config.replace(':', '-')}.txt"
            profile = Path(tempfile.gettempdir()) / name if args.profile == config else None
            figures = one_run(config, args, Path(tmp), profile)
            results[config] = figures
            print(row(config, figures), flush=True)
            if figures["ok"] != figures["started"]:
                failures += 1
                print(f"  {config}: {figures['started'] - figures['ok']} runs did not succeed", flush=True)
            if figures["started"] and figures["disp_per_job"] != 1.0:
                failures += 1
                print(f"  {config}: {figures['disp_per_job']:.3f} dispatch requests per job", flush=True)
            if profile is not None:
                print(f"  profile written to {profile}", flush=True)
    for line in compare(results):
        print(line, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
