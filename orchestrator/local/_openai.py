"""``OpenAIChatAgent``: the local platform's agent, backed by any OpenAI-compatible ``/chat/completions`` API.

The run's messages become chat messages (``user`` -> user, ``bot`` -> assistant, backstory/instruction/context
and tool activity -> system), its functions become ``tools``; the completion is streamed (content deltas
become ``token`` events) and each tool call goes through :meth:`RunContext.call`, so static results, live
channel tools and "no result ends the turn" behave exactly as with the simulated agent. The loop ends when the
model stops calling tools, or after ``limits.iterations`` (default ``max_iterations``) rounds with end reason
``iteration``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from ._agent import AgentFailure, AgentReply, AgentRequest, RunContext

__all__ = ["OpenAIChatAgent"]

_ROLES = {"user": "user", "bot": "assistant"}


@contextmanager
def _held(ctx: RunContext) -> Iterator[None]:
    # a VirtualClock must not autojump while the loop waits on the model's socket: that wait is real work
    hold = getattr(ctx.clock, "hold", None)
    if hold is None:
        yield
        return
    with hold():
        yield


class OpenAIChatAgent:
    """An :class:`~orchestrator.local.Agent` that asks an OpenAI-compatible chat endpoint.

    Args:
        base_url: the API base, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:11434/v1``;
            requests go to ``{base_url}/chat/completions``.
        model: the model name sent with every request (a bot's ``model`` overrides it).
        api_key: sent as ``authorization: Bearer``; never shown in reprs or errors.
        http_client: an ``httpx.AsyncClient`` to borrow (never closed here); one is created per run otherwise.
        max_iterations: model rounds per run when the request sets no ``limits.iterations``.
        timeout: seconds for connecting and between streamed chunks.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_iterations: int = 8,
        timeout: float = 120.0,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._client = http_client
        self._max_iterations = max_iterations
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"OpenAIChatAgent({self._url!r}, model={self.model!r})"

    @staticmethod
    def chat_messages(request: AgentRequest) -> list[dict[str, Any]]:
        """The run's input as chat messages."""
        out: list[dict[str, Any]] = []
        if request.bot.get("backstory"):
            out.append({"role": "system", "content": str(request.bot["backstory"])})
        if request.timezone:
            out.append({"role": "system", "content": f"The user's timezone is {request.timezone}."})
        for message in request.messages:
            kind = str(message.get("type"))
            text = str(message.get("text", ""))
            if kind in _ROLES:
                out.append({"role": _ROLES[kind], "content": text})
            elif kind == "activity":
                out.append({"role": "system", "content": f"Tool activity: {text}"})
            elif kind != "reasoning":
                out.append({"role": "system", "content": text})
        return out

    @staticmethod
    def tools(request: AgentRequest) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": f["name"],
                    "description": f.get("description", ""),
                    "parameters": f.get("parameters", {"type": "object", "properties": {}}),
                },
            }
            for f in request.functions
        ]

    async def run(self, request: AgentRequest, ctx: RunContext) -> AgentReply:
        messages = self.chat_messages(request)
        tools = self.tools(request)
        model = str(request.bot.get("model") or self.model)
        rounds = request.limits.get("iterations", self._max_iterations)
        used_in = used_out = 0
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(self._timeout))
        try:
            for _ in range(rounds):
                text, calls, usage = await self._round(client, model, messages, tools, ctx)
                used_in += usage.get("prompt_tokens", 0)
                used_out += usage.get("completion_tokens", 0)
                if not calls:
                    return AgentReply(ctx.output, used_in, used_out, "stop", model)
                messages.append({"role": "assistant", "content": text or None, "tool_calls": calls})
                for call in calls:
                    function = call["function"]
                    try:
                        args = json.loads(function["arguments"] or "{}")
                    except ValueError as exc:
                        raise AgentFailure(
                            f"the model called {function['name']} with invalid JSON: {exc}"
                        ) from exc
                    result = await ctx.call(
                        function["name"], args if isinstance(args, dict) else {"value": args}
                    )
                    content = result.value if result.ok else {"error": result.error}
                    messages.append(
                        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(content)}
                    )
            return AgentReply(ctx.output, used_in, used_out, "iteration", model)
        finally:
            if self._client is None:
                await client.aclose()

    async def _round(
        self,
        client: httpx.AsyncClient,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        ctx: RunContext,
    ) -> tuple[str, list[dict[str, Any]], Mapping[str, int]]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage: Mapping[str, int] = {}
        try:
            with _held(ctx):
                async with aconnect_sse(client, "POST", self._url, json=body, headers=headers) as source:
                    response = source.response
                    if response.status_code >= 400:
                        await response.aread()
                        raise AgentFailure(
                            f"the model endpoint answered {response.status_code}: {response.text[:300]}",
                            code="MODEL_ERROR",
                        )
                    async for event in source.aiter_sse():
                        if event.data.strip() == "[DONE]":
                            break
                        chunk = json.loads(event.data)
                        usage = chunk.get("usage") or usage
                        for choice in chunk.get("choices") or []:
                            delta = choice.get("delta") or {}
                            if delta.get("content"):
                                text.append(delta["content"])
                                ctx.token(delta["content"])
                            for part in delta.get("tool_calls") or []:
                                self._merge(calls, part)
        except httpx.HTTPError as exc:
            raise AgentFailure(f"the model endpoint failed: {exc!r}", code="MODEL_ERROR") from exc
        except ValueError as exc:
            raise AgentFailure(
                f"the model endpoint sent a chunk that is not JSON: {exc}", code="MODEL_ERROR"
            ) from exc
        return "".join(text), [calls[i] for i in sorted(calls)], usage

    @staticmethod
    def _merge(calls: dict[int, dict[str, Any]], part: Mapping[str, Any]) -> None:
        index = int(part.get("index", len(calls)))
        call = calls.setdefault(
            index, {"id": f"call_{index}", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if part.get("id"):
            call["id"] = part["id"]
        function = part.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]
