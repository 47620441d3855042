"""The hardening suites' platform fixture, and their figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orchestrator import VirtualClock
from orchestrator.local import LocalPlatform

from .._token import SUITE_TOKEN
from ._tally import FIGURES, TALLY


@pytest.fixture
async def platform() -> AsyncIterator[LocalPlatform]:
    """A local platform on a virtual clock, with the suite's token, hosted in a task of its own."""
    from orchestrator.testing.fixtures import hosted

    async for p in hosted(LocalPlatform(clock=VirtualClock(), token=SUITE_TOKEN)):
        yield p


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY and not FIGURES:
        return
    terminalreporter.write_sep("-", "hardening figures")
    if TALLY:
        terminalreporter.write_line(
            f"{'surface':<44} {'tried':>8} {'refused':>8} {'accepted':>8} {'broken':>7}"
        )
        for surface in sorted(TALLY):
            c = TALLY[surface]
            terminalreporter.write_line(
                f"{surface:<44} {c.tried:>8} {c.refused:>8} {c.accepted:>8} {c.broken:>7}"
            )
            for note in c.notes[:5]:
                terminalreporter.write_line(f"    broken: {note}", red=True)
    for name in sorted(FIGURES):
        terminalreporter.write_line(f"{name}: {FIGURES[name]}")
