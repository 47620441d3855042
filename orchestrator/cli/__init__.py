"""The ``orchestrator`` command."""

from __future__ import annotations

import click

from ._platform import platform

__all__ = ["main"]


@click.group()
def main() -> None:
    """orchestrator: background agent work on the ChatBotKit platform (or the local one)."""


main.add_command(platform)
