"""A client written only from the reference (raw httpx, ``/api/v1`` paths, ``accept: application/jsonl``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_reference_client_end_to_end(platform: LocalPlatform, clock: VirtualClock) -> None:
    """Bot + task, trigger, execution list, then a dispatch with a channelId read back from its channel."""
    headers = {"authorization": f"Bearer {platform.token}", "accept": "application/jsonl"}
    async with httpx.AsyncClient(base_url=platform.base_url, headers=headers) as http:
        bot = await http.post("/api/v1/bot/create", json={"name": "ref-bot", "backstory": "You help."})
        assert bot.status_code == 200
        bot_id = bot.json()["id"]
        task = await http.post(
            "/api/v1/task/create", json={"name": "ref", "description": "Check the feed", "botId": bot_id}
        )
        task_id = task.json()["id"]
        assert (await http.post(f"/api/v1/task/{task_id}/trigger", json={})).json() == {"id": task_id}
        await clock.sleep(30)
        executions = _lines((await http.get(f"/api/v1/task/{task_id}/execution/list")).text)
        assert [e["type"] for e in executions] == ["item"]
        execution = executions[0]["data"]
        assert (execution["status"], execution["outcome"], execution["summary"]) == (
            "idle",
            "success",
            "Done: Check the feed",
        )
        assert execution["completedAt"].endswith("Z")

        channel = uuid.uuid4().hex
        body = {
            "botId": bot_id,
            "messages": [{"type": "user", "text": "Ping the feed"}],
            "channelId": channel,
        }
        dispatched = await http.post("/api/v1/conversation/dispatch", json=body)
        assert dispatched.json() == {"channelId": channel}
        result = None
        async with http.stream(
            "POST", f"/api/v1/channel/{channel}/subscribe", json={"historyLength": 1000}
        ) as stream:
            assert stream.headers["content-type"].startswith("application/jsonl")
            async for line in stream.aiter_lines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if item["type"] == "message" and item["data"]["type"] in ("result", "error"):
                    result = item["data"]
                    break
        assert result == {
            "type": "result",
            "data": {"text": "Done: Ping the feed", "usage": {"token": 7}, "end": {"reason": "stop"}},
        }
