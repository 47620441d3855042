"""``jobs list|show|watch|cancel`` against the memory store of a running orchestrator (the commands' async core)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from orchestrator import EventType, JobCancelled, JobStatus, Prompt
from orchestrator.cli._common import CliError, RefusedError
from orchestrator.cli._jobs import cancel_job, list_jobs, show_job, watch_job
from orchestrator.platform import PlatformClient
from orchestrator.store import JobRecord, MemoryStore
from orchestrator.testing import Harness


def _no_client() -> PlatformClient:
    raise AssertionError("this cancel must not call the platform")


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=220, highlight=False), out


async def test_list_shows_every_job_newest_first(harness: Harness) -> None:
    """The table lists each job with its id, name, route and status, newest first."""
    orc = harness.orchestrator()

    @orc.job(runtime="3m")
    def triage(ticket: str) -> str:
        return f"Triage {ticket} [[sleep 1m]]"

    @orc.job(runtime="1m")
    def broken() -> str:
        return '[[fail "no model"]]'

    async with orc:
        first = await triage.start("T-1")
        await first.result()
        second = await broken.start()
        await second.status()
        with pytest.raises(Exception, match="no model"):
            await second.result()
        con, out = console()
        records = await list_jobs(orc.store, con)
    text = out.getvalue()
    assert [r.id for r in records] == [second.id, first.id]
    assert first.id in text and second.id in text
    assert "triage" in text and "broken" in text
    assert "succeeded" in text and "failed" in text
    assert "dispatch" in text
    assert "1m" in text  # the triage run's duration


async def test_list_json_and_filters(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints an array of job summaries; --status and --job filter it."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def ok() -> str:
        return "fine"

    @orc.job(runtime="1m")
    def bad() -> str:
        return '[[fail "nope"]]'

    async with orc:
        await ok.run()
        await (await bad.start()).status()
        handle = orc.get_handle((await orc.store.list_jobs(job_name="bad"))[0].id)
        with pytest.raises(Exception, match="nope"):
            await handle.result()
        capsys.readouterr()
        await list_jobs(orc.store, console()[0], as_json=True)
        everything = json.loads(capsys.readouterr().out)
        await list_jobs(orc.store, console()[0], statuses=[JobStatus.FAILED], as_json=True)
        failed = json.loads(capsys.readouterr().out)
        await list_jobs(orc.store, console()[0], job_name="ok", as_json=True)
        named = json.loads(capsys.readouterr().out)
        con, out = console()
        await list_jobs(orc.store, con, job_name="nothing-by-this-name")
    assert {j["job_name"] for j in everything} == {"ok", "bad"}
    assert set(everything[0]) == {
        "id", "job_name", "route", "status", "created_at", "started_at", "finished_at", "duration", "parent_id",
    }  # fmt: skip
    assert [j["job_name"] for j in failed] == ["bad"]
    assert [j["status"] for j in named] == ["succeeded"]
    assert "No jobs" in out.getvalue()


async def test_show_prints_record_result_and_event_count(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """show prints the record with its result text and event count; --json holds the whole record."""
    orc = harness.orchestrator()

    @orc.job(runtime="3m")
    def triage(ticket: str) -> str:
        return f"Triage {ticket} [[tokens 3]]"

    async with orc:
        handle = await triage.start("T-9")
        result = await handle.result()
        events = [e async for e in handle.events()]
        con, out = console()
        await show_job(orc.store, con, handle.id)
        capsys.readouterr()
        await show_job(orc.store, console()[0], handle.id, as_json=True)
        shown = json.loads(capsys.readouterr().out)
    text = out.getvalue()
    assert handle.id in text
    assert "succeeded" in text
    assert result.text.split()[0] in text
    assert f"{len(events)} (orchestrator jobs watch {handle.id})" in text
    assert shown["id"] == handle.id
    assert shown["status"] == "succeeded"
    assert shown["event_count"] == len(events)
    assert shown["result"]["text"] == result.text
    assert shown["state"]["channel_id"] == result.channel_id


async def test_show_unknown_id_is_a_clear_error(harness: Harness) -> None:
    """An unknown id ends the command with exit status 1 and a message naming the id."""
    async with harness.orchestrator() as orc:
        with pytest.raises(CliError, match="no job 'job_missing'") as info:
            await show_job(orc.store, console()[0], "job_missing")
    assert info.value.exit_code == 1


async def test_watch_follows_a_live_job_with_tokens_inline(harness: Harness) -> None:
    """watch prints the log, follows new events live until the job ends, and writes tokens on one line."""
    orc = harness.orchestrator()

    @orc.job(runtime="5m")
    def slow() -> str:
        return "Think [[tokens 3]] [[sleep 2m]] [[tokens 3]]"

    async with orc:
        handle = await slow.start()
        con, out = console()
        status = await watch_job(orc.store, con, handle.id)
        events = [e async for e in handle.events()]
    text = out.getvalue()
    lines = text.splitlines()
    assert status is JobStatus.SUCCEEDED
    assert lines[0].startswith("#1") and "job.created" in lines[0]
    assert any("job.started" in line and "channel_id=orc-" in line for line in lines)
    token_lines = [line for line in lines if " tokens " in line]
    tokens = "".join(str(e.data["token"]) for e in events if e.type == EventType.TOKEN)
    assert len(token_lines) >= 1
    assert tokens.split()[0] in token_lines[0]
    assert any("job.succeeded" in line for line in lines)
    assert lines[-1] == f"job {handle.id} ended succeeded"


async def test_watch_since_skips_earlier_events(harness: Harness) -> None:
    """watch --since N starts after event N."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def quick() -> str:
        return "hello"

    async with orc:
        handle = await quick.start()
        await handle.result()
        con, out = console()
        await watch_job(orc.store, con, handle.id, since=2)
    assert out.getvalue().splitlines()[0].startswith("#3 ")


async def test_cancel_stops_a_task_run(harness: Harness) -> None:
    """cancel records the request and cancels the platform run; the supervising orchestrator ends it cancelled."""
    orc = harness.orchestrator()

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> Prompt:
        return Prompt(text=f"Analyse {corpus} [[sleep 2h]]", backstory="An analyst.")

    async with orc:
        handle = await analyse.start("corpus-1")
        await harness.clock.sleep(600)
        con, out = console()
        await cancel_job(orc.store, con, handle.id, client=harness.platform.client)
        with pytest.raises(JobCancelled):
            await handle.result()
        events = [e async for e in handle.events()]
        record = await handle.record()
    assert "cancel requested" in out.getvalue()
    assert [e.type for e in events].count(EventType.CANCEL_REQUESTED) == 1
    assert record.state["cancel_requested"] is True
    assert record.status is JobStatus.CANCELLED


async def test_cancel_refuses_a_dispatch_with_exit_2(harness: Harness) -> None:
    """A dispatch cannot be cancelled: the NotCancellable message, exit status 2, and nothing recorded."""
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def triage() -> str:
        return "hi [[sleep 1m]]"

    async with orc:
        handle = await triage.start()
        with pytest.raises(RefusedError, match="cancellable=True") as info:
            await cancel_job(orc.store, console()[0], handle.id, client=harness.platform.client)
        await handle.result()
        events = [e.type async for e in handle.events()]
    assert info.value.exit_code == 2
    assert EventType.CANCEL_REQUESTED not in events


async def test_cancel_of_a_finished_task_does_nothing(harness: Harness) -> None:
    """A task that already ended is left as it is, with a message saying so."""
    orc = harness.orchestrator()

    @orc.job(runtime="1h", cancellable=True)
    def short() -> Prompt:
        return Prompt(text="quick", backstory="b")

    async with orc:
        handle = await short.start()
        await handle.result()
        con, out = console()
        await cancel_job(orc.store, con, handle.id, client=_no_client)
        assert await handle.status() is JobStatus.SUCCEEDED
    assert "already ended succeeded" in out.getvalue()


async def test_cancel_of_a_pending_task_without_a_platform_task() -> None:
    """A task job still pending with no platform task is cancelled in the store alone."""
    store = MemoryStore()
    async with store:
        await store.create_job(
            JobRecord(
                id="job_pending", job_name="analyse", route="task", status=JobStatus.PENDING,
                created_at=1.0, updated_at=1.0, idempotency_key="job_pending",
            )
        )  # fmt: skip
        con, out = console()
        await cancel_job(store, con, "job_pending", client=_no_client)
        record = await store.get_job("job_pending")
        events = [e.type for e in await store.events("job_pending")]
    assert record is not None and record.status is JobStatus.CANCELLED
    assert events == [EventType.CANCEL_REQUESTED, EventType.CANCELLED]
    assert "cancelled before it started" in out.getvalue()
