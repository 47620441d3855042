"""examples/fastapi_service.py: start, read, stream (SSE, resumable) and cancel jobs over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from orchestrator import JobCancelled, Orchestrator, VirtualClock
from orchestrator.testing import Harness

from ._support import in_process, load_example, serve

fastapi_service = load_example("fastapi_service")


def make_app(harness: Harness | None) -> Any:
    """The service on the harness's platform, or (``None``) on the default embedded platform."""

    def factory() -> Orchestrator:
        if harness is None:
            default: Orchestrator = fastapi_service.create_orchestrator(clock=VirtualClock())
            return default
        orc: Orchestrator = fastapi_service.create_orchestrator(
            platform=harness.platform.client(), store="memory://"
        )
        return orc

    return fastapi_service.create_app(orchestrator_factory=factory)


async def sse(client: httpx.AsyncClient, url: str, **kwargs: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """Every event of an SSE response, as (id, event, data)."""
    async with aconnect_sse(client, "GET", url, **kwargs) as source:
        assert source.response.status_code == 200
        return [(int(e.id), e.event, e.json()) async for e in source.aiter_sse()]


async def test_start_a_job_and_read_its_result() -> None:
    """POST /jobs starts a declared job (202); GET /jobs/{id} then shows it succeeded, with its result."""
    app = make_app(None)  # the default: an embedded local platform
    async with in_process(app) as client:
        response = await client.post("/jobs", json={"job": "triage", "args": ["T-1 printer on fire"]})
        assert response.status_code == 202
        job = response.json()
        assert job["job"] == "triage"
        assert job["route"] == "dispatch"
        assert job["status"] == "running"
        await app.state.orchestrator.get_handle(job["id"]).result()
        view = (await client.get(job["links"]["self"])).json()
    assert view["status"] == "succeeded"
    assert "T-1 printer on fire" in view["result"]["text"]
    assert view["error"] is None


async def test_bad_requests_say_what_is_wrong(harness: Harness) -> None:
    """An unknown job, arguments the job does not take, or a malformed body are a 400 that says why; 404s."""
    async with in_process(make_app(harness)) as client:
        unknown = await client.post("/jobs", json={"job": "nope"})
        too_many = await client.post("/jobs", json={"job": "triage", "args": ["a", "b"]})
        missing = await client.post("/jobs", json={"job": "analyse", "kwargs": {"focus": "themes"}})
        refused = await client.post("/jobs", json={"job": "analyse", "args": ["c-1", "gossip"]})
        malformed = await client.post("/jobs", json={"job": "triage", "args": "T-1", "arg": 1})
        not_json = await client.post("/jobs", content=b"job=triage", headers={"content-type": "text/plain"})
        no_job = await client.get("/jobs/job_missing")
        no_events = await client.get("/jobs/job_missing/events")
        no_cancel = await client.post("/jobs/job_missing/cancel")
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "unknown job 'nope': this service declares analyse, triage"
    assert too_many.status_code == 400
    assert "triage(ticket)" in too_many.json()["detail"]
    assert missing.status_code == 400
    assert "analyse(corpus, focus='themes')" in missing.json()["detail"]
    assert "corpus" in missing.json()["detail"]
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "job 'analyse' refused its arguments: focus must be one of themes, sentiment, feature requests, "
        "got 'gossip'"
    )
    assert malformed.status_code == 400
    assert "body.args" in malformed.json()["detail"] and "body.arg" in malformed.json()["detail"]
    assert not_json.status_code == 400
    assert [r.status_code for r in (no_job, no_events, no_cancel)] == [404, 404, 404]
    assert "no job 'job_missing'" in no_job.json()["detail"]


async def test_events_stream_as_sse_and_resume(harness: Harness) -> None:
    """The event log streams as SSE (id = seq); Last-Event-ID or ?since= resume it; a finished log is a 204."""
    app = make_app(harness)
    async with in_process(app) as client:
        job = (await client.post("/jobs", json={"job": "triage", "kwargs": {"ticket": "T-2"}})).json()
        url = job["links"]["events"]
        full = await sse(client, url)  # live until the job ends (ASGITransport hands it over at the end)
        after_3 = await sse(client, url, headers={"Last-Event-ID": "3"})
        after_5 = await sse(client, url, params={"since": 5})
        header_wins = await sse(client, url, params={"since": 1}, headers={"Last-Event-ID": "6"})
        done = await client.get(url, headers={"Last-Event-ID": str(full[-1][0])})
        bad = await client.get(url, headers={"Last-Event-ID": "yesterday"})
        below_zero = await client.get(url, headers={"Last-Event-ID": "-2"})
        negative = await client.get(url, params={"since": -1})
        result = await app.state.orchestrator.get_handle(job["id"]).result()
    assert [seq for seq, _, _ in full] == list(range(1, len(full) + 1))
    assert full[0][1] == "job.created" and full[1][1] == "job.started"
    assert full[-1][1] == "job.succeeded"
    assert full[-1][2]["text"] == result.text
    assert "".join(data["token"] for _, kind, data in full if kind == "token") == result.text
    assert after_3 == full[3:]
    assert after_5 == full[5:]
    assert header_wins == full[6:]
    assert done.status_code == 204
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]
    assert below_zero.status_code == 400
    assert negative.status_code == 400


async def test_live_stream_resumes_after_a_dropped_connection(harness: Harness) -> None:
    """Over real HTTP: a client that drops mid-job and reconnects with Last-Event-ID misses and repeats nothing."""
    async with serve(make_app(harness)) as client:
        job = (await client.post("/jobs", json={"job": "triage", "args": ["T-3"]})).json()
        url = job["links"]["events"]
        first: list[tuple[int, str]] = []
        async with aconnect_sse(client, "GET", url) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                first.append((int(event.id), event.event))
                if event.event == "token":
                    break  # the connection drops while the agent is still working
        assert (await client.get(job["links"]["self"])).json()["status"] == "running"
        rest: list[tuple[int, str]] = []
        async with aconnect_sse(client, "GET", url, headers={"Last-Event-ID": str(first[-1][0])}) as source:
            rest = [(int(event.id), event.event) async for event in source.aiter_sse()]
        view = (await client.get(job["links"]["self"])).json()
    seqs = [seq for seq, _ in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert rest[-1][1] == "job.succeeded"
    assert view["status"] == "succeeded"


async def test_cancel_a_task_but_not_a_dispatch(harness: Harness) -> None:
    """POST /jobs/{id}/cancel stops a task (202, then cancelled); a dispatch answers 409 with the reason."""
    app = make_app(harness)
    async with in_process(app) as client:
        analysis = (await client.post("/jobs", json={"job": "analyse", "args": ["corpus-7"]})).json()
        assert analysis["route"] == "task"
        await harness.clock.sleep(600)
        cancelled = await client.post(analysis["links"]["cancel"])
        assert cancelled.status_code == 202
        with pytest.raises(JobCancelled):
            await app.state.orchestrator.get_handle(analysis["id"]).result()
        view = (await client.get(analysis["links"]["self"])).json()

        triage = (await client.post("/jobs", json={"job": "triage", "args": ["T-4"]})).json()
        refused = await client.post(triage["links"]["cancel"])
        await app.state.orchestrator.get_handle(triage["id"]).result()
    assert view["status"] == "cancelled"
    assert "cancelled" in view["error"]["reason"]
    assert refused.status_code == 409
    assert "cannot cancel" in refused.json()["detail"]
    assert "cancellable=True" in refused.json()["detail"]
