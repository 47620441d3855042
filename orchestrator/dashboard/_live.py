"""Server-sent events: the jobs list as it changes, and one job's timeline as it grows (resumable).

A job's stream sends each event of its log with the event's ``seq`` as the SSE ``id``, so a browser that
reconnects sends ``Last-Event-ID`` and is resumed after it (``?since=N`` does the same for a first connection).
Consecutive tokens go as ``token`` events, appended by the page to one growing text; other events go as ``row``
events (a rendered timeline line). Between events the stream sends the dispatch's ceiling bar (``progress``) on
every ``tick`` of real time, and at the end the job's final ``status``, then ``end``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse

from ..jobs import EventType, format_duration
from ..store import JobEvent, JobRecord
from ._source import Source
from ._views import fmt_time, progress_of

__all__ = ["event_line", "since_of", "sse", "sse_response", "timeline"]

_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any, *, id: int | None = None) -> str:
    """One SSE message (``data`` JSON-encoded, on one line)."""
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(stream, media_type="text/event-stream", headers=_HEADERS)


def since_of(request: Request) -> int:
    """The cursor to resume from: ``Last-Event-ID`` (a reconnect), else ``?since=``, else 0."""
    raw = request.headers.get("last-event-id") or request.query_params.get("since") or "0"
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(
            400, f"bad event cursor {raw[:40]!r}: give the seq of the last event seen (0 for all)"
        )
    return int(raw)


def event_line(event: JobEvent) -> dict[str, Any]:
    """A timeline line: when, what, and a short human reading of the event's data."""
    data = dict(event.data)
    kind = "warn" if event.type in (EventType.CEILING_APPROACHING, EventType.ROUTING_ADVICE) else ""
    if event.type == EventType.CEILING_APPROACHING:
        fraction = float(data.get("fraction") or 0)
        text = (
            f"{fraction:.0%} of the {format_duration(float(data.get('ceiling') or 900))} ceiling used; "
            f"{format_duration(float(data.get('remaining') or 0))} left"
        )
    elif event.type == EventType.ROUTING_ADVICE:
        text = str(data.get("message") or "")
    elif event.type == EventType.MESSAGE:
        text = str(data.get("text") or "")
    elif event.type in (
        EventType.FAILED,
        EventType.CANCELLED,
        EventType.CEILING_EXCEEDED,
        EventType.TIMED_OUT,
    ):
        kind = "bad"
        text = str(data.get("reason") or "")
    elif event.type == EventType.CEILING_CONTINUED:
        text = (
            f"killed at the ceiling: continued as part {data.get('part')} on channel {data.get('channel_id')}"
        )
    elif event.type in (EventType.CEILING_AS_TASK, EventType.ROUTING_CHANGED):
        text = str(data.get("reason") or data.get("message") or "")
    elif event.type == EventType.SUCCEEDED:
        kind = "good"
        text = str(data.get("text") or "")[:200]
    elif event.type == EventType.CREATED:
        text = f"recorded as a {data.get('route', '?')}"
    elif event.type == EventType.STARTED:
        ids = ", ".join(f"{k.removesuffix('_id')} {v}" for k, v in data.items() if k.endswith("_id") and v)
        text = f"attempt {data.get('attempt', 1)} started on the {data.get('route', '?')}" + (
            f": {ids}" if ids else ""
        )
    elif event.type == EventType.TASK_EXECUTION:
        text = f"execution {data.get('execution_id', '?')}: {data.get('status', '?')}"
    else:
        text = json.dumps(data, sort_keys=True)[:300]
    return {
        "seq": event.seq,
        "type": event.type,
        "at": fmt_time(event.created_at),
        "text": text,
        "kind": kind,
    }


async def timeline(
    source: Source,
    record: JobRecord,
    since: int,
    *,
    tick: float,
    render_row: Callable[[dict[str, Any]], str],
    render_status: Callable[[JobRecord], dict[str, Any]],
) -> AsyncIterator[str]:
    """The SSE messages of one job's page (see the module docstring)."""
    store = source.store
    job_id = record.id
    cursor = since
    last_progress: dict[str, Any] | None = None
    async with store.watch(job_id) as watch:
        while True:
            batch = await store.events(job_id, since=cursor)
            for event in batch:
                cursor = event.seq
                if event.type == EventType.TOKEN:
                    yield sse("token", {"text": str(event.data.get("token") or "")}, id=event.seq)
                else:
                    line = event_line(event)
                    warning = line["text"] if event.type == EventType.CEILING_APPROACHING else None
                    yield sse("row", {"html": render_row(line), "warning": warning}, id=event.seq)
            current = await store.get_job(job_id)
            if current is None:
                yield sse("end", {"reason": "the job was pruned from the store"})
                return
            progress = progress_of(current, source, source.clock.time())
            shown = progress.as_dict() if progress is not None else None
            if shown is not None and shown != last_progress:
                last_progress = shown
                yield sse("progress", shown)
            if batch:
                continue
            if current.status.terminal:
                if await store.events(job_id, since=cursor):
                    continue
                yield sse("status", render_status(current))
                yield sse("end", {"status": current.status.value})
                return
            with anyio.move_on_after(tick):  # real time: the ceiling bar moves on between events
                await watch.wait()
