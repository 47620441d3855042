"""The ``orchestrator`` command: ``demo``, ``dashboard``, ``jobs``, ``routes`` and ``platform serve``.

The command configures logging (structlog and stdlib, ``--log-format console|json``, ``--log-level``); the library
never does.
"""

from __future__ import annotations

import click

from ._dashboard import dashboard
from ._demo_view import demo
from ._jobs import jobs
from ._logging import LOG_FORMATS, LOG_LEVELS, configure_logging
from ._platform import platform
from ._routes import routes

__all__ = ["main"]


@click.group()
@click.version_option(package_name="orchestrator", prog_name="orchestrator")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="console",
    show_default=True,
    envvar="ORCHESTRATOR_LOG_FORMAT",
    help="How log lines on stderr look: for people, or one JSON object per line (env ORCHESTRATOR_LOG_FORMAT).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="warning",
    show_default=True,
    envvar="ORCHESTRATOR_LOG_LEVEL",
    help="The lowest level logged (env ORCHESTRATOR_LOG_LEVEL).",
)
def main(log_format: str, log_level: str) -> None:
    """orchestrator: background agent work on the ChatBotKit platform (or the local one)."""
    configure_logging(fmt="json" if log_format == "json" else "console", level=log_level.lower())


main.add_command(dashboard)
main.add_command(demo)
main.add_command(jobs)
main.add_command(platform)
main.add_command(routes)
