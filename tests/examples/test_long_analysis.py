"""examples/long_analysis.py: a 3-hour cancellable task, cancelled by an operator after 30 platform-minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import JobStatus, VirtualClock
from orchestrator.testing import Harness

from ._support import load_example

long_analysis = load_example("long_analysis")


async def test_operator_cancels_the_analysis(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    """The analysis runs as a task, shows progress, is cancelled at 30 minutes; result() raised JobCancelled."""
    start = harness.clock.time()
    status = await long_analysis.main(platform=harness.platform.client(), store="memory://")
    assert status is JobStatus.CANCELLED
    assert timedelta(minutes=30) <= timedelta(seconds=harness.clock.time() - start) < timedelta(hours=1)
    out = capsys.readouterr().out
    assert "analyse is routed to a task" in out
    assert "it must be cancellable" in out
    progress = [line for line in out.splitlines() if "progress: running" in line]
    assert len(progress) >= 3  # every 10 platform-minutes until the operator stepped in
    assert "0:10:" in progress[1] and "0:20:" in progress[2]
    assert "operator: 0:30:00 is enough, cancelling" in out
    assert "result() raised JobCancelled" in out
    assert ": job.cancel_requested" in out
    assert out.rstrip().endswith("status: cancelled")
    async with harness.platform.client() as client:
        tasks = [t async for t in client.tasks.list()]
        executions = [e async for e in client.tasks.executions(tasks[0].id)]
    assert [e.status for e in executions] == ["canceled"]
    assert tasks[0].max_time == int(3 * 3600 / 0.8 * 1000)  # runtime 3h over the routing headroom


async def test_analysis_that_ends_before_the_operator(capsys: pytest.CaptureFixture[str]) -> None:
    """On the default embedded platform with a patient operator, the run finishes and is reported as finished."""
    status = await long_analysis.main(clock=VirtualClock(), cancel_after=timedelta(hours=3))
    assert status is JobStatus.SUCCEEDED
    out = capsys.readouterr().out
    assert "it finished before the operator stepped in" in out
    assert "operator:" not in out
    assert out.rstrip().endswith("status: succeeded")
