"""Serve a dashboard app with uvicorn on a socket bound here, inside the caller's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve_dashboard"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host application owns the signals
        pass


@asynccontextmanager
async def serve_dashboard(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8788) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (port 0: a free one) for the block; yields its base URL.

    Raises:
        OSError: the address cannot be bound (in use, or not an address of this machine).
    """
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, log_level="warning", access_log=False, server_header=False
    )
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="dashboard server")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the start-up failure
                raise OSError(f"the dashboard server on {host}:{port} stopped while starting")
            await asyncio.sleep(0.01)
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        try:
            await asyncio.shield(task)
        finally:
            sock.close()
