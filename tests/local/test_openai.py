"""``OpenAIChatAgent`` against a loopback fake of an OpenAI-compatible ``/chat/completions`` API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform, OpenAIChatAgent
from orchestrator.local._server import bind_socket

from ._util import ask, channel_id, function, serve_app
from .conftest import hosted
from .test_tools import serve_tools


def _chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict[str, int] | None = None
) -> str:
    body: dict[str, Any] = {
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    }
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


class FakeOpenAI:
    """Calls ``lookup`` once, then answers with the tool's result; model ``broken`` fails with 500."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.auth.append(request.headers.get("authorization"))
        if body["model"] == "broken":
            return JSONResponse({"error": {"message": "model exploded"}}, status_code=500)
        tool_results = [m for m in body["messages"] if m["role"] == "tool"]
        if body.get("tools") and not tool_results:
            parts = [
                _chunk(
                    {
                        "role": "assistant",
                        "tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "lookup"}}],
                    }
                ),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"id":'}}]}),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 7}"}}]}, finish="tool_calls"),
            ]
        else:
            answer = (
                f"The answer is {tool_results[-1]['content']}" if tool_results else "Hello from the model"
            )
            words = answer.split(" ")
            parts = [
                _chunk({"content": w + (" " if i < len(words) - 1 else "")}) for i, w in enumerate(words)
            ]
            parts += [
                _chunk({}, finish="stop"),
                _chunk(usage={"prompt_tokens": 11, "completion_tokens": len(words)}),
            ]
        parts.append("data: [DONE]\n\n")

        async def stream() -> AsyncIterator[str]:
            for part in parts:
                yield part

        return StreamingResponse(stream(), media_type="text/event-stream")


async def test_model_reply_streams_tokens() -> None:
    """Content deltas become tokens; usage comes from the usage chunk; the backstory is a system message."""
    fake = FakeOpenAI()
    async with serve_app(fake.app) as url:
        agent = OpenAIChatAgent(url + "/v1", "fake-1", api_key="sk-test")
        assert "sk-test" not in repr(agent)
        platform = LocalPlatform(clock=VirtualClock(), agent=agent)
        async with (
            hosted(platform),
            platform.client() as client,
            client.conversations.stream(ask("hi", backstory="Be brief.")) as events,
        ):
            seen = [e async for e in events]
    assert [e.data["token"] for e in seen if e.type == "token"] == ["Hello ", "from ", "the ", "model"]
    usage = next(e.data for e in seen if e.type == "usage")
    assert usage == {"model": "fake-1", "inputTokensUsed": 11, "outputTokensUsed": 4}
    assert seen[-1].data["text"] == "Hello from the model"
    assert fake.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert fake.requests[0]["stream"] is True
    assert fake.auth == ["Bearer sk-test"]


async def test_tool_calls_map_to_platform_functions() -> None:
    """A model tool call runs the declared live function through its channel; its result goes to the model."""
    fake = FakeOpenAI()
    async with serve_app(fake.app) as url:
        agent = OpenAIChatAgent(url + "/v1", "fake-1")
        async with (
            hosted(LocalPlatform(clock=VirtualClock(), agent=agent)) as platform,
            platform.client() as client,
        ):
            declared = function("lookup", result={"channel": "lookup_" + channel_id()})
            channel = await client.conversations.dispatch(
                ask("find 7", functions=[declared]), channel_id=channel_id()
            )
            async with client.channels.subscribe(channel, history_length=100) as events:
                seen = await serve_tools(
                    client, events, lambda name, args: {"data": {"found": args["id"] * 6}}
                )
    assert seen[-1].type == "result"
    assert seen[-1].data["text"] == 'The answer is {"found": 42}'
    assert fake.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "the lookup tool",
                "parameters": declared["parameters"],
            },
        }
    ]
    second = fake.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"id": 7}'}
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": '{"found": 42}'}


async def test_model_errors_become_error_events() -> None:
    """An HTTP error from the model endpoint ends the run with an error event (code MODEL_ERROR)."""
    fake = FakeOpenAI()
    async with serve_app(fake.app) as url:
        agent = OpenAIChatAgent(url + "/v1", "broken")
        async with (
            hosted(LocalPlatform(clock=VirtualClock(), agent=agent)) as platform,
            platform.client() as client,
            client.conversations.stream(ask("hi")) as events,
        ):
            seen = [e async for e in events]
    assert seen[-1].type == "error"
    assert seen[-1].data["code"] == "MODEL_ERROR"
    assert "500" in seen[-1].data["message"]


async def test_unreachable_endpoint() -> None:
    """A model endpoint that refuses connections fails the run instead of crashing the platform."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    agent = OpenAIChatAgent(f"http://127.0.0.1:{port}/v1", "m")
    async with (
        hosted(LocalPlatform(clock=VirtualClock(), agent=agent)) as platform,
        platform.client() as client,
        client.conversations.stream(ask("hi")) as events,
    ):
        seen = [e async for e in events]
    assert seen[-1].data["code"] == "MODEL_ERROR"
