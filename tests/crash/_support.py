"""Processes for the crash tests: the local platform served by the CLI, and worker processes (``_worker.py``).

These tests run in real time (the platform runs ``SCALE`` times faster than the wall clock, so a platform minute
passes in a real second); every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from orchestrator import EventType, JobStatus
from orchestrator.platform import PlatformClient, StreamEvent
from orchestrator.store import JobEvent, JobStore

ROOT = Path(__file__).resolve().parents[2]
SCALE = 60.0  # platform seconds per real second
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@dataclass
class PlatformProcess:
    """``orchestrator platform serve --port 0 --time-scale SCALE`` running as a child process."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> PlatformClient:
        """A client on the platform (system clock: only this test process reads it)."""
        return PlatformClient(self.url, self.token)


def start_platform(token: str, log: Path) -> PlatformProcess:
    """Serve the local platform on a free port; its URL is read from the first line it prints."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.cli",
                "platform",
                "serve",
                "--port",
                "0",
                "--token",
                token,
                "--time-scale",
                f"{SCALE:g}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=ENV,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        first = log.read_text().partition("\n")
        if first[1] and " at http" in first[0]:
            return PlatformProcess(first[0].split(" at ")[1].split(" ")[0], token, process, log)
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"the local platform did not start: {log.read_text()[-2000:]}")


def stop_platform(platform: PlatformProcess) -> None:
    platform.process.send_signal(signal.SIGINT)
    try:
        platform.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        platform.process.kill()
        platform.process.wait()


@dataclass
class Worker:
    """One ``tests.crash._worker`` process and the JSON lines it printed so far."""

    process: asyncio.subprocess.Process
    stderr: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def start(
        cls, platform: PlatformProcess, store: str, stderr: Path, *args: str, lease: float = 1.0
    ) -> Worker:
        with stderr.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.crash._worker",
                *("--platform", platform.url, f"--token={platform.token}", "--store", store),
                *("--scale", f"{SCALE:g}", "--lease", f"{lease:g}"),
                *args,
                cwd=ROOT,
                env=ENV,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        return cls(process, stderr)

    def _explain(self, what: str) -> str:
        return (
            f"worker {self.process.pid}: {what}; stdout so far {self.lines}; stderr tail:\n"
            + (self.stderr.read_text()[-3000:])
        )

    async def next_line(self, within: float) -> dict[str, Any]:
        """The next JSON line (AssertionError, with the worker's stderr, on timeout or exit)."""
        assert self.process.stdout is not None
        try:
            raw = await asyncio.wait_for(self.process.stdout.readline(), within)
        except TimeoutError:
            raise AssertionError(self._explain(f"no line within {within}s")) from None
        if not raw:
            raise AssertionError(self._explain(f"exited ({await self.process.wait()}) before the next line"))
        line: dict[str, Any] = json.loads(raw)
        self.lines.append(line)
        return line

    async def expect(self, event: str, count: int = 1, within: float = 30.0) -> list[dict[str, Any]]:
        """Read lines until ``count`` lines of ``event`` were read; returns them."""
        deadline = time.monotonic() + within
        found: list[dict[str, Any]] = []
        while len(found) < count:
            line = await self.next_line(max(0.01, deadline - time.monotonic()))
            if line["event"] == event:
                found.append(line)
        return found

    async def results(self, within: float = 30.0) -> dict[str, dict[str, Any]]:
        """Read until ``done``: the ``result`` lines by job id (the worker then exits 0)."""
        deadline = time.monotonic() + within
        while not self.lines or self.lines[-1]["event"] != "done":
            await self.next_line(max(0.01, deadline - time.monotonic()))
        code = await asyncio.wait_for(self.process.wait(), 10)
        assert code == 0, self._explain(f"exit code {code}")
        return {line["job_id"]: line for line in self.lines if line["event"] == "result"}

    async def send_ids(self, job_ids: Sequence[str]) -> None:
        """Give a ``--await-stdin`` worker job ids to await."""
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{i}\n" for i in [*job_ids, "end"]).encode())
        await self.process.stdin.drain()

    async def kill(self) -> None:
        """SIGKILL, and wait for the process to be gone."""
        self.process.kill()
        assert await asyncio.wait_for(self.process.wait(), 10) == -signal.SIGKILL

    async def wait_exit(self) -> int:
        return await asyncio.wait_for(self.process.wait(), 30)

    async def stop(self) -> None:
        """Kill the process if it still runs (test teardown)."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> float:
    """Poll ``check`` every 20 ms until it holds; returns the real seconds it took."""
    started = time.monotonic()
    for _ in range(int(within / 0.02) + 1):
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what}: not within {within}s")


async def in_flight(store: JobStore, job_ids: Sequence[str]) -> bool:
    """Every job is running on the platform: dispatches have streamed tokens, tasks have a running execution."""
    for job_id in job_ids:
        record = await store.get_job(job_id)
        if record is None or record.status is not JobStatus.RUNNING:
            return False
        events = await store.events(job_id)
        if record.route == "dispatch":
            wanted = any(e.type == EventType.TOKEN for e in events)
        else:
            wanted = any(e.type == EventType.TASK_EXECUTION and e.data["status"] == "running" for e in events)
        if not wanted:
            return False
    return True


async def assert_once(store: JobStore, job_id: str, result: dict[str, Any]) -> list[JobEvent]:
    """The job succeeded once, and its log is gap-free, free of duplicate keys, and agrees with the result."""
    record = await store.get_job(job_id)
    assert record is not None
    assert record.status is JobStatus.SUCCEEDED, (record.status, record.error)
    assert result["status"] == "succeeded"
    events = await store.events(job_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    keys = [e.key for e in events if e.key is not None]
    assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
    types = [e.type for e in events]
    assert types.count(EventType.SUCCEEDED) == 1
    assert types.count(EventType.STARTED) == 1
    assert types[-1] == EventType.SUCCEEDED
    if record.route == "dispatch":
        tokens = "".join(str(e.data["token"]) for e in events if e.type == EventType.TOKEN)
        assert tokens == result["text"], "the logged tokens are the result's text, none lost or doubled"
        assert result["channel_id"] == record.spec["channel_id"]
    return events


async def channel_history(client: PlatformClient, channel_id: str) -> list[StreamEvent]:
    """The run events the platform kept on a dispatch channel (replayed with ``historyLength``)."""
    events: list[StreamEvent] = []
    async with client.channels.subscribe(channel_id, history_length=1000) as stream:
        # the history arrives at once; a run still going would keep publishing within this second
        with anyio.move_on_after(1.0):
            async for item in stream:
                inner = item.inner()
                if inner is not None and inner.type not in ("nop", "ping"):
                    events.append(inner)
    return events


async def assert_one_dispatch_run(client: PlatformClient, channel_id: str) -> None:
    """The platform ran the channel's dispatch once: one ``completeBegin`` and one ``result`` in its history."""
    types = [e.type for e in await channel_history(client, channel_id)]
    assert types.count("completeBegin") == 1, types
    assert types.count("result") == 1, types
    assert types[-1] == "result", types


async def assert_one_task_run(client: PlatformClient, job_id: str) -> None:
    """The platform holds one task for the job (found by its ``meta`` key), with one successful execution."""
    tasks = [t async for t in client.tasks.list(meta={"orchestratorKey": job_id})]
    assert len(tasks) == 1, tasks
    executions = [e async for e in client.tasks.executions(tasks[0].id)]
    assert [(e.status, e.outcome) for e in executions] == [("idle", "success")]
