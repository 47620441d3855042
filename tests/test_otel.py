"""OpenTelemetry tracing: one span per job, its events as span events, its outcome as the span status."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from orchestrator import EventType, Job, JobCancelled, JobFailed, Orchestrator, Prompt
from orchestrator.otel import TracingStore, event_attributes
from orchestrator.store import JobEvent, JobRecord, JobStatus, JobStore, MemoryStore
from orchestrator.testing import Harness


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """An in-memory span exporter."""
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider exporting to ``exporter`` (not installed globally)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def traced(
    harness: Harness, provider: TracerProvider, inner: JobStore | None = None, **kwargs: Any
) -> TracingStore:
    store = inner if inner is not None else MemoryStore(clock=harness.clock)
    return TracingStore(store, tracer=provider.get_tracer("tests"), **kwargs)


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


async def test_one_span_per_succeeded_job(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A dispatch job gives one span named after it, with its events, OK status and its platform-time length."""
    store = traced(harness, provider)
    orc = harness.orchestrator(store=store)

    @orc.job(runtime="5m")
    def triage(ticket: str) -> str:
        return f"Triage {ticket} [[tokens 7]] [[sleep 2m]]"

    async with orc:
        handle = await triage.start("T-1")
        await handle.result()
        tokens = [e async for e in handle.events() if e.type == EventType.TOKEN]
        assert store.open_spans == 0
    span = only_span(exporter)
    assert span.name == "orchestrator.job triage"
    assert span.attributes is not None
    assert span.attributes["job.id"] == handle.id
    assert span.attributes["job.route"] == "dispatch"
    assert span.attributes["job.name"] == "triage"
    assert span.attributes["job.status"] == "succeeded"
    deltas = sum(len(e.data.get("parts") or [e.data["token"]]) for e in tokens)
    assert span.attributes["job.tokens"] == deltas >= 7
    assert span.status.status_code is StatusCode.OK
    names = event_names(span)
    assert names[0] == EventType.CREATED
    assert names[1] == EventType.STARTED
    assert names[-1] == EventType.SUCCEEDED
    assert EventType.TOKEN not in names
    assert span.start_time is not None and span.end_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= 120
    started = span.events[1]
    assert started.attributes is not None
    assert started.attributes["route"] == "dispatch"
    assert started.attributes["job.seq"] == 2


async def test_token_events_can_be_recorded(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """token_events=True records each token event (one or more deltas) as a span event, with its text."""
    orc = harness.orchestrator(store=traced(harness, provider, token_events=True))

    @orc.job(runtime="1m")
    def short() -> str:
        return "Say [[tokens 4]]"

    async with orc:
        result = await short.run()
        handle = orc.get_handle(result.job_id)
        logged = [e async for e in handle.events() if e.type == EventType.TOKEN]
    span = only_span(exporter)
    recorded = [e for e in span.events if e.name == EventType.TOKEN]
    assert len(recorded) == len(logged) >= 1
    assert "".join(str((e.attributes or {})["token"]) for e in recorded) == result.text
    assert span.attributes is not None
    assert "job.tokens" not in span.attributes


async def test_failed_job_span_has_error_status(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A failed job's span has ERROR status with the failure reason."""
    orc = harness.orchestrator(store=traced(harness, provider))

    @orc.job(runtime="2m")
    def broken() -> str:
        return '[[fail "the model gave up"]]'

    async with orc:
        with pytest.raises(JobFailed):
            await broken.run()
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "failed: the model gave up"
    assert event_names(span)[-1] == EventType.FAILED


async def test_cancelled_task_span(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A cancelled task's span holds the cancel request and ends with ERROR status 'cancelled'."""
    orc = harness.orchestrator(store=traced(harness, provider))

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> Prompt:
        return Prompt(text=f"Analyse {corpus} [[sleep 2h]]", backstory="An analyst.")

    async with orc:
        handle = await analyse.start("c-1")
        await harness.clock.sleep(600)
        await handle.cancel()
        with pytest.raises(JobCancelled):
            await handle.result()
    span = only_span(exporter)
    assert span.attributes is not None
    assert span.attributes["job.route"] == "task"
    assert span.attributes["job.status"] == "cancelled"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None and span.status.description.startswith("cancelled")
    names = event_names(span)
    assert EventType.CANCEL_REQUESTED in names
    assert names[-1] == EventType.CANCELLED


async def test_resumed_job_gets_a_root_span_from_its_first_event(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A job resumed by another orchestrator is traced from its first event there; the first span is released."""
    inner = MemoryStore(clock=harness.clock)

    def declare(orc: Orchestrator) -> Job[Any]:
        @orc.job(runtime="10m", name="long_triage")
        def long_triage() -> str:
            return "Think [[tokens 3]] [[sleep 4m]] [[tokens 3]]"

        return long_triage

    async with inner:  # the data outlives both orchestrators, as a database would
        first = harness.orchestrator(store=traced(harness, provider, inner))
        job = declare(first)
        async with first:
            handle = await job.start()
            await harness.clock.sleep(60)
        second = harness.orchestrator(store=traced(harness, provider, inner))
        declare(second)
        async with second:
            await (await second.load_handle(handle.id)).result()
    released, resumed = exporter.get_finished_spans()
    assert released.attributes is not None and resumed.attributes is not None
    assert released.attributes["job.status"] == "released"
    assert released.status.status_code is StatusCode.UNSET
    assert event_names(released)[-1] == "job.released"
    assert resumed.attributes["job.id"] == handle.id
    assert resumed.attributes["job.resumed"] is True
    assert resumed.parent is None
    assert resumed.status.status_code is StatusCode.OK
    assert event_names(resumed)[-1] == EventType.SUCCEEDED
    assert EventType.CREATED not in event_names(resumed)


async def test_span_is_child_of_the_current_span(
    harness: Harness, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A job started under a span (an HTTP request, say) gets a child span of it."""
    tracer = provider.get_tracer("tests")
    orc = harness.orchestrator(store=TracingStore(MemoryStore(clock=harness.clock), tracer=tracer))

    @orc.job(runtime="1m")
    def quick() -> str:
        return "hi"

    async with orc:
        with tracer.start_as_current_span("request") as request:
            handle = await quick.start()
        await handle.result()
    job_span = next(s for s in exporter.get_finished_spans() if s.name == "orchestrator.job quick")
    assert job_span.parent is not None
    assert job_span.parent.span_id == request.get_span_context().span_id


async def test_events_after_the_end_start_no_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """An event appended after a job finished (routing advice, say) opens no new span."""
    store = TracingStore(MemoryStore(), tracer=provider.get_tracer("tests"))
    async with store:
        record = JobRecord(
            id="job_1",
            job_name="triage",
            route="dispatch",
            status=JobStatus.PENDING,
            created_at=0.0,
            updated_at=0.0,
            idempotency_key="job_1",
            owner="me",
        )
        await store.create_job(record)
        await store.append_event("job_1", EventType.CREATED, {"route": "dispatch"})
        assert store.open_spans == 1
        assert await store.finish_job("job_1", JobStatus.SUCCEEDED, result={"text": "ok"})
        await store.append_event("job_1", EventType.ROUTING_ADVICE, {"message": "close to the ceiling"})
        assert store.open_spans == 0
        assert not await store.finish_job("job_1", JobStatus.FAILED)
    span = only_span(exporter)
    assert event_names(span) == [EventType.CREATED]
    assert span.status.status_code is StatusCode.OK


async def test_job_created_by_another_replica_is_not_traced_here(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """create_job answering with another owner's existing record (a lost adoption race) starts no span."""
    inner = MemoryStore()
    store = TracingStore(inner, tracer=provider.get_tracer("tests"))

    def record(owner: str) -> JobRecord:
        return JobRecord(
            id="job_exec_1",
            job_name="nightly",
            route="task",
            status=JobStatus.RUNNING,
            created_at=0.0,
            updated_at=0.0,
            idempotency_key="exec:t1:e1",
            owner=owner,
        )

    async with store:
        await inner.create_job(record("replica-a"))
        stored = await store.create_job(record("replica-b"))
        assert stored.owner == "replica-a"
        assert store.open_spans == 0
    assert exporter.get_finished_spans() == ()


def test_event_attributes_are_scalars_and_short() -> None:
    """Event data becomes scalar attributes: long text cut, one level of nesting flattened, other data dropped."""
    event = JobEvent(
        job_id="job_1",
        seq=5,
        type=EventType.SUCCEEDED,
        data={
            "text": "x" * 1000,
            "usage": {"inputTokensUsed": 3, "nested": {"deep": 1}},
            "reasons": ["long runtime", "cancellable"],
            "attempt": 1,
            "empty": None,
            "objects": [{"a": 1}],
        },
        created_at=0.0,
    )
    attributes = event_attributes(event)
    assert attributes["job.seq"] == 5
    assert isinstance(attributes["text"], str) and len(attributes["text"]) == 256
    assert attributes["usage.inputTokensUsed"] == 3
    assert attributes["reasons"] == ["long runtime", "cancellable"]
    assert attributes["attempt"] == 1
    assert not {"usage.nested", "empty", "objects"} & set(attributes)


def test_wrapping_something_else_is_refused() -> None:
    """TracingStore refuses anything that is not a JobStore, saying how to build one."""
    with pytest.raises(TypeError, match="open_store"):
        TracingStore("memory://")  # type: ignore[arg-type]


def test_missing_opentelemetry_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without opentelemetry installed, importing orchestrator.otel says to install the otel extra."""
    monkeypatch.delitem(sys.modules, "orchestrator.otel")
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ImportError, match=r"pip install 'orchestrator\[otel\]'"):
        importlib.import_module("orchestrator.otel")


async def test_paging_and_counting_pass_through(provider: TracerProvider) -> None:
    """find_jobs and count_jobs of the tracing store answer from the store it wraps."""
    store = TracingStore(MemoryStore(), tracer=provider.get_tracer("tests"))
    async with store:
        for n in range(3):
            await store.create_job(
                JobRecord(
                    id=f"job_{n}",
                    job_name="triage",
                    route="task" if n else "dispatch",
                    status=JobStatus.PENDING,
                    created_at=0.0,
                    updated_at=0.0,
                    idempotency_key=f"job_{n}",
                )
            )
        page = await store.find_jobs(route="task", limit=1)
        counts = await store.count_jobs(job_name="triage")
    assert [r.id for r in page] == ["job_2"]
    assert counts[JobStatus.PENDING] == 3
