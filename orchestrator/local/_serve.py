"""``orchestrator platform serve``: the local platform as a process, until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

import anyio

from .._clock import Clock, SystemClock, VirtualClock
from ._platform import LocalPlatform

__all__ = ["serve", "token_hint"]


def token_hint(token: str) -> str:
    """Enough of a token to recognise it, never enough to use it."""
    return f"...{token[-4:]}" if len(token) >= 12 else "(short token)"


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    token: str | None = None,
    time_scale: float | None = None,
    state_path: str | Path | None = None,
    ceiling_kill: Literal["silent", "error"] = "silent",
    ceiling: timedelta = timedelta(minutes=15),
    echo: Callable[[str], None] = print,
    started: Callable[[LocalPlatform], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve the local platform until SIGINT/SIGTERM (or until cancelled).

    Args:
        host: the interface (loopback by default; anything else exposes the platform to the network).
        port: the port (0: a free one, printed).
        token: the API token clients must send; generated and printed once when omitted.
        time_scale: run the platform clock this many times faster than real time (``VirtualClock``).
        state_path: a SQLite file keeping the platform's records across restarts.
        ceiling_kill: how dispatch runs are killed at the ceiling: ``"silent"`` or ``"error"``.
        ceiling: the dispatch ceiling.
        echo: where the startup lines go (stdout by default).
        started: called with the platform once it serves.
        handle_signals: stop cleanly on SIGINT/SIGTERM (main thread only).
    """
    clock: Clock = VirtualClock(time_scale=time_scale) if time_scale else SystemClock()
    platform = LocalPlatform(
        clock=clock,
        token=token,
        host=host,
        port=port,
        state=state_path,
        ceiling_kill=ceiling_kill,
        ceiling=ceiling,
    )
    async with platform as p, anyio.create_task_group() as tg:
        echo(f"Local platform serving at {p.base_url} (API under {p.base_url}/api/v1)")
        if p.token_generated:
            echo(f"Token (generated, shown once): {p.token}")
        else:
            echo(f"Token: the one given with --token ({token_hint(p.token)})")
        if time_scale:
            echo(f"Clock: virtual, {time_scale:g}x real time")
        if state_path is not None:
            echo(f"State: {state_path}")
        echo(f"Use it: export CHATBOTKIT_BASE_URL={p.base_url} CHATBOTKIT_API_TOKEN=<token>; Ctrl-C stops.")
        if started is not None:
            started(p)
        if handle_signals:
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
        await anyio.sleep_forever()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return
