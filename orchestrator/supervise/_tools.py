"""Answering live tools: run the Python callable a run waits on, and publish its result to the tool's channel."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.to_thread

from .._clock import VirtualClock, move_on_after, to_seconds
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


class ToolTimeout(Exception):
    """A tool call ran past its declared ``timeout`` (answered to the model as an error)."""


async def _invoke(ctx: SupervisorContext, tool: Tool, args: dict[str, Any]) -> Any:
    handler = tool.handler
    assert handler is not None
    bound = None if tool.timeout is None else to_seconds(tool.timeout)
    if inspect.iscoroutinefunction(handler):
        async with move_on_after(ctx.clock, bound):
            return await handler(**args)
        raise ToolTimeout(f"tool {tool.name!r} timed out after {bound:g}s")
    # a sync tool may block: run it in a worker thread; virtual time must not jump meanwhile, so its bound is
    # real time (the thread cannot be stopped: past the bound it is left to finish and its value dropped)
    call = functools.partial(handler, **args)
    with anyio.move_on_after(bound) as real:
        if isinstance(ctx.clock, VirtualClock):
            with ctx.clock.hold():
                result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        else:
            result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        if inspect.isawaitable(result):
            async with move_on_after(ctx.clock, bound):
                return await result
            raise ToolTimeout(f"tool {tool.name!r} timed out after {bound:g}s")
        return result
    assert real.cancelled_caught
    raise ToolTimeout(f"tool {tool.name!r} timed out after {bound:g}s")


MAX_RESULT_BYTES = 1_000_000
"""The largest tool answer published to the platform (its JSON, UTF-8); a larger one is answered as an error."""


class ToolResultRefused(Exception):
    """A tool returned a value that cannot be sent to the model (answered to the model as an error)."""


def _jsonable(name: str, value: Any) -> Any:
    """``value`` as JSON the platform accepts: a non-JSON value becomes its ``str()``; text that is not valid
    Unicode, NaN/Infinity and oversized answers are refused, saying what the tool should return instead."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        value = str(value)
        encoded = json.dumps(value, ensure_ascii=False)
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ToolResultRefused(
            f"tool {name!r} returned text that is not valid Unicode ({exc.reason} at character {exc.start}): "
            "return str or JSON values made of encodable text"
        ) from None
    if size > MAX_RESULT_BYTES:
        raise ToolResultRefused(
            f"tool {name!r} returned {size} bytes of JSON, more than the {MAX_RESULT_BYTES} a tool answer may "
            "hold: return a summary or a reference instead"
        )
    return value


def describe_failure(exc: BaseException) -> str:
    """``"Type: message"`` for the model: encodable, at most 2000 characters, even from a broken ``__str__``."""
    try:
        text = str(exc)
    except Exception:  # a user exception whose __str__ itself fails
        text = "(its message could not be read)"
    text = text.encode("utf-8", "replace").decode("utf-8")[:2000]
    return f"{type(exc).__name__}: {text}"


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
        message = {"data": _jsonable(name, value)}
    except (ToolTimeout, ToolResultRefused) as exc:
        error = str(exc)
        message = {"error": error}
        bound.warning("tool answer refused", tool=name, error=excerpt(error))
    except Exception as exc:  # a tool's failure is the model's input, not the job's end
        error = describe_failure(exc)
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
