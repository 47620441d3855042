"""Answering live tools: run the Python callable a run waits on, and publish its result to the tool's channel."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.to_thread

from .._clock import VirtualClock
from .._errors import OrchestratorError
from ..jobs import EventType, Tool
from ..store import JobRecord
from ._context import SupervisorContext, excerpt, log

__all__ = ["answer_tool_call", "parse_tool_call"]


def parse_tool_call(data: Any) -> tuple[str, str, dict[str, Any]]:
    """``(channel, function name, args)`` from a ``waitForChannelMessageBegin`` event's data.

    ``args`` may arrive as a JSON string or an object (both are seen on the wire).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"tool call event data is not an object: {data!r}")
    channel = str(data.get("channel") or "")
    function = data.get("function") or {}
    name = str(function.get("name") or "") if isinstance(function, Mapping) else ""
    raw_args = function.get("args") if isinstance(function, Mapping) else None
    if isinstance(raw_args, str):
        try:
            raw_args = json.loads(raw_args) if raw_args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool {name!r} args are not JSON: {raw_args[:200]!r}") from exc
    args = dict(raw_args) if isinstance(raw_args, Mapping) else {}
    return channel, name, args


async def _invoke(ctx: SupervisorContext, tool: Tool, args: dict[str, Any]) -> Any:
    handler = tool.handler
    assert handler is not None
    if inspect.iscoroutinefunction(handler):
        return await handler(**args)
    # a sync tool may block: run it in a worker thread; virtual time must not jump meanwhile
    call = functools.partial(handler, **args)
    if isinstance(ctx.clock, VirtualClock):
        with ctx.clock.hold():
            result = await anyio.to_thread.run_sync(call)
    else:
        result = await anyio.to_thread.run_sync(call)
    if inspect.isawaitable(result):
        result = await result
    return result


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


async def answer_tool_call(
    ctx: SupervisorContext, record: JobRecord, tools: Mapping[str, Tool], data: Any, *, key: str
) -> None:
    """Run the tool a ``waitForChannelMessageBegin`` event asks for and publish the answer to its channel.

    A tool that raises is answered with ``{error: "..."}`` so that the model can react; the job goes on.
    """
    bound = log.bind(job_id=record.id, job=record.job_name)
    try:
        channel, name, args = parse_tool_call(data)
    except ValueError as exc:
        bound.warning("tool call event malformed", error=str(exc))
        return
    tool = tools.get(name)
    if tool is None:
        channels = dict(record.spec.get("tool_channels") or {})
        by_channel = {v: k for k, v in channels.items()}
        tool = tools.get(by_channel.get(channel, ""))
    if tool is None:
        # not ours (a function with a static result, or declared without handler): nothing to answer
        bound.info("tool call not answered here", tool=name, channel=channel)
        return
    message: dict[str, Any]
    error: str | None = None
    try:
        value = await _invoke(ctx, tool, args)
        message = {"data": _jsonable(value)}
    except Exception as exc:  # a tool's failure is the model's input, not the job's end
        error = f"{type(exc).__name__}: {exc}"
        message = {"error": error}
        bound.warning("tool raised", tool=name, error=excerpt(error))
    try:
        await ctx.client.channels.publish(channel, message)
    except OrchestratorError as exc:
        bound.warning("tool result publish failed", tool=name, channel=channel, error=str(exc))
        error = error or f"publish failed: {exc}"
    await ctx.store.append_event(
        record.id,
        EventType.TOOL_RESULT,
        {"name": name, "channel": channel, "ok": error is None, "error": error},
        key=key,
    )
