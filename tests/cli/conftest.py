"""Fixtures for the CLI tests: logging restored after each test, a CLI runner that runs off the event loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import anyio.to_thread
import pytest
import structlog
from click.testing import CliRunner, Result

from orchestrator.cli import main

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures structlog and the root logger globally: put both back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def invoke() -> Invoke:
    """Run ``orchestrator ARGS`` in this thread (for tests without a running event loop)."""

    def run(args: Sequence[str], env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(
            main, list(args), env={"COLUMNS": "220", **(env or {})}, catch_exceptions=False
        )

    return run


async def invoke_in_thread(args: Sequence[str], env: dict[str, str] | None = None) -> Result:
    """Run ``orchestrator ARGS`` in a worker thread, so that the command's own event loop does not meet the test's
    (and the test's local platform keeps serving meanwhile)."""

    def run() -> Result:
        return CliRunner().invoke(
            main, list(args), env={"COLUMNS": "220", **(env or {})}, catch_exceptions=False
        )

    return await anyio.to_thread.run_sync(run)
