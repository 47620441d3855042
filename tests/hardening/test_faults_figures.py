"""Faults end to end, with the figures printed at the end of the run (``tests/hardening/conftest.py``).

10,000 token events across many dispatches while 1 % of channel streams are cut: no gap and no duplicate in
any job's event log. A storm of 429s and 5xx on every endpoint: every job still reaches an end.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from orchestrator import JobHandle
from orchestrator.local import FaultRule, Faults, drop_stream, http_error, rate_limit
from orchestrator.testing import local_harness

from .._token import SUITE_TOKEN
from ._logs import check_logs
from ._tally import figure


class CountingFaults(Faults):
    """Faults that count how many times each kind fired."""

    def __init__(self, rules: list[FaultRule], *, seed: int) -> None:
        super().__init__(rules, seed=seed)
        self.fired: Counter[str] = Counter()

    def decide(self, method: str, path: str) -> list[FaultRule]:
        chosen = super().decide(method, path)
        for rule in chosen:
            self.fired[f"{rule.kind} {rule.status if rule.kind == 'status' else ''}".strip()] += 1
        return chosen


async def test_ten_thousand_events_with_one_percent_of_streams_dropped() -> None:
    """200 dispatches streaming 50 tokens each (10,000 events) while 1 % of subscriptions are cut mid-stream:
    every job succeeds with 0 gaps and 0 duplicates in its event log."""
    faults = CountingFaults([drop_stream(r"^/channel/.*/subscribe$", after=20, probability=0.01)], seed=3)
    async with local_harness(faults=faults, token=SUITE_TOKEN) as h:
        orc = h.orchestrator()

        @orc.job(runtime="5m")
        def chatty(n: int) -> str:
            return f"stream {n} [[tokens 50]]"

        async with orc:
            handles = await asyncio.gather(*(chatty.start(n) for n in range(200)))
            logs = await check_logs(list(handles))
    figure(
        "faults: 1% of streams dropped",
        f"{len(handles)} dispatches, {logs.tokens} tokens, {faults.fired['drop']} streams dropped, "
        f"{logs.reconnects} reconnects, {logs.gaps} gaps, {logs.duplicates} duplicates, ends {dict(logs.ends)}",
    )
    assert logs.ends == {"succeeded": 200}
    assert logs.tokens >= 10_000
    assert faults.fired["drop"] >= 1 and logs.reconnects >= faults.fired["drop"]
    assert (logs.gaps, logs.duplicates) == (0, 0)


async def test_a_storm_of_429_and_5xx_on_every_endpoint_still_ends_every_job() -> None:
    """With 429s (Retry-After), 502s and 503s on a fifth of all requests, every dispatch and task job succeeds:
    dispatches are retried with their channelId, task and bot creates reconciled by their meta key."""
    faults = CountingFaults(
        [
            rate_limit("", retry_after=1, probability=0.1),
            http_error("", status=503, probability=0.06),
            http_error("", status=502, probability=0.04),
        ],
        seed=7,
    )
    async with local_harness(faults=faults, token=SUITE_TOKEN) as h:
        orc = h.orchestrator()

        @orc.job(runtime="2m")
        def quick(n: int) -> str:
            return f"quick {n} [[tokens 5]]"

        @orc.job(runtime="2h", cancellable=True)
        def long(n: int) -> str:
            return f"long {n} [[sleep 30m]]"

        async with orc:
            handles: list[JobHandle] = []
            refused = 0
            for n in range(30):
                for declared in (quick, long):
                    try:
                        handles.append(await declared.start(n))
                    except Exception:  # a start the platform kept refusing is recorded as failed
                        refused += 1
            ends: Counter[str] = Counter()
            for handle in handles:
                try:
                    await handle.result()
                except Exception:  # counted below by status
                    pass
                status = await handle.status()
                assert status.terminal, (handle.id, status)
                ends[status.value] += 1
            faults.clear()
            async with h.platform.client() as client:
                tasks = [t async for t in client.tasks.list()]
    figure(
        "faults: 429/5xx storm",
        f"{sum(faults.fired.values())} faults injected {dict(faults.fired)}; {len(handles)} jobs started, "
        f"{refused} starts refused; ends {dict(ends)}; {len(tasks)} platform tasks for 30 task jobs",
    )
    assert sum(faults.fired.values()) >= 50
    assert (refused, dict(ends)) == (0, {"succeeded": 60})
    assert len(tasks) == 30  # a create retried after a 5xx was reconciled by its meta key, never made twice
