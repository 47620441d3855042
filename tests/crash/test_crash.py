"""Crash recovery with real processes: a worker killed with SIGKILL (or ended mid-flush), a second one on the same store.

The local platform runs as its own process, 60 times faster than real time; each worker is a separate process
(``_worker.py``). Whatever the moment of the crash, every job completes exactly once: one ``succeeded`` status,
one ``job.succeeded`` event, a gap-free log without duplicate keys, and one run on the platform.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orchestrator import EventType, JobStatus
from orchestrator.store import SQLiteStore, open_store

from ._support import (
    PlatformProcess,
    Worker,
    assert_once,
    assert_one_dispatch_run,
    assert_one_task_run,
    channel_history,
    in_flight,
    until,
)

pytestmark = pytest.mark.slow


async def test_killed_mid_dispatch_and_mid_task(platform: PlatformProcess, tmp_path: Path) -> None:
    """Dispatches killed mid-stream and tasks killed mid-run are finished once each by the next worker."""
    db = tmp_path / "jobs.sqlite3"
    url = f"sqlite:///{db}"
    first = await Worker.start(
        platform, url, tmp_path / "first.err", "--dispatches", "3", "--tasks", "2", "--sleep", "6m"
    )
    second: Worker | None = None
    try:
        started = await first.expect("started", 5)
        ids = [line["job_id"] for line in started]
        async with SQLiteStore(db) as store:
            await until(lambda: in_flight(store, ids), within=20, what="every job in flight")
            await first.kill()
            before = {i: len(await store.events(i)) for i in ids}
            for job_id in ids:
                record = await store.get_job(job_id)
                assert record is not None
                assert record.status is JobStatus.RUNNING
            second = await Worker.start(platform, url, tmp_path / "second.err", "--await-ids", ",".join(ids))
            results = await second.results(within=40)
            assert sorted(results) == sorted(ids)
            for line in started:
                events = await assert_once(store, line["job_id"], results[line["job_id"]])
                # the first worker's events are kept; the second one appended after them
                assert len(events) > before[line["job_id"]]
        async with platform.client() as client:
            await asyncio.gather(
                *(
                    assert_one_dispatch_run(client, line["channel_id"])
                    if line["route"] == "dispatch"
                    else assert_one_task_run(client, line["job_id"])
                    for line in started
                )
            )
    finally:
        await first.stop()
        if second is not None:
            await second.stop()


@pytest.mark.parametrize("exit_after", ["created", "dispatched"])
async def test_dispatch_that_may_not_have_been_sent(
    platform: PlatformProcess, tmp_path: Path, exit_after: str
) -> None:
    """A worker gone after recording a dispatch (before sending it, or before noting it sent): sent once.

    Its log still starts with ``job.created`` (route, reasons), then ``job.started``.
    """
    db = tmp_path / "jobs.sqlite3"
    url = f"sqlite:///{db}"
    first = await Worker.start(
        platform,
        url,
        tmp_path / "first.err",
        *("--dispatches", "1", "--sleep", "1m", "--exit-after", exit_after),
    )
    second: Worker | None = None
    try:
        (exiting,) = await first.expect("exiting")
        assert await first.wait_exit() == 9
        job_id = exiting["job_id"]
        async with SQLiteStore(db) as store:
            record = await store.get_job(job_id)
            assert record is not None
            assert record.status is JobStatus.PENDING
            channel_id = str(record.spec["channel_id"])
            async with platform.client() as client:
                sent = await channel_history(client, channel_id)
            # the platform has the run exactly when the worker got as far as sending it
            assert bool(sent) is (exit_after == "dispatched")
            second = await Worker.start(platform, url, tmp_path / "second.err", "--await-ids", job_id)
            results = await second.results(within=40)
            events = await assert_once(store, job_id, results[job_id])
        assert results[job_id]["channel_id"] == channel_id
        assert [e.type for e in events][:2] == [EventType.CREATED, EventType.STARTED]
        assert events[0].data["route"] == "dispatch"
        assert events[1].data["channel_id"] == channel_id
        async with platform.client() as client:
            await assert_one_dispatch_run(client, channel_id)
    finally:
        await first.stop()
        if second is not None:
            await second.stop()


@pytest.mark.parametrize("exit_after", ["part-recorded", "part-sent"])
async def test_crash_between_parts_of_a_continued_dispatch(
    platform: PlatformProcess, tmp_path: Path, exit_after: str
) -> None:
    """A worker gone between the parts of an on_ceiling="continue" job: the next one runs each part once."""
    db = tmp_path / "jobs.sqlite3"
    url = f"sqlite:///{db}"
    first = await Worker.start(
        platform, url, tmp_path / "first.err", *("--continues", "1", "--exit-after", exit_after)
    )
    second: Worker | None = None
    try:
        (exiting,) = await first.expect("exiting", within=60)
        assert await first.wait_exit() == 9
        job_id = exiting["job_id"]
        async with SQLiteStore(db) as store:
            record = await store.get_job(job_id)
            assert record is not None
            assert record.status is JobStatus.PENDING
            assert record.state["part"] == 2
            first_channel = str(record.spec["channel_id"])
            second_channel = str(record.state["channel_id"])
            assert second_channel == f"{first_channel}-c2"
            async with platform.client() as client:
                sent = await channel_history(client, second_channel)
            # the platform has the second part exactly when the worker got as far as sending it
            assert bool(sent) is (exit_after == "part-sent")
            second = await Worker.start(platform, url, tmp_path / "second.err", "--await-ids", job_id)
            results = await second.results(within=60)
            result = results[job_id]
            events = await store.events(job_id)
        assert result["status"] == "succeeded"
        assert result["parts"] == 2
        assert result["channel_ids"] == [first_channel, second_channel]
        # part 1 streamed three tokens before the kill; part 2 went on after them: nothing lost or doubled
        assert result["text"] == "alpha bravo charlie alpha bravo Done: continue 0"
        keys = [e.key for e in events if e.key is not None]
        assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types.count(EventType.CEILING_CONTINUED) == 1
        assert types.count(EventType.STARTED) == 2
        assert types.count(EventType.SUCCEEDED) == 1
        tokens = "".join(str(e.data["token"]) for e in events if e.type == EventType.TOKEN)
        assert tokens == result["text"]
        async with platform.client() as client:
            first_run = [e.type for e in await channel_history(client, first_channel)]
            assert first_run.count("completeBegin") == 1 and "result" not in first_run
            await assert_one_dispatch_run(client, second_channel)
    finally:
        await first.stop()
        if second is not None:
            await second.stop()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_killed_mid_flush_logs_every_token_once(
    platform: PlatformProcess, tmp_path: Path, kind: str, postgres_url: str
) -> None:
    """A worker gone mid-flush (rows inserted, no commit): none of that flush is kept; the next worker logs
    every token once, from the channel's replay, with a gap-free log."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}" if kind == "sqlite" else postgres_url
    first = await Worker.start(
        platform,
        url,
        tmp_path / "first.err",
        *("--dispatches", "2", "--sleep", "1m", "--exit-after", "flushing"),
    )
    second: Worker | None = None
    try:
        started = await first.expect("started", 2, within=30)
        (exiting,) = await first.expect("exiting", within=30)
        assert await first.wait_exit() == 9
        ids = [line["job_id"] for line in started]
        lost = {(item["job_id"], item["key"]) for item in exiting["batch"] if item["key"]}
        assert lost, exiting
        assert any(item["type"] == EventType.TOKEN for item in exiting["batch"])
        async with open_store(url) as store:
            durable_tokens = 0
            for job_id in ids:
                events = await store.events(job_id)
                assert [e.seq for e in events] == list(range(1, len(events) + 1))
                assert not {(job_id, e.key) for e in events} & lost, "the killed flush left nothing behind"
                durable_tokens += sum(e.type == EventType.TOKEN for e in events)
            assert durable_tokens >= 1, "killed mid-stream: the flush before the killed one was kept"
            second = await Worker.start(platform, url, tmp_path / "second.err", "--await-ids", ",".join(ids))
            results = await second.results(within=40)
            assert sorted(results) == sorted(ids)
            for job_id in ids:
                await assert_once(store, job_id, results[job_id])
        async with platform.client() as client:
            for line in started:
                await assert_one_dispatch_run(client, line["channel_id"])
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
