"""uvicorn, embedded: serves an ASGI app on a socket we bound, inside a task group we own.

:class:`EmbeddedServer` is a ``uvicorn.Server`` that leaves signals to the host application (an embedded
server must not take over Ctrl-C), stops as soon as asked (no 0.1 s polling of ``should_exit``), and on
shutdown gives open requests a short grace period before cancelling them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from .._clock import SystemClock, move_on_after
from ._wire import InjectedDrop

__all__ = ["EmbeddedServer", "bind_socket", "quiet_injected_drops"]

_GRACE = 1.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the proto says TCP;
    # without it Nagle's algorithm meets delayed ACKs and small stream writes wait ~40 ms
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging the tracebacks of streams broken on purpose (fault injection)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDrop)


_FILTER = _DropFilter()


def quiet_injected_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


class EmbeddedServer(uvicorn.Server):
    """A ``uvicorn.Server`` for embedding (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, log_level: str = "warning") -> None:
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,  # a library leaves the host's logging configuration alone
            log_level=log_level,
            access_log=False,
            server_header=False,
            date_header=False,
            timeout_keep_alive=30,
        )
        super().__init__(config)
        self._stop = asyncio.Event()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)
        await self._stop.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        tasks = list(self.server_state.tasks)
        if tasks:
            async with move_on_after(SystemClock(), _GRACE):
                await asyncio.wait(tasks)
        for task in self.server_state.tasks:
            task.cancel()
        if self.server_state.tasks:
            await asyncio.wait(list(self.server_state.tasks))
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
        for server in self.servers:
            await server.wait_closed()
