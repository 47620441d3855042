"""Conversations, messages, list conventions (cursor, take, order, meta, JSONL), monitor, auth, prefixes."""

from __future__ import annotations

import json

import httpx
import pytest

from orchestrator._clock import VirtualClock, move_on_after
from orchestrator._errors import AuthenticationError, NotFoundError
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient

from ._util import ask, channel_id, dispatch_and_collect


async def test_conversation_crud(client: PlatformClient) -> None:
    """Create, fetch, update and delete a conversation; fetch after delete is 404."""
    bot_id = await client.bots.create({"name": "helper"})
    created = await client.conversations.create({"name": "c1", "botId": bot_id, "meta": {"team": "a"}})
    fetched = await client.conversations.fetch(created.id)
    assert fetched.bot_id == bot_id
    assert fetched.meta == {"team": "a"}
    assert isinstance(fetched.created_at, int)
    await client.conversations.update(created.id, {"description": "updated", "expiresAt": None})
    assert (await client.conversations.fetch(created.id)).raw.get("description") == "updated"
    await client.conversations.update(created.id, {"expiresAt": 1})  # in the past: deleted at once
    with pytest.raises(NotFoundError):
        await client.conversations.fetch(created.id)
    created = await client.conversations.create({})
    await client.conversations.delete(created.id)
    with pytest.raises(NotFoundError):
        await client.conversations.fetch(created.id)


async def test_create_with_messages_and_unknown_bot(raw: httpx.AsyncClient) -> None:
    """Create returns stored messages; naming an unknown bot is 404 NOT_FOUND."""
    response = await raw.post("/conversation/create", json={"messages": [{"type": "user", "text": "hi"}]})
    body = response.json()
    assert body["messages"][0]["type"] == "user"
    missing = await raw.post("/conversation/create", json={"botId": "nobody"})
    assert missing.status_code == 404
    assert missing.json() == {"message": "Bot 'nobody' not found", "code": "NOT_FOUND"}


async def test_list_pages_with_cursor_take_and_order(raw: httpx.AsyncClient) -> None:
    """JSON lists page by ``cursor`` (last item id), ``take``, ``order``; an empty page has no cursor."""
    ids = [(await raw.post("/conversation/create", json={})).json()["id"] for _ in range(5)]
    page = (await raw.get("/conversation/list", params={"take": 2})).json()
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    assert page["cursor"] == page["items"][-1]["id"]
    second = (await raw.get("/conversation/list", params={"take": 2, "cursor": page["cursor"]})).json()
    assert [c["id"] for c in second["items"]] == ids[::-1][2:4]
    ascending = (await raw.get("/conversation/list", params={"order": "asc", "take": 3})).json()
    assert [c["id"] for c in ascending["items"]] == ids[:3]
    end = (await raw.get("/conversation/list", params={"order": "asc", "cursor": ids[-1]})).json()
    assert end == {"items": []}
    bad = await raw.get("/conversation/list", params={"order": "sideways"})
    assert bad.status_code == 400


async def test_take_is_clamped_and_defaults(raw: httpx.AsyncClient) -> None:
    """``take`` defaults to 100, is capped at 100, and 0 or garbage means the default."""
    for _ in range(3):
        await raw.post("/bot/create", json={})
    for take in ("0", "abc", "1000"):
        assert len((await raw.get("/bot/list", params={"take": take})).json()["items"]) == 3


async def test_meta_filters(client: PlatformClient, raw: httpx.AsyncClient) -> None:
    """``meta.k=v`` filters lists (booleans as true/false; ``meta[k]`` also accepted)."""
    await client.conversations.create({"meta": {"project": "x", "urgent": True}})
    await client.conversations.create({"meta": {"project": "y"}})
    found = [c async for c in client.conversations.list(meta={"project": "x"})]
    assert len(found) == 1
    flagged = (await raw.get("/conversation/list", params={"meta.urgent": "true"})).json()["items"]
    assert len(flagged) == 1
    brackets = (await raw.get("/conversation/list", params={"meta[project]": "y"})).json()["items"]
    assert brackets[0]["meta"] == {"project": "y"}


async def test_jsonl_list_auto_paginates(raw: httpx.AsyncClient) -> None:
    """A JSONL list streams every record as ``{type: item, data}``; ``take`` caps the total."""
    for _ in range(105):
        await raw.post("/bot/create", json={})
    headers = {"accept": "application/jsonl"}
    lines = (await raw.get("/bot/list", headers=headers)).text.splitlines()
    assert len(lines) == 105
    assert json.loads(lines[0])["type"] == "item"
    capped = (await raw.get("/bot/list", params={"take": 7}, headers=headers)).text.splitlines()
    assert len(capped) == 7
    sse = (await raw.get("/bot/list", params={"take": 1}, headers={"accept": "text/event-stream"})).text
    assert sse.startswith("event: item\ndata: {")


async def test_messages_page_and_crud(client: PlatformClient, raw: httpx.AsyncClient) -> None:
    """Messages page with cursors; create, fetch, update and delete a message."""
    conversation = await client.conversations.create({})
    for i in range(5):
        await client.conversations.create_message(conversation.id, {"type": "user", "text": f"m{i}"})
    texts = [m.text async for m in client.conversations.messages(conversation.id, take=2, order="asc")]
    assert texts == [f"m{i}" for i in range(5)]
    base = f"/conversation/{conversation.id}/message"
    created = (
        await raw.post(base + "/create", json={"type": "context", "text": "note", "meta": {"k": 1}})
    ).json()
    assert created["entities"] == []
    await raw.post(f"{base}/{created['id']}/update", json={"text": "edited"})
    fetched = (await raw.get(f"{base}/{created['id']}/fetch")).json()
    assert (fetched["type"], fetched["text"], fetched["meta"]) == ("context", "edited", {"k": 1})
    await raw.post(f"{base}/{created['id']}/delete")
    assert (await raw.get(f"{base}/{created['id']}/fetch")).status_code == 404
    bad = await raw.post(base + "/create", json={"type": "user"})
    assert bad.json()["message"] == "text is required (a string)"
    assert (await raw.get("/conversation/nope/message/list")).status_code == 404


async def test_monitor_streams_engine_events(client: PlatformClient, clock: VirtualClock) -> None:
    """The conversation monitor carries completeBegin/End, message and error events, not tokens."""
    conversation = await client.conversations.create({})
    await dispatch_and_collect(
        client, {"text": "[[tokens 3]] hi"}, conversation_id=conversation.id, channel_id=channel_id()
    )
    seen = []
    async with client.conversations.monitor(conversation.id, history_length=100) as events:
        assert (await events.__anext__()).type == "nop"
        async with move_on_after(clock, 60):
            async for event in events:
                inner = event.inner()
                assert inner is not None
                seen.append(inner.type)
                if inner.type == "completeEnd":
                    break
    assert seen == ["completeBegin", "completeEnd"]
    async with client.conversations.monitor(conversation.id, history_length=1, format="sse") as events:
        await events.__anext__()
        last = (await events.__anext__()).inner()
    assert last is not None
    assert last.type == "message"
    assert last.data["type"] == "bot"
    assert isinstance(last.created_at, int)


async def test_conversation_expires(raw: httpx.AsyncClient, clock: VirtualClock) -> None:
    """A conversation with ``expiresAt`` is deleted when the platform clock reaches it."""
    expires = int((clock.time() + 3600) * 1000)
    conversation = (await raw.post("/conversation/create", json={"expiresAt": expires})).json()["id"]
    await clock.sleep(3601)
    assert (await raw.get(f"/conversation/{conversation}/fetch")).status_code == 404


async def test_auth_is_required(platform: LocalPlatform) -> None:
    """Without a valid Bearer token every endpoint answers 401 NOT_AUTHENTICATED."""
    async with httpx.AsyncClient(base_url=platform.base_url) as anonymous:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic abc"}):
            response = await anonymous.get("/api/v1/bot/list", headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "NOT_AUTHENTICATED"
    async with PlatformClient(platform.base_url, "wrong-token", clock=platform.clock) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.bots.create({})


async def test_both_prefixes_and_unknown_paths(platform: LocalPlatform) -> None:
    """Every endpoint answers under /v1 and /api/v1; unknown paths are 404 and wrong methods 405, as JSON."""
    headers = {"authorization": f"Bearer {platform.token}"}
    async with httpx.AsyncClient(base_url=platform.base_url, headers=headers) as http:
        for prefix in ("/v1", "/api/v1"):
            response = await http.post(prefix + "/conversation/complete", json=ask("x"))
            assert response.json()["text"] == "Done: x"
        async with PlatformClient(platform.base_url, platform.token, api_prefix="/v1") as v1:
            assert (await v1.conversations.complete(ask("y"))).text == "Done: y"
        missing = await http.get("/api/v1/nothing/here")
        assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
        wrong = await http.get("/api/v1/conversation/complete")
        assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
