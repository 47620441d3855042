"""Logging for the ``orchestrator`` command: the only place that configures structlog (the library never does).

Every structlog event of the library (``job_id``, ``route``, ``channel_id``, ``task_id`` bound to it) and every
stdlib record (uvicorn's, for the local platform) goes through one handler on the root logger and comes out on
stderr, rendered for a person (``console``) or as one JSON object a line (``json``).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import Processor

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "LogFormat", "configure_logging"]

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
_HANDLER_NAME = "orchestrator-cli"


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    A handler that captured ``sys.stderr`` once would write under a rich ``Live`` view (which swaps ``sys.stderr``
    for a proxy that prints above the view) and under click's test runner; looking it up per record keeps both
    working.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self._stream or sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never break the command; stdlib reports it the usual way
            self.handleError(record)


def configure_logging(
    *, fmt: LogFormat = "console", level: str = "warning", stream: TextIO | None = None
) -> None:
    """Configure structlog and stdlib logging for a CLI run (replacing an earlier call's handler).

    Args:
        fmt: ``console`` (human, coloured on a terminal) or ``json`` (one object per line).
        level: the lowest level shown: ``debug``, ``info``, ``warning`` or ``error``.
        stream: where to write; the current ``sys.stderr`` of each record by default.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer: Processor
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final.append(structlog.processors.dict_tracebacks)
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        target = stream or sys.stderr
        renderer = structlog.dev.ConsoleRenderer(colors=_is_tty(target))
    handler = _StderrHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[*final, renderer])
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
