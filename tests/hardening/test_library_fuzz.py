"""Hostile input on the library's public surface: every refusal is a typed ``OrchestratorError`` saying what to do.

Decorator arguments, ``Prompt``, ``Tool`` and ``PlanPolicy`` are fuzzed when they are built; handles are
exercised end to end on the local platform: ``result(timeout=)`` with odd values, cancel twice, cancel after
the end, tools that raise, hang past their declared timeout or answer with values that are not JSON, and job
functions that raise or return the wrong type. After each, the orchestrator still runs a job to the end.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import (
    JobCancelled,
    JobStatus,
    NotCancellable,
    Orchestrator,
    OrchestratorError,
    PlanPolicy,
    Prompt,
    ResultTimeout,
    Tool,
    job,
)
from orchestrator.testing import Harness

from . import _hostile as hostile
from ._tally import broken, tried

odd: st.SearchStrategy[Any] = st.one_of(
    hostile.json_values,
    st.sampled_from(
        [object(), b"bytes", 1j, math.nan, -math.inf, timedelta(days=-1), timedelta(0), [1], {"a": 1}]
    ),
    st.sampled_from(
        ["20m", "3h", "0s", "-5m", "1e400s", "999999999999d", "", " ", "0 7 * * 1-5", "Europe/London"]
    ),
    st.timedeltas(),
    st.integers(),
)


def explained(exc: OrchestratorError) -> None:
    """A refusal says something, in text that can be printed anywhere."""
    message = exc.message
    assert message.strip(), f"{type(exc).__name__} without a message"
    str(exc).encode("utf-8")


def attempt(surface: str, build: Any) -> Any:
    """Run ``build()``: a value, or a typed ``OrchestratorError`` with a message; anything else is broken."""
    try:
        value = build()
    except OrchestratorError as exc:
        explained(exc)
        tried(surface, refused=True)
        return None
    except Exception as exc:
        broken(surface, f"{type(exc).__name__}: {exc!r}"[:300])
        raise AssertionError(f"{surface}: untyped {type(exc).__name__}: {exc!r}"[:2000]) from exc
    tried(surface, refused=False)
    return value


def declare(**options: Any) -> Any:
    def fn() -> str:
        return "hello"

    return job(**options)(fn)


@given(
    options=st.fixed_dictionaries(
        {},
        optional={
            "runtime": odd,
            "cancellable": odd,
            "schedule": odd,
            "timezone": odd,
            "interactive": odd,
            "route": st.one_of(st.sampled_from(["dispatch", "task", "complete"]), odd),
            "name": st.one_of(hostile.hostile_text, odd),
            "max_concurrency": odd,
            "retries": odd,
        },
    )
)
def test_decorator_arguments_are_refused_with_a_typed_error(options: dict[str, Any]) -> None:
    """Any mix of ``@job(...)`` arguments either declares a routed job or raises a typed, explained error."""
    declared = attempt("library: @job arguments", lambda: declare(**options))
    if declared is not None:
        assert declared.route.value in ("dispatch", "task", "complete")
        assert str(declared.explain())


prompt_fields = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(hostile.hostile_text, odd),
        "messages": st.one_of(st.lists(hostile.message, max_size=3), odd),
        "conversation_id": st.one_of(hostile.hostile_text, odd),
        "bot_id": st.one_of(hostile.hostile_text, odd),
        "backstory": st.one_of(hostile.hostile_text, odd),
        "model": odd,
        "functions": st.one_of(st.lists(st.one_of(hostile.function, odd), max_size=2), odd),
        "extensions": odd,
        "limits": st.one_of(st.dictionaries(st.sampled_from(["iterations", "calls", "x"]), odd), odd),
        "contact_id": odd,
    },
)


@given(fields=prompt_fields)
def test_prompt_contents_are_refused_with_a_typed_error(fields: dict[str, Any]) -> None:
    """A ``Prompt`` of any contents is built, and renders to a sendable body, or raises a typed error."""
    prompt = attempt("library: Prompt", lambda: Prompt(**fields))
    if prompt is not None:
        body, _ = prompt.to_wire()
        hostile.encode_json(body).decode("ascii")


@given(
    name=st.one_of(hostile.hostile_text, odd),
    description=st.one_of(hostile.hostile_text, odd),
    parameters=odd,
    timeout=odd,
)
def test_tool_declarations_are_refused_with_a_typed_error(
    name: Any, description: Any, parameters: Any, timeout: Any
) -> None:
    """A ``Tool`` of any name, description, schema and timeout is built or refused with a typed error."""
    attempt(
        "library: Tool",
        lambda: Tool(name=name, description=description, parameters=parameters, timeout=timeout),
    )


@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "max_tasks": odd,
            "min_interval": odd,
            "max_task_runtime": odd,
            "max_total_runtime": odd,
            "allowed_timezones": st.one_of(st.lists(hostile.hostile_text, max_size=2), odd),
            "max_instruction_length": odd,
            "name_pattern": st.one_of(
                st.sampled_from(["(", "[a-", "a{99999999}", ".*"]), hostile.hostile_text
            ),
            "default_runtime": odd,
            "max_start_delay": odd,
        },
    )
)
def test_plan_policy_values_are_refused_with_a_typed_error(fields: dict[str, Any]) -> None:
    """A ``PlanPolicy`` of any values is built or refused with a typed error."""
    attempt("library: PlanPolicy", lambda: PlanPolicy(**fields))


async def still_works(harness: Harness, orc: Orchestrator) -> None:
    @orc.job(runtime="1m", name=f"probe_{len(orc.jobs)}")
    def probe() -> str:
        return "still here [[tokens 2]]"

    result = await probe.run()
    assert result.text


@given(wait=odd)
async def test_result_timeout_takes_any_value_or_refuses_it(harness: Harness, wait: Any) -> None:
    """``handle.result(timeout=X)`` with any X returns, raises ``ResultTimeout``, or a typed refusal."""
    orc = harness.orchestrator()

    @orc.job(runtime="5m")
    def slow() -> str:
        return "[[sleep 2m]] done"

    async with orc:
        handle = await slow.start()
        try:
            await handle.result(timeout=wait)
            tried("library: result(timeout=)", refused=False)
        except ResultTimeout:
            tried("library: result(timeout=)", refused=False)
        except OrchestratorError as exc:
            explained(exc)
            tried("library: result(timeout=)", refused=True)
        except Exception as exc:
            broken("library: result(timeout=)", f"{wait!r}: {exc!r}")
            raise
        assert (await handle.result()).text


async def test_cancel_twice_and_after_the_end(harness: Harness) -> None:
    """Cancelling a task twice, and after it ended, is harmless; a dispatch refuses with NotCancellable."""
    orc = harness.orchestrator()

    @orc.job(runtime="2h", cancellable=True)
    def long() -> str:
        return "[[sleep 1h]] done"

    @orc.job(runtime="1m")
    def short() -> str:
        return "quick [[tokens 2]]"

    async with orc:
        handle = await long.start()
        await handle.cancel()
        await handle.cancel()
        with pytest.raises(JobCancelled):
            await handle.result()
        await handle.cancel()
        assert await handle.status() is JobStatus.CANCELLED
        done = await long.start()
        await harness.clock.sleep(timedelta(hours=2))
        await done.result()
        await done.cancel()
        assert await done.status() is JobStatus.SUCCEEDED
        dispatch = await short.start()
        await dispatch.result()
        for _ in range(2):
            with pytest.raises(NotCancellable, match="dispatch"):
                await dispatch.cancel()
        await still_works(harness, orc)
    tried("library: cancel", refused=False)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


async def _hang() -> str:
    import asyncio

    await asyncio.Event().wait()
    return "never"


def _circular() -> Any:
    x: list[Any] = []
    x.append(x)
    return x


TOOL_OUTCOMES: dict[str, Any] = {
    "raises": lambda: (_ for _ in ()).throw(ValueError("bad \ud800 input")),
    "raises unprintable": lambda: (_ for _ in ()).throw(_Unprintable()),
    "returns an object": lambda: object(),
    "returns NaN": lambda: math.nan,
    "returns a surrogate": lambda: "\ud800",
    "returns a circular list": _circular,
    "returns 5 MB": lambda: "x" * 5_000_000,
    "returns bytes": lambda: b"\xff",
}


@pytest.mark.parametrize("outcome", [*TOOL_OUTCOMES, "hangs"])
async def test_tools_that_fail_are_answered_and_the_job_goes_on(harness: Harness, outcome: str) -> None:
    """A tool that raises, hangs past its timeout or returns what is not JSON: the model gets an error or a
    value, and the job ends succeeded."""
    orc = harness.orchestrator()
    handler = _hang if outcome == "hangs" else TOOL_OUTCOMES[outcome]
    tool = Tool(name="probe", description="a probe", handler=handler, timeout=timedelta(seconds=30))

    @orc.job(runtime="5m")
    def asks() -> Prompt:
        return Prompt(text="[[call probe {}]]", functions=[tool])

    async with orc:
        t0 = harness.clock.time()
        handle = await asks.start()
        result = await handle.result()
        events = [e async for e in handle.events()]
    answered = [e for e in events if e.type == "tool.result"]
    assert len(answered) == 1, events
    if outcome == "hangs":
        assert not answered[0].data["ok"]
        assert "timed out after 30s" in str(answered[0].data["error"])
        assert harness.clock.time() - t0 >= 30
    assert result.text
    tried("library: tools", refused=not answered[0].data["ok"])


JOB_FUNCTIONS: dict[str, Any] = {
    "raises": lambda: (_ for _ in ()).throw(KeyError("x")),
    "returns None": lambda: None,
    "returns a number": lambda: 42,
    "returns bytes": lambda: b"text",
    "returns a dict": lambda: {"text": "hi"},
    "returns empty text": lambda: "",
    "returns a surrogate": lambda: "\ud800",
    "returns 5 MB": lambda: "x" * 5_000_000,
}


@pytest.mark.parametrize("outcome", JOB_FUNCTIONS)
async def test_job_functions_that_raise_or_return_the_wrong_type(harness: Harness, outcome: str) -> None:
    """``start()`` of a job whose function raises re-raises it; a wrong return type is a typed refusal;
    nothing half-made is recorded, and the orchestrator goes on running jobs."""
    orc = harness.orchestrator()
    fn = JOB_FUNCTIONS[outcome]
    bad = orc.job(runtime="1m", name="bad")(lambda: fn())
    async with orc:
        try:
            await bad.start()
            raise AssertionError(f"a job function that {outcome} was started")
        except KeyError:
            assert outcome == "raises"
            tried("library: job functions", refused=True)
        except OrchestratorError as exc:
            explained(exc)
            tried("library: job functions", refused=True)
        # nothing half-made: no record, or one the platform refused, failed with the reason
        for record in await orc.store.list_jobs():
            assert record.status is JobStatus.FAILED and record.error, record
        await still_works(harness, orc)
