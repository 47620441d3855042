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
from ._prompt import Prompt
from ._routing import Route

if TYPE_CHECKING:
    from ._definition import Job

__all__ = ["build_spec"]


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def build_spec(
    j: Job[Any],
    prompt: Prompt,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    now: float,
    default_runtime: timedelta,
    retention: timedelta,
) -> dict[str, Any]:
    """The stored request of one run of ``j`` with ``prompt`` (``now`` in clock seconds).

    Raises:
        UsageError: a task-routed prompt offers live tools, which only a dispatch or a completion can answer.
    """
    route = j.route
    spec: dict[str, Any] = {"args": list(args), "kwargs": kwargs} if _jsonable([args, kwargs]) else {}
    spec["args_stored"] = bool(spec)
    spec["reasons"] = list(j.explain().reasons)
    if route is Route.TASK:
        if prompt.tools:
            raise UsageError(
                f"job {j.name!r}: live tools (Python callables) are answered through a channel during a dispatch "
                "or a completion; a task run cannot use them. Drop the callables, or route the job to a dispatch"
            )
        runtime = j.definition.runtime or default_runtime
        now_ms = int(now * 1000)
        task: dict[str, Any] = {
            "name": j.name,
            "description": prompt.instruction,
            "maxTime": int(runtime.total_seconds() * 1000),
            "expiresAt": now_ms + int((runtime + retention).total_seconds() * 1000),
        }
        if j.definition.timezone:
            task["timezone"] = j.definition.timezone
        spec.update(task=task, bot_id=prompt.bot_id, bot_config=prompt.bot_config())
        return spec
    body, channels = prompt.to_wire()
    spec.update(body=body, tool_channels=channels, conversation_id=prompt.conversation_id)
    if route is Route.DISPATCH:
        spec["channel_id"] = f"orc-{secrets.token_hex(14)}"
    return spec
