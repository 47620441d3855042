"""The hardening suites print their figures at the end of the run: inputs per surface, refused, broken."""

from __future__ import annotations

import pytest

from ._tally import FIGURES, TALLY


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
