"""Work lost on the platform's side still ends its job: no supervisor waits forever for a run that cannot end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import JobFailed, Prompt
from orchestrator.testing import Harness


async def test_task_deleted_on_the_platform_ends_the_job(harness: Harness) -> None:
    """A task deleted on the platform mid-run ends its job as failed, saying so, instead of polling forever."""
    orc = harness.orchestrator()

    @orc.job(runtime="3h", cancellable=True)
    def analysis() -> Prompt:
        return Prompt(text="work [[sleep 1h]]")

    async with orc:
        handle = await analysis.start()
        await harness.clock.sleep(300)
        record = await handle.record()
        async with harness.platform.client() as client:
            await client.tasks.delete(str(record.state["task_id"]))
        # twice the declared runtime: any bound (the 404 itself, or maxTime plus a grace) is within it
        with pytest.raises(JobFailed, match=r"(?i)not found|deleted|no longer"):
            await handle.result(timeout=timedelta(hours=6))
