"""``orchestrator platform ...``: run the local platform."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Literal

import anyio
import click

from ..local import serve
from ._params import FiniteFloatRange, not_blank

__all__ = ["platform"]


@click.group("platform")
def platform() -> None:
    """The local platform: the ChatBotKit wire protocol served offline, with a simulated agent."""


@platform.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, callback=not_blank, help="Interface to listen on."
)
@click.option(
    "--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--token",
    default=None,
    callback=not_blank,
    help="API token clients must send (generated and printed when omitted).",
)
@click.option(
    "--time-scale",
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help="Run the platform clock N times faster than real time.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file keeping conversations, bots, tasks, executions and messages across restarts.",
)
@click.option(
    "--ceiling-kill",
    type=click.Choice(["silent", "error"]),
    default="silent",
    show_default=True,
    help="How a dispatch run is killed at the 15-minute ceiling.",
)
@click.option(
    "--ceiling",
    type=FiniteFloatRange(min=0, min_open=True),
    default=900.0,
    show_default=True,
    help="Dispatch ceiling in seconds.",
)
def serve_command(
    host: str,
    port: int,
    token: str | None,
    time_scale: float | None,
    state_path: Path | None,
    ceiling_kill: str,
    ceiling: float,
) -> None:
    """Serve the local platform until Ctrl-C."""
    kill: Literal["silent", "error"] = "error" if ceiling_kill == "error" else "silent"
    runner = partial(
        serve,
        host=host,
        port=port,
        token=token,
        time_scale=time_scale,
        state_path=state_path,
        ceiling_kill=kill,
        ceiling=timedelta(seconds=ceiling),
        echo=partial(click.echo, err=False),
    )
    try:
        anyio.run(runner)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from exc
    click.echo("Local platform stopped.")
