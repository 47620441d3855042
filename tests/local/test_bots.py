"""Bots (reference §8): create, fetch, list, update, delete, and what names one."""

from __future__ import annotations

import httpx
import pytest

from orchestrator._errors import NotFoundError
from orchestrator.platform import PlatformClient


async def test_bot_crud(client: PlatformClient) -> None:
    """A bot is created with its fields, fetched, listed (with meta filters), updated and deleted."""
    bot_id = await client.bots.create(
        {
            "name": "support",
            "backstory": "You help.",
            "model": "gpt-x",
            "privacy": True,
            "meta": {"team": "a"},
        }
    )
    bot = await client.bots.fetch(bot_id)
    assert (bot.name, bot.backstory, bot.model, bot.meta) == ("support", "You help.", "gpt-x", {"team": "a"})
    assert bot.raw["privacy"] is True
    await client.bots.create({"name": "other", "meta": {"team": "b"}})
    assert [b.id async for b in client.bots.list(meta={"team": "a"})] == [bot_id]
    assert await client.bots.update(bot_id, {"backstory": "You help kindly."}) == bot_id
    assert (await client.bots.fetch(bot_id)).backstory == "You help kindly."
    assert await client.bots.delete(bot_id) == bot_id
    with pytest.raises(NotFoundError):
        await client.bots.fetch(bot_id)


async def test_bot_validation_and_unknown_ids(raw: httpx.AsyncClient) -> None:
    """Wrong field types are 400; unknown bot ids are 404 on fetch, update and delete."""
    bad = await raw.post("/bot/create", json={"privacy": "yes"})
    assert bad.json() == {"message": "privacy must be a boolean, got a string", "code": "BAD_REQUEST"}
    for method, path in (("GET", "/bot/x/fetch"), ("POST", "/bot/x/update"), ("POST", "/bot/x/delete")):
        response = await raw.request(method, path)
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
