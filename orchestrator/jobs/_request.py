"""The platform request a prompt becomes: the stored ``spec`` of a job run, built in one place.

A job record's ``spec`` holds everything the launch needs to make the platform call again after a crash: the
wire body of a dispatch or completion (with its client-generated ``channelId``), or the task body of a task run,
and the arguments the job function was called with (to rebuild live tools after a restart).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from ._bounds import task_fields, task_max_time
from ._prompt import Prompt
from ._routing import Route, RoutingPolicy

if TYPE_CHECKING:
    from ._definition import Job

__all__ = ["build_spec"]


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _task_spec(
    j: Job[Any],
    prompt: Prompt,
    *,
    max_time: timedelta | None,
    now: float,
    runtime: timedelta,
    retention: timedelta,
) -> dict[str, Any]:
    """A task run's request (``maxTime`` omitted when ``None``: the platform's default)."""
    if prompt.tools:
        raise UsageError(
            f"job {j.name!r}: live tools (Python callables) are answered through a channel during a dispatch "
            "or a completion; a task run cannot use them. Drop the callables, or route the job to a dispatch "
            "(and not on_ceiling='task')"
        )
    longest = max(runtime, max_time or timedelta(0))
    task = task_fields(
        name=j.name,
        description=prompt.instruction,
        max_time=max_time,
        expires_at_ms=int((now + (longest + retention).total_seconds()) * 1000),
        timezone=j.definition.timezone,
    )
    return {"task": task, "bot_id": prompt.bot_id, "bot_config": prompt.bot_config()}


def build_spec(
    j: Job[Any],
    prompt: Prompt,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    now: float,
    default_runtime: timedelta,
    retention: timedelta,
    policy: RoutingPolicy | None = None,
    route: Route | None = None,
    max_time: timedelta | None = None,
) -> dict[str, Any]:
    """The stored request of one run of ``j`` with ``prompt`` (``now`` in clock seconds).

    Args:
        policy: the routing policy (a task's default ``maxTime`` is its runtime over the policy's headroom).
        route: the route of this run when it is not the declared one (adaptive routing moved the job).
        max_time: a task run's ``maxTime`` when it is not the declared bound (adaptive routing).

    Raises:
        UsageError: a task-routed prompt offers live tools, which only a dispatch or a completion can answer.
    """
    route = route or j.route
    d = j.definition
    pol = policy or RoutingPolicy(default_runtime=default_runtime)
    spec: dict[str, Any] = {"args": list(args), "kwargs": kwargs} if _jsonable([args, kwargs]) else {}
    spec["args_stored"] = bool(spec)
    spec["reasons"] = list(j.explain().reasons)
    runtime = d.runtime or default_runtime
    if route is Route.TASK:
        bound = max_time or task_max_time(d.runtime, d.timeout, pol)
        spec.update(_task_spec(j, prompt, max_time=bound, now=now, runtime=runtime, retention=retention))
        return spec
    if route is Route.DISPATCH:
        spec.update(on_ceiling=d.on_ceiling, max_continuations=d.bounds.max_continuations)
        spec["timeout"] = None if d.timeout is None else d.timeout.total_seconds()
        if d.on_ceiling == "task":  # the task a run killed at the ceiling is re-run as
            fallback = _task_spec(
                j, prompt, max_time=d.timeout, now=now, runtime=runtime, retention=retention
            )
            spec["fallback_task"] = fallback
    body, channels = prompt.to_wire()
    spec.update(body=body, tool_channels=channels, conversation_id=prompt.conversation_id)
    if route is Route.DISPATCH:
        spec["channel_id"] = f"orc-{secrets.token_hex(14)}"
    return spec
