"""Supervisors acknowledge nothing before the store holds it: a store whose writes fail for a while loses no
execution, event or state (the class of the dispatch supervisor's "counted as seen before recorded" bug)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from orchestrator import EventType, JobFailed, StoreError, VirtualClock
from orchestrator.store import JobEvent, JobRecord, JobStatus, MemoryStore
from orchestrator.testing import Harness

from ._tally import figure


class FlakyWrites(MemoryStore):
    """A memory store whose writes of one kind fail their first ``failures`` times (a store down a while)."""

    def __init__(self, kinds: tuple[str, ...], *, failures: int) -> None:
        super().__init__()
        self.left = dict.fromkeys(kinds, failures)
        self.failed = 0

    def _fail(self, what: str) -> None:
        if self.left.get(what, 0) > 0:
            self.left[what] -= 1
            self.failed += 1
            raise StoreError(f"writing {what} failed in the store memory://: the store is down. Retry")

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        for name in ("execution_id", "conversation_id"):
            if state is not None and state.get(name):
                self._fail(name)
        return await super().update_job(
            job_id, status=status, state=state, started_at=started_at, deadline=deadline
        )

    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        self._fail(type)
        return await super().append_event(job_id, type, data, key=key)


_TASK_WRITES = ("execution_id", "conversation_id", EventType.TASK_EXECUTION)


@pytest.mark.parametrize(
    ("kinds", "failures"),
    [(("execution_id",), 1), (("conversation_id",), 1), ((EventType.TASK_EXECUTION,), 2), (_TASK_WRITES, 3)],
)
async def test_task_supervisor_records_each_execution_though_store_writes_fail_a_while(
    harness: Harness, kinds: tuple[str, ...], failures: int
) -> None:
    """A task job's execution id, conversation id and execution events are written again until the store takes
    them: the retry triggers a second run (not the failed one again) and both runs are in the log."""
    store = FlakyWrites(kinds, failures=failures)
    orc = harness.orchestrator(store=store)

    @orc.job(runtime="1h", cancellable=True, retries=1)
    def flaky_task() -> str:
        return '[[sleep 5m]] [[fail "upstream down"]]'

    async with orc:
        handle = await flaky_task.start()
        with pytest.raises(JobFailed, match="upstream down"):
            await handle.result()
        events = [e async for e in handle.events()]
        record = await handle.record()
    async with harness.platform.client() as client:
        executions = [e async for e in client.tasks.executions(str(record.state["task_id"]))]
    seen = {e.data["execution_id"] for e in events if e.type == EventType.TASK_EXECUTION}
    figure(
        f"store: task writes failing ({failures} of {'/'.join(kinds)})",
        f"{store.failed} writes failed; {len(executions)} runs, {len(seen)} in the log; ends {record.status.value}",
    )
    assert store.failed == len(kinds) * failures
    assert [e.data["attempt"] for e in events if e.type == EventType.RETRY] == [2]
    assert len(executions) == 2
    assert seen == {e.id for e in executions}
    assert record.state["execution_id"] in seen
    assert record.state.get("conversation_id")


class FlakyCreates(MemoryStore):
    """A memory store whose first ``failures`` job creations fail (the store down when a scheduled run starts)."""

    def __init__(self, clock: VirtualClock, *, failures: int) -> None:
        super().__init__(clock=clock)
        self.left = failures
        self.failed = 0

    async def create_job(self, record: JobRecord) -> JobRecord:
        if self.left > 0:
            self.left -= 1
            self.failed += 1
            raise StoreError("creating a job failed in the store memory://: the store is down. Retry")
        return await super().create_job(record)


@pytest.mark.parametrize("failures", [1, 4])
async def test_a_scheduled_run_is_adopted_soon_though_the_store_refused_it_at_first(
    harness: Harness, failures: int
) -> None:
    """A scheduled run the event log announced while the store refused new records is adopted minutes later
    (the listener retried), not at the next scheduled run; the event-log subscription stays up."""
    store = FlakyCreates(harness.clock, failures=failures)
    seven = harness.clock.time() + 7 * 3600  # the harness starts at midnight
    orc = harness.orchestrator(store=store)

    @orc.job(schedule="0 7 * * *", runtime="20m", name="daily")
    def daily() -> str:
        return "Summarise [[sleep 5m]]"

    async with orc:
        await harness.clock.sleep(timedelta(hours=8))
        records = await orc.store.list_jobs(job_name="daily")
        healthy = orc.context.tracker.healthy
    late = [round(r.created_at - seven) for r in records]
    figure(
        f"store: scheduled run adopted after {failures} refused creations",
        f"{store.failed} creations failed; adopted {late} s after the run started; {[r.status.value for r in records]}",
    )
    assert store.failed == failures
    assert healthy
    assert [r.status for r in records] == [JobStatus.SUCCEEDED]
    assert 0 <= late[0] < 300


async def test_a_completion_whose_token_write_fails_fails_with_the_store_error(harness: Harness) -> None:
    """A completion whose token write the store refuses ends failed with the store's error quoted (it was
    "supervision failed: unhandled errors in a TaskGroup")."""
    store = FlakyWrites((EventType.TOKEN,), failures=1)
    orc = harness.orchestrator(store=store)

    @orc.job(interactive=True)
    def chat(text: str) -> str:
        return f"{text} [[tokens 8]]"

    async with orc:
        handle = await chat.start("hello")
        with pytest.raises(JobFailed, match="writing token failed in the store memory://: the store is down"):
            await handle.result()
    assert store.failed == 1
