"""``client.bots``: the agent configurations that tasks and conversations point to (reference §8)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ._http import HttpCore
from ._pagination import pages
from ._records import Bot
from ._wire import object_body, returned_id, segment

__all__ = ["Bots"]


class Bots:
    """Bot endpoints. Reached as ``client.bots``."""

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    async def create(self, body: Mapping[str, Any]) -> str:
        """Create a bot (``name``, ``backstory``, ``model``, ``meta``, ...); returns its id. Never retried."""
        return returned_id(
            await self._http.call("POST", "/bot/create", body=object_body(body)), what="bot create"
        )

    async def fetch(self, bot_id: str) -> Bot:
        """Fetch one bot.

        Raises:
            NotFoundError: no bot has that id.
        """
        bid = segment(bot_id, "bot_id")
        return Bot.from_wire(await self._http.call("GET", f"/bot/{bid}/fetch", retry=True))

    async def list(
        self, *, meta: Mapping[str, Any] | None = None, take: int | None = None, order: str | None = None
    ) -> AsyncIterator[Bot]:
        """Every bot, page after page; ``meta`` filters (``meta.k=v``), ``take`` is the page size."""
        async for item in pages(self._http, "/bot/list", {"meta": meta, "order": order}, take=take):
            yield Bot.from_wire(item)

    async def update(self, bot_id: str, body: Mapping[str, Any]) -> str:
        """Update a bot; returns its id. Retried: setting the same fields twice is harmless."""
        bid = segment(bot_id, "bot_id")
        answer = await self._http.call("POST", f"/bot/{bid}/update", body=object_body(body), retry=True)
        return returned_id(answer, bot_id, what="bot update")

    async def delete(self, bot_id: str) -> str:
        """Delete a bot; returns its id. Retried; a 404 on a retry means the earlier attempt deleted it."""
        bid = segment(bot_id, "bot_id")
        answer = await self._http.call("POST", f"/bot/{bid}/delete", retry=True, done_if_missing=True)
        return returned_id(answer, bot_id, what="bot delete")
