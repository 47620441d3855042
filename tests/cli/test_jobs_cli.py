"""``orchestrator jobs ...`` as a command, against a SQLite store written by an orchestrator on the harness."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator import JobCancelled, JobStatus, JobTimedOut, Prompt
from orchestrator.testing import Harness

from .conftest import invoke_in_thread


@dataclass
class Populated:
    url: str
    ok_id: str
    failed_id: str
    chat_id: str


@pytest.fixture
async def populated(harness: Harness, tmp_path: Path) -> Populated:
    """A SQLite store holding a succeeded dispatch, a failed dispatch and a succeeded completion."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    orc = harness.orchestrator(store=url)

    @orc.job(runtime="3m")
    def triage(ticket: str) -> str:
        return f"Triage {ticket} [[tokens 4]] [[sleep 1m]]"

    @orc.job(runtime="1m")
    def broken() -> str:
        return '[[fail "the model gave up"]]'

    @orc.job(interactive=True)
    def chat() -> str:
        return "Hello [[tokens 3]]"

    async with orc:
        ok = await triage.start("T-1")
        await ok.result()
        failed = await broken.start()
        with pytest.raises(Exception, match="gave up"):
            await failed.result()
        reply = await chat.start()
        await reply.result()
    return Populated(url, ok.id, failed.id, reply.id)


async def test_list_table_and_json(populated: Populated) -> None:
    """jobs list prints every job; --json is machine-readable; --status and --job filter."""
    table = await invoke_in_thread(["jobs", "list", "--store", populated.url])
    as_json = await invoke_in_thread(["jobs", "list", "--store", populated.url, "--json"])
    failed = await invoke_in_thread(
        ["jobs", "list", "--store", populated.url, "--status", "failed", "--json"]
    )
    named = await invoke_in_thread(["jobs", "list", "--store", populated.url, "--job", "chat", "--json"])
    limited = await invoke_in_thread(["jobs", "list", "--store", populated.url, "--limit", "1", "--json"])
    assert table.exit_code == 0, table.output
    for job_id in (populated.ok_id, populated.failed_id, populated.chat_id):
        assert job_id in table.stdout
    assert "ceiling_exceeded" not in table.stdout
    assert {j["id"] for j in json.loads(as_json.stdout)} == {
        populated.ok_id,
        populated.failed_id,
        populated.chat_id,
    }
    assert [j["id"] for j in json.loads(failed.stdout)] == [populated.failed_id]
    assert [(j["route"], j["status"]) for j in json.loads(named.stdout)] == [("complete", "succeeded")]
    assert len(json.loads(limited.stdout)) == 1


async def test_store_from_environment(populated: Populated) -> None:
    """Without --store, ORCHESTRATOR_STORE names the store."""
    result = await invoke_in_thread(["jobs", "list", "--json"], env={"ORCHESTRATOR_STORE": populated.url})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3


async def test_show_and_its_json(populated: Populated) -> None:
    """jobs show prints the record, the error of a failed job, and the event count."""
    shown = await invoke_in_thread(["jobs", "show", populated.failed_id, "--store", populated.url])
    as_json = await invoke_in_thread(["jobs", "show", populated.ok_id, "--store", populated.url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert "the model gave up" in shown.stdout
    assert "failed" in shown.stdout
    data = json.loads(as_json.stdout)
    assert data["status"] == "succeeded" and data["route"] == "dispatch"
    assert data["event_count"] >= 4
    assert data["duration"] == pytest.approx(60, abs=5)


async def test_unknown_id_exits_1(populated: Populated) -> None:
    """show, watch and cancel of an unknown id say so and exit 1."""
    for command in ("show", "watch", "cancel"):
        result = await invoke_in_thread(["jobs", command, "job_nope", "--store", populated.url])
        assert result.exit_code == 1, result.output
        assert "no job 'job_nope'" in result.stderr
        assert "Traceback" not in result.output


async def test_watch_prints_the_log_of_a_finished_job(populated: Populated) -> None:
    """watch prints a finished job's log and returns; --exit-status makes a failed job exit 1."""
    ok = await invoke_in_thread(["jobs", "watch", populated.ok_id, "--store", populated.url])
    failed = await invoke_in_thread(
        ["jobs", "watch", populated.failed_id, "--store", populated.url, "--exit-status"]
    )
    assert ok.exit_code == 0, ok.output
    assert "job.created" in ok.stdout and "job.succeeded" in ok.stdout
    assert ok.stdout.strip().endswith("ended succeeded")
    assert failed.exit_code == 1
    assert "the model gave up" in failed.stdout


async def test_cancel_a_dispatch_exits_2(populated: Populated) -> None:
    """Cancelling a dispatch prints the NotCancellable message and exits 2."""
    result = await invoke_in_thread(
        ["jobs", "cancel", populated.ok_id, "--store", populated.url, "--token", "t"]
    )
    assert result.exit_code == 2
    assert "cancellable=True" in result.stderr


async def test_cancel_a_running_task_on_the_platform(harness: Harness, tmp_path: Path) -> None:
    """jobs cancel cancels a running task through the platform; the orchestrator then ends it cancelled."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    orc = harness.orchestrator(store=url)

    @orc.job(runtime="3h", cancellable=True)
    def analyse() -> Prompt:
        return Prompt(text="Analyse [[sleep 2h]]", backstory="An analyst.")

    async with orc:
        handle = await analyse.start()
        await harness.clock.sleep(300)
        args = ["jobs", "cancel", handle.id, "--store", url, "--platform-url", harness.platform.base_url]
        with harness.clock.hold():  # the run must not finish in virtual time while the command works
            no_token = await invoke_in_thread(args, env={"CHATBOTKIT_API_TOKEN": ""})
            result = await invoke_in_thread(args, env={"CHATBOTKIT_API_TOKEN": harness.platform.token})
        with pytest.raises(JobCancelled):
            await handle.result()
        assert await handle.status() is JobStatus.CANCELLED
    assert no_token.exit_code == 1
    assert "CHATBOTKIT_API_TOKEN" in no_token.stderr
    assert result.exit_code == 0, result.output
    assert "cancel requested" in result.stdout
    assert harness.platform.token not in result.output


async def test_store_problems_are_messages_not_tracebacks(tmp_path: Path) -> None:
    """A missing SQLite file, a bad URL and a file that is not a database each give a message and exit 1."""
    missing = await invoke_in_thread(["jobs", "list", "--store", f"sqlite:///{tmp_path}/none.sqlite3"])
    bad_url = await invoke_in_thread(["jobs", "list", "--store", "redis://localhost"])
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    broken = await invoke_in_thread(["jobs", "list", "--store", f"sqlite:///{garbage}"])
    assert missing.exit_code == 1 and "no job store at" in missing.stderr
    assert not (tmp_path / "none.sqlite3").exists()
    assert bad_url.exit_code == 1 and "unknown store URL scheme" in bad_url.stderr
    assert broken.exit_code == 1 and "not a healthy SQLite database" in broken.stderr
    for result in (missing, bad_url, broken):
        assert "Traceback" not in result.output


async def test_memory_store_from_the_command_line_is_empty_and_says_why() -> None:
    """memory:// from the command line is an empty store of its own, and the command says so."""
    result = await invoke_in_thread(["jobs", "list", "--store", "memory://"])
    assert result.exit_code == 0
    assert "lives inside the process" in result.stderr
    assert "No jobs" in result.stdout


async def test_timed_out_job_in_list_show_and_watch(harness: Harness, tmp_path: Path) -> None:
    """A task past its bound is listed by --status timed_out, shown with its partial output, and watch exits 1."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    orc = harness.orchestrator(store=url)

    @orc.job(runtime="10m", cancellable=True)
    def overrun() -> Prompt:
        return Prompt(text="Go [[tokens 3]] [[sleep 1h]]", backstory="A worker.")

    async with orc:
        handle = await overrun.start()
        with pytest.raises(JobTimedOut):
            await handle.result()
    listed = await invoke_in_thread(["jobs", "list", "--store", url, "--status", "timed_out", "--json"])
    shown = await invoke_in_thread(["jobs", "show", handle.id, "--store", url])
    watched = await invoke_in_thread(["jobs", "watch", handle.id, "--store", url, "--exit-status"])
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.stdout)] == [handle.id]
    assert "timed_out" in shown.stdout and "alpha bravo charlie" in shown.stdout
    assert watched.exit_code == 1
    assert "job.timed_out" in watched.stdout


async def test_cancel_a_dispatch_rerun_as_a_task(harness: Harness, tmp_path: Path) -> None:
    """jobs cancel reaches a dispatch that on_ceiling="task" re-ran as a task (it is a task on the platform now)."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    orc = harness.orchestrator(store=url)

    @orc.job(runtime="10m", on_ceiling="task")
    def survey() -> Prompt:
        return Prompt(text="Survey [[sleep 5h]]", backstory="A surveyor.")

    async with orc:
        handle = await survey.start()
        async for event in handle.events():
            if event.type == "task.execution":
                break
        args = ["jobs", "cancel", handle.id, "--store", url, "--platform-url", harness.platform.base_url]
        with harness.clock.hold():
            result = await invoke_in_thread(args, env={"CHATBOTKIT_API_TOKEN": harness.platform.token})
        with pytest.raises(JobCancelled):
            await handle.result()
    assert result.exit_code == 0, result.output
    assert "cancel requested" in result.stdout
