"""Local platform capacity: concurrent dispatch streams and events/s delivered to channel subscribers.

The platform runs as its own process (``orchestrator platform serve``, SystemClock by default, ``--time-scale``
for a scaled VirtualClock). A load generator in this process, written on bare asyncio sockets so that it is not
the bottleneck, runs each level N (100, 500, 1000, 2000 by default):

1. opens N channel subscriptions (``POST /channel/{id}/subscribe {historyLength: 1000}``, JSONL), one connection
   each, and waits for their headers;
2. fires N dispatches (``POST /conversation/dispatch``) with those channel ids and ``[[tokens 50]]``;
3. waits until every subscription has received its ``result`` and counts the channel events delivered.

Side by side, two baselines of the same event volume:

- memory: the events pushed through in-process anyio memory object streams (one producer/consumer pair per stream),
  the cost floor of moving Python objects between tasks;
- uvicorn: a bare ASGI app served by the same embedded uvicorn (h11), in its own process, answering each request
  with the same number of pre-built JSONL lines: the cost floor of HTTP streaming on this stack.

The platform does two requests per stream (dispatch + subscribe) and runs the simulated agent; the ratio to the
uvicorn baseline is its own overhead. Run: ``python bench/local_platform.py [--levels 100,500] [--time-scale N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKENS = 50
EVENTS_PER_STREAM = TOKENS + 8  # completeBegin, 50 + 2 tokens, completeEnd, message, usage, result
_TOKEN = "bench-" + uuid.uuid4().hex
_MESSAGE = b'{"type":"message"'
_RESULT = b'"type":"result"'


@dataclass
class Level:
    streams: int
    ok: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# -- a bare HTTP/1.1 client -------------------------------------------------------------------------------


def _request(method: str, path: str, body: bytes, accept: str) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {_TOKEN}\r\naccept: {accept}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _open(
    port: int, method: str, path: str, body: bytes, accept: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(method, path, body, accept))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        writer.close()
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
    return reader, writer


async def _count_until_result(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Count channel items (``{"type":"message"``) until the inner ``result`` has been read."""
    events = 0
    tail = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return events
            window = tail + data
            events += window.count(_MESSAGE)
            if _RESULT in window:
                return events
            tail = window[-(len(_MESSAGE) - 1) :]
    finally:
        writer.close()


async def _dispatch(port: int, channel: str) -> None:
    body = json.dumps(
        {"messages": [{"type": "user", "text": f"bench [[tokens {TOKENS}]]"}], "channelId": channel}
    ).encode()
    reader, writer = await _open(port, "POST", "/api/v1/conversation/dispatch", body, "application/json")
    await reader.read()
    writer.close()


async def platform_level(port: int, n: int) -> Level:
    channels = [uuid.uuid4().hex for _ in range(n)]
    body = json.dumps({"historyLength": 1000}).encode()
    start = time.perf_counter()
    subscriptions = await asyncio.gather(
        *(_open(port, "POST", f"/api/v1/channel/{c}/subscribe", body, "application/jsonl") for c in channels)
    )
    counters = [asyncio.ensure_future(_count_until_result(r, w)) for r, w in subscriptions]
    await asyncio.gather(*(_dispatch(port, c) for c in channels))
    counts = await asyncio.gather(*counters)
    seconds = time.perf_counter() - start
    return Level(n, sum(1 for c in counts if c >= EVENTS_PER_STREAM), sum(counts), seconds)


async def uvicorn_level(port: int, n: int) -> Level:
    start = time.perf_counter()
    opened = await asyncio.gather(
        *(_open(port, "POST", "/stream", b"{}", "application/jsonl") for _ in range(n))
    )
    counts = await asyncio.gather(*(_count_until_result(r, w) for r, w in opened))
    seconds = time.perf_counter() - start
    return Level(n, sum(1 for c in counts if c >= EVENTS_PER_STREAM), sum(counts), seconds)


async def memory_level(n: int) -> Level:
    item: dict[str, object] = {"type": "message", "data": {"type": "token", "data": {"token": "alpha "}}}
    received = [0] * n

    async def produce(send: anyio.abc.ObjectSendStream[dict[str, object]]) -> None:
        async with send:
            for _ in range(EVENTS_PER_STREAM):
                await send.send(item)

    async def consume(i: int, receive: anyio.abc.ObjectReceiveStream[dict[str, object]]) -> None:
        async with receive:
            async for _ in receive:
                received[i] += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(n):
            send, receive = anyio.create_memory_object_stream[dict[str, object]](EVENTS_PER_STREAM)
            tg.start_soon(consume, i, receive)
            tg.start_soon(produce, send)
    seconds = time.perf_counter() - start
    return Level(n, sum(1 for r in received if r == EVENTS_PER_STREAM), sum(received), seconds)


# -- the servers, each in a process of its own ----------------------------------------------------------------


def _baseline_app() -> object:
    item = {"type": "message", "data": {"type": "token", "data": {"token": "alpha "}}}
    lines = [json.dumps(item, separators=(",", ":")).encode() + b"\n" for _ in range(EVENTS_PER_STREAM - 1)]
    lines.append(b'{"type":"message","data":{"type":"result","data":{"text":"x"}}}\n')
    body = b'{"type":"nop","data":{}}\n' + b"".join(lines)

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert callable(receive) and callable(send)
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/jsonl")],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _serve_baseline() -> None:
    from orchestrator.local._server import EmbeddedServer, bind_socket

    sock = bind_socket("127.0.0.1", 0)
    server = EmbeddedServer(_baseline_app())  # type: ignore[arg-type]
    print(f"serving at http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                server.stop()
                return


def _start(command: list[str]) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if " at http://" not in line:
        process.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    port = int(line.split(" at http://")[1].split()[0].split(":")[1].rstrip("/"))
    return process, port


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- report ---------------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(name: str, level: Level) -> str:
    return (
        f"{name:<9} {level.streams:>7} {level.ok:>7} {level.seconds:>9.3f} {level.streams / level.seconds:>10.0f} "
        f"{level.events_per_second:>12.0f}"
    )


async def run(levels: list[int], time_scale: float | None) -> int:
    command = [
        sys.executable,
        "-m",
        "orchestrator.cli",
        "platform",
        "serve",
        "--port",
        "0",
        "--token",
        _TOKEN,
    ]
    if time_scale:
        command += ["--time-scale", str(time_scale)]
    platform, platform_port = _start(command)
    baseline, baseline_port = _start([sys.executable, __file__, "--baseline-server"])
    failures = 0
    sustained = 0
    events = f"{TOKENS} tokens per dispatch ({EVENTS_PER_STREAM} channel events)"
    print(f"local platform bench: {events}, cpus={os.cpu_count()}")
    print(f"{'path':<9} {'streams':>7} {'ok':>7} {'seconds':>9} {'streams/s':>10} {'events/s':>12}")
    try:
        await platform_level(platform_port, 20)  # warm-up: imports, first connections
        for n in levels:
            memory = await memory_level(n)
            raw_before = _cpu_seconds(baseline.pid)
            raw = await uvicorn_level(baseline_port, n)
            raw_cpu = _cpu_seconds(baseline.pid)
            cpu_before = _cpu_seconds(platform.pid)
            local = await platform_level(platform_port, n)
            cpu_after = _cpu_seconds(platform.pid)
            for name, level in (("memory", memory), ("uvicorn", raw), ("platform", local)):
                print(_row(name, level))
            ratio = (
                raw.events_per_second / local.events_per_second if local.events_per_second else float("inf")
            )
            print(f"{'':<9} platform events/s = 1/{ratio:.2f} of bare uvicorn streaming at {n} streams")
            if None not in (cpu_before, cpu_after, raw_before, raw_cpu):
                used = (cpu_after or 0.0) - (cpu_before or 0.0)
                floor = (raw_cpu or 0.0) - (raw_before or 0.0)
                print(
                    f"{'':<9} server CPU per stream: platform {used / n * 1e3:.2f} ms (2 requests + the run, "
                    f"busy {used / local.seconds:.0%} of the wall time), bare uvicorn {floor / n * 1e3:.2f} ms"
                )
            failures += local.streams - local.ok
            if local.ok == local.streams:
                sustained = n
    finally:
        _stop(platform)
        _stop(baseline)
    print(f"sustained: {sustained} concurrent dispatch streams, every event delivered")
    if failures:
        print(f"{failures} platform streams did not deliver every event", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--levels", default="100,500,1000,2000", help="comma-separated concurrent stream counts"
    )
    parser.add_argument(
        "--time-scale", type=float, default=None, help="serve with a VirtualClock at N x real time"
    )
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        anyio.run(_serve_baseline)
        return 0
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    return anyio.run(run, levels, args.time_scale)


if __name__ == "__main__":
    sys.exit(main())
