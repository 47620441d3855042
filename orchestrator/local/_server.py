"""uvicorn, embedded: serves an ASGI app on a socket we bound, inside a task group we own.

:class:`EmbeddedServer` is a ``uvicorn.Server`` that leaves signals to the host application (an embedded
server must not take over Ctrl-C), stops as soon as asked (no 0.1 s polling of ``should_exit``), and on
shutdown gives open requests a short grace period before cancelling them.

Cancelled instead of stopped, it still shuts down (at once, without the grace period) before the cancellation goes
on. uvicorn's own ``serve`` skips its shutdown when cancelled, which leaves the asyncio server's listening socket
registered with the event loop's selector; once that socket is closed, the next socket bound in the process
usually gets the same file descriptor, and a server started on it never accepts a connection (the selector
believes it already watches that descriptor, so it never tells the kernel about the new socket).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
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
        self._shut_down = False

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        finally:
            if not self._shut_down:  # cancelled (or failed) before uvicorn's call to shutdown
                await self.shutdown(sockets, grace=0.0)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # shielded: cancelled inside ``loop.create_server``, the listener would serve without being in ``servers``
        with anyio.CancelScope(shield=True):
            await super().startup(sockets)

    async def main_loop(self) -> None:
        await self.on_tick(0)
        await self._stop.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None, *, grace: float = _GRACE) -> None:
        """Stop listening, give open requests ``grace`` seconds, cancel the rest, close every connection.

        Shielded, so that it completes under cancellation too; it is bounded by ``grace``.
        """
        self._shut_down = True
        with anyio.CancelScope(shield=True):
            for server in getattr(self, "servers", []):  # set by startup
                server.close()  # unregisters the listening socket from the event loop, then closes it
            for sock in sockets or []:
                sock.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()
            tasks = list(self.server_state.tasks)
            if tasks and grace > 0:
                async with move_on_after(SystemClock(), grace):
                    await asyncio.wait(tasks)
            for task in self.server_state.tasks:
                task.cancel()
            if self.server_state.tasks:
                await asyncio.wait(list(self.server_state.tasks))
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.close()
            for server in getattr(self, "servers", []):
                await server.wait_closed()
