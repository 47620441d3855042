"""Test helpers, shipped as public API: a local platform on a virtual clock, an orchestrator bound to it, logs.

In a test suite::

    # conftest.py
    pytest_plugins = ["orchestrator.testing.fixtures"]

    # test_jobs.py
    async def test_triage(harness):
        orc = harness.orchestrator(jobs=[triage])
        async with orc:
            result = await triage.run("T-1")

Or without pytest::

    async with local_harness() as h:
        async with h.orchestrator(jobs=[triage]) as orc: ...
"""

from ._harness import Harness as Harness
from ._harness import local_harness as local_harness
from ._logs import capture_logs as capture_logs

__all__ = ["Harness", "capture_logs", "local_harness"]
