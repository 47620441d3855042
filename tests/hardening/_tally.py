"""The hardening suites' figures: inputs tried per surface, how many were refused cleanly, how many broke.

Printed at the end of the test run (``tests/hardening/conftest.py``); a broken input also fails its test.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Counts:
    tried: int = 0
    refused: int = 0
    accepted: int = 0
    broken: int = 0
    notes: list[str] = field(default_factory=list)


TALLY: defaultdict[str, Counts] = defaultdict(Counts)
FIGURES: dict[str, str] = {}


def tried(surface: str, *, refused: bool) -> None:
    """Count one input on ``surface``: refused with a clear error, or accepted."""
    counts = TALLY[surface]
    counts.tried += 1
    if refused:
        counts.refused += 1
    else:
        counts.accepted += 1


def broken(surface: str, note: str) -> None:
    """Count one input that broke something (the test fails too)."""
    counts = TALLY[surface]
    counts.tried += 1
    counts.broken += 1
    counts.notes.append(note)


def figure(name: str, text: str) -> None:
    """A fault-suite figure (``10000 events, 0 gaps, 0 duplicates``), printed with the table."""
    FIGURES[name] = text
