"""Capturing the library's structlog events in tests (structlog's own ``capture_logs``)."""

from __future__ import annotations

from structlog.testing import capture_logs

__all__ = ["capture_logs"]
