"""Loading the examples (a folder of scripts, not a package) and serving an ASGI app on loopback."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import uvicorn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` by path, as module ``examples_<name>`` (once)."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the example {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic and dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


class _Server(uvicorn.Server):
    """uvicorn for a test: no signal handlers, stops as soon as asked (no 0.1 s polling)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        self._ready.set()
        await self._stop.wait()

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` (with its lifespan) on a free 127.0.0.1 port; yield a client bound to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", access_log=False)
    server = _Server(config)
    try:
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                try:
                    await server.serve([sock])
                finally:
                    server._ready.set()  # also when the app failed to start

            tg.start_soon(run)
            await server._ready.wait()
            if not server.started:
                raise RuntimeError("the app did not start (its lifespan failed): see the log")
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    yield client
            finally:
                server.stop()
    finally:
        sock.close()


@asynccontextmanager
async def in_process(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan (ASGITransport does not) and yield a client calling it in process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://example") as client,
    ):
        yield client
