"""OpenTelemetry tracing (the ``otel`` extra): one span per job, with the job's events as span events.

:class:`TracingStore` wraps any :class:`~orchestrator.store.JobStore` and implements the same protocol by
delegation; it sees every job the orchestrator records and every event it appends, so it needs no hook in the
orchestrator::

    from orchestrator import Orchestrator
    from orchestrator.otel import TracingStore
    from orchestrator.store import open_store

    orc = Orchestrator(store=TracingStore(open_store("sqlite:///.orchestrator/jobs.sqlite3", clock=clock)))

- A job this process creates gets a span ``orchestrator.job <job_name>`` (attributes ``job.id``, ``job.route``,
  ``job.name``) that starts when the job is recorded, as a child of the span current at that moment (the HTTP
  request that started it, say).
- A job this process did not create (resumed after a restart, adopted from a schedule, taken over from another
  replica) gets a root span that starts at the first event this process appends for it (``job.resumed=true``).
- Every event appended while the job runs becomes a span event named by its type (``job.started``,
  ``task.execution``, ...), with its scalar data as attributes; events after the end (``routing.advice``)
  are not traced, the span has ended. Token events are many and small: the deltas they hold are counted
  (``job.tokens``; one event may hold several, see its ``parts``) instead of recorded one by one, unless
  ``token_events=True``.
- When the job ends the span gets ``job.status`` and its status: ``OK`` for ``succeeded``, ``ERROR`` with the
  reason for ``failed``, ``ceiling_exceeded``, ``timed_out`` and ``cancelled``; then it ends.
- Spans of jobs still running when the store closes (the process stops; another one will resume them) end
  with ``job.status=released`` and an unset status.

Times come from the store's clock (the job's ``created_at``, each event's ``created_at``), so under a
``VirtualClock`` a span lasts as long as the job did in platform time.

Needs ``opentelemetry-api`` (``pip install 'orchestrator[otel]'``); configure an SDK tracer provider and an
exporter in the application, as usual.

Longer than 300 lines because :class:`TracingStore` implements every method of the
:class:`~orchestrator.store.JobStore` protocol by delegation (one short method each), so that it stays a drop-in
store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
    from opentelemetry.util.types import AttributeValue
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "orchestrator.otel needs the OpenTelemetry API, which is not installed: "
        "pip install 'orchestrator[otel]' (or pip install opentelemetry-api)"
    ) from exc

from . import __version__
from ._clock import Clock, SystemClock
from .jobs import EventType
from .store import JobCursor, JobEvent, JobRecord, JobStatus, JobStore, JobWatch

__all__ = ["TracingStore"]

_TRACER_NAME = "orchestrator"
_MAX_TEXT = 256
_MAX_ATTRIBUTES = 24
_ERROR_STATUSES = frozenset(
    {
        JobStatus.FAILED.value,
        JobStatus.CEILING_EXCEEDED.value,
        JobStatus.CANCELLED.value,
        JobStatus.TIMED_OUT.value,
    }
)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _scalar(value: Any) -> AttributeValue | None:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "..."
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return [str(_scalar(v)) for v in value[:16]]
    return None


def event_attributes(event: JobEvent) -> dict[str, AttributeValue]:
    """A job event's data as span-event attributes: scalars (text cut to 256 characters), one level of nesting
    flattened with dots (``usage.outputTokensUsed``), lists of strings kept; everything else left out."""
    attributes: dict[str, AttributeValue] = {"job.seq": event.seq}
    for key, value in event.data.items():
        if len(attributes) >= _MAX_ATTRIBUTES:
            break
        if isinstance(value, Mapping):
            for inner_key, inner in value.items():
                scalar = _scalar(inner)
                if scalar is not None and len(attributes) < _MAX_ATTRIBUTES:
                    attributes[f"{key}.{inner_key}"] = scalar
            continue
        scalar = _scalar(value)
        if scalar is not None:
            attributes[str(key)] = scalar
    return attributes


class _JobSpan:
    __slots__ = ("span", "tokens")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.tokens = 0


class TracingStore:
    """A :class:`~orchestrator.store.JobStore` that traces jobs with OpenTelemetry (see the module docstring).

    Args:
        inner: the store that keeps the data (any implementation; opened and closed with this one).
        tracer: the tracer spans come from; defaults to ``trace.get_tracer("orchestrator")`` of the global
            tracer provider.
        clock: the clock span end times are read from; defaults to the inner store's ``clock`` (so that spans
            share the time of the records), else system time.
        token_events: record every ``token`` event as a span event (off: their deltas are counted in
            ``job.tokens``).
    """

    def __init__(
        self,
        inner: JobStore,
        *,
        tracer: Tracer | None = None,
        clock: Clock | None = None,
        token_events: bool = False,
    ) -> None:
        if not isinstance(inner, JobStore):
            raise TypeError(
                f"TracingStore wraps a JobStore, got {type(inner).__name__}: "
                "build one with orchestrator.store.open_store(url, clock=...)"
            )
        self.inner = inner
        self.url: str = inner.url
        inner_clock = getattr(inner, "clock", None)
        self.clock: Clock = clock or (inner_clock if isinstance(inner_clock, Clock) else SystemClock())
        self._tracer = tracer or trace.get_tracer(_TRACER_NAME, __version__)
        self._token_events = token_events
        self._spans: dict[str, _JobSpan] = {}
        self._opened = 0

    def __repr__(self) -> str:
        return f"TracingStore({self.inner!r})"

    @property
    def open_spans(self) -> int:
        """How many job spans are started and not yet ended."""
        return len(self._spans)

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.inner.open()
        self._opened += 1

    async def aclose(self) -> None:
        if self._opened == 0:
            return
        self._opened -= 1
        if self._opened == 0:
            self._release_all()
        await self.inner.aclose()

    async def __aenter__(self) -> TracingStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- spans --------------------------------------------------------------------------------------------

    def _start(self, record: JobRecord, *, start: float, resumed: bool) -> _JobSpan:
        attributes: dict[str, AttributeValue] = {
            "job.id": record.id,
            "job.route": record.route,
            "job.name": record.job_name,
        }
        if resumed:
            attributes["job.resumed"] = True
        span = self._tracer.start_span(
            f"orchestrator.job {record.job_name}",
            # a resumed job has nothing to do with whatever is current here: make it a root
            context=otel_context.Context() if resumed else None,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(start),
        )
        job_span = self._spans[record.id] = _JobSpan(span)
        return job_span

    def _end(
        self, job_id: str, status: str, error: Mapping[str, Any] | None, result: Mapping[str, Any] | None
    ) -> None:
        job_span = self._spans.pop(job_id, None)
        if job_span is None:
            return
        span = job_span.span
        span.set_attribute("job.status", status)
        if job_span.tokens:
            span.set_attribute("job.tokens", job_span.tokens)
        if status == JobStatus.SUCCEEDED.value:
            for key in ("end_reason", "conversation_id", "task_id", "execution_id", "channel_id"):
                value = (result or {}).get(key)
                if isinstance(value, str):
                    span.set_attribute(f"job.{key}", value)
            span.set_status(Status(StatusCode.OK))
        elif status in _ERROR_STATUSES:
            reason = str((error or {}).get("reason") or status)
            code = (error or {}).get("code")
            if code is not None:
                span.set_attribute("job.error.code", str(code))
            span.set_status(Status(StatusCode.ERROR, f"{status}: {reason}"))
        span.end(end_time=_ns(self.clock.time()))

    def _release_all(self) -> None:
        for job_id in list(self._spans):
            job_span = self._spans[job_id]
            job_span.span.add_event(
                "job.released",
                {"reason": "the store closed while the job was running; another process may resume it"},
                timestamp=_ns(self.clock.time()),
            )
            self._end(job_id, "released", None, None)

    # -- jobs ---------------------------------------------------------------------------------------------

    async def create_job(self, record: JobRecord) -> JobRecord:
        stored = await self.inner.create_job(record)
        # the record this call wrote (another replica's existing job has another owner): trace it from here
        if (
            stored.id == record.id
            and stored.owner == record.owner
            and not stored.status.terminal
            and stored.id not in self._spans
        ):
            self._start(stored, start=stored.created_at, resumed=False)
        return stored

    async def get_job(self, job_id: str) -> JobRecord | None:
        return await self.inner.get_job(job_id)

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        record = await self.inner.update_job(
            job_id, status=status, state=state, started_at=started_at, deadline=deadline
        )
        if record.status.terminal and job_id in self._spans:
            self._end(job_id, record.status.value, record.error, record.result)
        return record

    async def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> bool:
        finished = await self.inner.finish_job(job_id, status, result=result, error=error, state=state)
        if job_id in self._spans:
            if finished:
                self._end(job_id, JobStatus(status).value, error, result)
            else:
                # someone else finished it first: end with what the store says
                record = await self.inner.get_job(job_id)
                if record is None:
                    self._end(job_id, "released", None, None)
                else:
                    self._end(job_id, record.status.value, record.error, record.result)
        return finished

    async def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        return await self.inner.list_jobs(
            statuses=statuses, job_name=job_name, parent_id=parent_id, limit=limit
        )

    async def find_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        route: str | None = None,
        before: JobCursor | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        return await self.inner.find_jobs(
            statuses=statuses, job_name=job_name, route=route, before=before, limit=limit
        )

    async def count_jobs(
        self, *, job_name: str | None = None, route: str | None = None
    ) -> dict[JobStatus, int]:
        return await self.inner.count_jobs(job_name=job_name, route=route)

    async def durations(self, job_name: str, *, limit: int = 500) -> list[float]:
        return await self.inner.durations(job_name, limit=limit)

    # -- events -------------------------------------------------------------------------------------------

    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        event = await self.inner.append_event(job_id, type, data, key=key)
        if event is None:
            return None
        job_span = self._spans.get(job_id)
        if job_span is None:
            record = await self.inner.get_job(job_id)
            if record is None or record.status.terminal:
                return event  # an event after the end (e.g. routing advice): the job's span has ended
            job_span = self._start(record, start=event.created_at, resumed=True)
        if type == EventType.TOKEN and not self._token_events:
            # one event may hold several consecutive deltas: ``parts`` has the length of each
            parts = data.get("parts")
            job_span.tokens += len(parts) if isinstance(parts, list) and parts else 1
        else:
            job_span.span.add_event(type, event_attributes(event), timestamp=_ns(event.created_at))
        return event

    async def events(self, job_id: str, *, since: int = 0, limit: int | None = None) -> list[JobEvent]:
        return await self.inner.events(job_id, since=since, limit=limit)

    def watch(self, job_id: str) -> AbstractAsyncContextManager[JobWatch]:
        return self.inner.watch(job_id)

    # -- leases, locks, metadata, retention ---------------------------------------------------------------

    async def claim_jobs(self, owner: str, *, lease_seconds: float, limit: int = 100) -> list[JobRecord]:
        return await self.inner.claim_jobs(owner, lease_seconds=lease_seconds, limit=limit)

    async def renew_leases(self, owner: str, *, lease_seconds: float) -> int:
        return await self.inner.renew_leases(owner, lease_seconds=lease_seconds)

    async def release_jobs(self, owner: str) -> None:
        await self.inner.release_jobs(owner)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return self.inner.lock(name)

    async def get_meta(self, key: str) -> Any | None:
        return await self.inner.get_meta(key)

    async def set_meta(self, key: str, value: Any) -> None:
        await self.inner.set_meta(key, value)

    async def prune(self, *, finished_before: float) -> int:
        return await self.inner.prune(finished_before=finished_before)
