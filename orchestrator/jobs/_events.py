"""The job event vocabulary: every event type a job's log can hold, documented in one place.

A job's log is ordered and gap-free (``seq`` 1, 2, 3, ...), kept in the store, and replayable from any cursor
(``handle.events(since=seq)``). Events that mirror a platform stream event carry its ``data`` unchanged.

=========================== ==============================================================================
type                        data
=========================== ==============================================================================
``job.created``             ``{route, job_name, reasons}``: recorded, before any platform call
``job.pending``             ``{waiting_for}``: held by ``max_concurrency`` until a slot frees
``job.started``             ``{route, channel_id? | task_id?, conversation_id?, deadline?, attempt}``
``token``                   ``{token}``: a text delta from the agent
``message``                 ``{type, text, meta?}``: a message the run appended (bot reply, activity, ...)
``usage``                   ``{model, inputTokensUsed, outputTokensUsed}``
``tool.call``               ``{channel, function: {name, args}}``: the run waits on a live tool
``tool.end``                ``{channel, function, message}``: the platform received the tool's answer
``tool.result``             ``{name, channel, ok, error?}``: this process answered a live tool
``platform.<type>``         the ``data`` of any other platform event (``reasoningToken``, ``progressReport``, ...)
``ceiling.approaching``     ``{fraction, elapsed, remaining, ceiling}``: at 50%, 80% and 95% of the ceiling
``stream.reconnected``      ``{attempt, reason}``: a dropped channel stream was re-subscribed with replay
``task.execution``          ``{task_id, execution_id, status, outcome}``: a task run changed state
``routing.advice``          ``{p95, ceiling, message}``: this dispatch job runs close to the ceiling
``routing.changed``         ``{route, previous, p95, samples, mark}``: adaptive routing moved this job's next runs
``ceiling.continued``       ``{part, channel_id, previous_channel_id, partial_chars, reason}``: a dispatch killed
                            at the ceiling goes on in a continuation part (``on_ceiling="continue"``)
``ceiling.as_task``         ``{reason}``: a dispatch killed at the ceiling is re-run as a task (``on_ceiling="task"``)
``job.retry``               ``{attempt, reason, delay}``: a failed run is started again (``retries=``)
``job.cancel_requested``    ``{}``: ``cancel()`` was called; the platform is stopping the run
``job.succeeded``           the :class:`JobResult` as a mapping
``job.failed``              ``{reason, code?}``
``job.cancelled``           ``{reason}``
``job.ceiling_exceeded``    ``{partial_output, ceiling, reason}``
``job.timed_out``           ``{partial_output, timeout, reason}``: the run passed its bound (``timeout=``, ``maxTime``)
``plan.*``                  a planning run's own events (``plan.task_scheduled``, ``plan.task_refused``,
                            ``plan.planned``, ...): see :mod:`orchestrator.planning._events`
=========================== ==============================================================================
"""

from __future__ import annotations

import enum

__all__ = ["PLATFORM_EVENT_TYPES", "TERMINAL_EVENT_TYPES", "EventType"]


class EventType(enum.StrEnum):
    """The event types of a job's log (see the module docstring for their data)."""

    CREATED = "job.created"
    PENDING = "job.pending"
    STARTED = "job.started"
    TOKEN = "token"
    MESSAGE = "message"
    USAGE = "usage"
    TOOL_CALL = "tool.call"
    TOOL_END = "tool.end"
    TOOL_RESULT = "tool.result"
    CEILING_APPROACHING = "ceiling.approaching"
    STREAM_RECONNECTED = "stream.reconnected"
    TASK_EXECUTION = "task.execution"
    ROUTING_ADVICE = "routing.advice"
    ROUTING_CHANGED = "routing.changed"
    CEILING_CONTINUED = "ceiling.continued"
    CEILING_AS_TASK = "ceiling.as_task"
    RETRY = "job.retry"
    CANCEL_REQUESTED = "job.cancel_requested"
    SUCCEEDED = "job.succeeded"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"
    CEILING_EXCEEDED = "job.ceiling_exceeded"
    TIMED_OUT = "job.timed_out"


# platform stream event type -> job event type (anything else becomes "platform.<type>")
PLATFORM_EVENT_TYPES: dict[str, str] = {
    "token": EventType.TOKEN,
    "message": EventType.MESSAGE,
    "usage": EventType.USAGE,
    "waitForChannelMessageBegin": EventType.TOOL_CALL,
    "waitForChannelMessageEnd": EventType.TOOL_END,
}

TERMINAL_EVENT_TYPES = frozenset(
    {
        EventType.SUCCEEDED,
        EventType.FAILED,
        EventType.CANCELLED,
        EventType.CEILING_EXCEEDED,
        EventType.TIMED_OUT,
    }
)
