"""Retention and secrets: finished jobs are pruned after the retention age; the token never leaks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from orchestrator import Prompt
from orchestrator.testing import Harness


async def test_finished_jobs_are_pruned_after_retention(harness: Harness) -> None:
    """A finished job and its events are deleted once older than ``retention``; a running one is kept."""
    orc = harness.orchestrator(retention=timedelta(hours=1))

    @orc.job(runtime="1m")
    def quick() -> str:
        return "hi [[tokens 2]]"

    @orc.job(runtime="6h", cancellable=True)
    def slow() -> str:
        return "[[sleep 5h]]"

    async with orc:
        done = await quick.start()
        await done.result()
        running = await slow.start()
        await harness.clock.sleep(timedelta(hours=3))
        assert await orc.store.get_job(done.id) is None
        assert await orc.store.events(done.id) == []
        assert await orc.store.get_job(running.id) is not None


async def test_token_never_in_store_logs_or_reprs(harness: Harness, tmp_path: Path) -> None:
    """The platform token appears in no stored record or event, no log line, and no repr."""
    token = harness.platform.token
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    orc = harness.orchestrator(store=url)

    @orc.job(runtime="2m")
    def triage(ticket: str) -> Prompt:
        return Prompt(text=f"Triage {ticket} [[tokens 3]]")

    @orc.job(runtime="2m")
    def broken() -> str:
        return '[[fail "nope"]]'

    with capture_logs() as logs:
        async with orc:
            handle = await triage.start("T-9")
            await handle.result()
            failing = await broken.start()
            try:
                await failing.result()
            except Exception as exc:  # the failure's text is checked below
                texts: list[Any] = [str(exc), repr(exc)]
            records = [await orc.store.get_job(handle.id), await orc.store.get_job(failing.id)]
            events = [*await orc.store.events(handle.id), *await orc.store.events(failing.id)]
            texts += [repr(orc), repr(orc.client), repr(handle), repr(orc.store)]
    texts += [repr(r) for r in records] + [json.dumps(e.data, default=str) for e in events]
    texts += [json.dumps(line, default=str) for line in logs]
    texts.append((tmp_path / "jobs.sqlite3").read_bytes().decode("latin-1"))
    assert all(token not in t for t in texts)
