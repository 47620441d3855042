"""The supervisors' logger, and the one-line excerpt their logs and events quote."""

from __future__ import annotations

import structlog

__all__ = ["excerpt", "log"]

log = structlog.get_logger("orchestrator.supervise")


def excerpt(text: str, limit: int = 200) -> str:
    """The start of ``text``, on one line, for logs and events."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
