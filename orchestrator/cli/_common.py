"""What the commands share: the ``--store`` option, opening a store, errors that end a command, time formats."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import click
from rich.console import Console

from .._clock import SystemClock
from .._errors import OrchestratorError
from ..jobs import format_duration
from ..store import DEFAULT_STORE_URL, JobRecord, JobStore, MemoryStore, SQLiteStore, open_store
from ..store import ENV_VAR as STORE_ENV_VAR

__all__ = [
    "STORE_ENV_VAR",
    "CliError",
    "RefusedError",
    "echo_json",
    "fmt_duration",
    "fmt_time",
    "make_console",
    "opened_store",
    "record_duration",
    "run_async",
    "store_option",
]

T = TypeVar("T")
_PIPE_WIDTH = 200
F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """Ends a command with a message on stderr (no traceback) and exit status 1."""


class RefusedError(CliError):
    """Ends a command that was asked for something it cannot do (a dispatch to cancel, a bad target): exit 2."""

    exit_code = 2


def store_option(fn: F) -> F:
    """``--store URL``, from ``ORCHESTRATOR_STORE`` when not given, else the default SQLite file."""
    option = click.option(
        "--store",
        "store_url",
        envvar=STORE_ENV_VAR,
        default=DEFAULT_STORE_URL,
        show_default=True,
        metavar="URL",
        help=f"The job store: memory://, sqlite:///path or postgresql://... (env {STORE_ENV_VAR}).",
    )
    return option(fn)


@asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[JobStore]:
    """Open the store at ``url`` for reading and writing records, without creating a SQLite file that is not there.

    Raises:
        CliError: the URL is malformed, the SQLite file does not exist, or the store cannot be opened.
    """
    try:
        store = open_store(url, clock=SystemClock())
    except OrchestratorError as exc:
        raise CliError(f"bad store URL: {exc}") from exc
    if isinstance(store, SQLiteStore) and not store.path.exists():
        raise CliError(
            f"no job store at {store.path}: nothing has been recorded in {store.url} yet. Point --store "
            f"(or {STORE_ENV_VAR}) at the store your application uses"
        )
    if isinstance(store, MemoryStore):
        click.echo(
            "note: a memory:// store lives inside the process that runs the jobs; this command sees an empty one",
            err=True,
        )
    try:
        async with store:
            yield store
    except OrchestratorError as exc:
        # store failures (StoreError) and platform failures inside the block end the command with their message
        raise CliError(str(exc)) from exc


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; library errors become a message and exit status 1, never a traceback."""

    async def guarded() -> T:
        try:
            return await fn()
        except CliError:
            raise
        except OrchestratorError as exc:
            raise CliError(str(exc)) from exc

    return anyio.run(guarded)


def make_console(*, stderr: bool = False, wide: bool = False) -> Console:
    """A rich console on the current stdout (or stderr); plain when it is not a terminal.

    With ``wide``, output that goes to a pipe or a file is not cut to 80 columns (tables of ids stay whole), unless
    ``COLUMNS`` says otherwise.
    """
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if wide and not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = _PIPE_WIDTH
    return console


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def fmt_time(epoch: float | None) -> str:
    """``2026-03-23 07:00:05`` in UTC, or ``-``."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """``4m12s``, or ``-``."""
    return "-" if seconds is None or seconds < 0 else format_duration(seconds)


def record_duration(record: JobRecord) -> float | None:
    """How long a finished job ran (``finished_at - started_at``), else ``None``."""
    if record.started_at is None or record.finished_at is None:
        return None
    return max(0.0, record.finished_at - record.started_at)
