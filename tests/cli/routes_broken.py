"""A module whose job declaration no route can hold: importing it raises RoutingError."""

from __future__ import annotations

from orchestrator import job


@job(route="dispatch", runtime="20m")
def impossible() -> str:
    """A forced dispatch longer than the 15-minute ceiling."""
    return "This cannot run as a dispatch"
