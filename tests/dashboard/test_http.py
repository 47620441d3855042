"""The dashboard over HTTP on loopback: CSRF, SSE resume, filters and paging, schedules, routing, plans, safety."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from structlog.testing import capture_logs

from orchestrator import JobStatus, Orchestrator
from orchestrator.dashboard import dashboard_app, serve_dashboard
from orchestrator.store import MemoryStore

from ._support import PLAN, csrf_of, sse_messages
from .conftest import TOKEN, Env, analyse, nightly, running, triage


async def test_actions_need_the_csrf_value_and_the_same_origin(env: Env) -> None:
    """A POST without the form's CSRF value, with a wrong one, or from another origin is refused with 403."""
    handle = await analyse.start("Analyse [[sleep 1h]]")
    async with env.client() as client:
        csrf = await csrf_of(client, f"/jobs/{handle.id}")
        path = f"/jobs/{handle.id}/cancel"
        missing = await client.post(path, data={"other": "1"})
        wrong = await client.post(path, data={"csrf": "x" * 32})
        foreign = await client.post(path, data={"csrf": csrf}, headers={"Origin": "http://evil.example"})
        not_a_form = await client.post(path, content=b"{}", headers={"Content-Type": "application/json"})
        assert await handle.status() is JobStatus.RUNNING
        ok = await client.post(path, data={"csrf": csrf})
    assert missing.status_code == wrong.status_code == foreign.status_code == 403
    assert "CSRF value is missing or stale" in missing.text
    assert "another origin" in foreign.text
    assert not_a_form.status_code == 415
    assert ok.status_code == 303 and ok.headers["location"] == f"/jobs/{handle.id}"
    await env.drive(_until_terminal(env, handle.id))
    assert await handle.status() is JobStatus.CANCELLED


async def _until_terminal(env: Env, job_id: str) -> JobStatus:
    handle = env.orc.get_handle(job_id)
    while not (status := await handle.status()).terminal:
        await env.orc.clock.sleep(1)
    return status


async def test_cancel_on_a_dispatch_is_refused_with_the_reason(env: Env) -> None:
    """POST cancel on a dispatch answers 409 saying the platform cannot cancel it and what to declare."""
    handle = await triage.start("Triage [[sleep 2m]]")
    async with env.client() as client:
        csrf = await csrf_of(client, "/")
        response = await client.post(f"/jobs/{handle.id}/cancel", data={"csrf": csrf})
    assert response.status_code == 409
    assert "cannot cancel" in response.text and "cancellable=True" in response.text


async def test_timeline_resumes_after_last_event_id(env: Env) -> None:
    """The job stream gives each event's seq as its id and resumes after Last-Event-ID (or ?since=)."""
    handle = await triage.start("Triage [[tokens 3]] [[sleep 1m]]")
    await env.drive(_until_terminal(env, handle.id))
    async with env.client() as client:
        everything = await sse_messages(client, f"/live/jobs/{handle.id}")
        resumed = await sse_messages(client, f"/live/jobs/{handle.id}", headers={"Last-Event-ID": "3"})
        since = await sse_messages(client, f"/live/jobs/{handle.id}?since=2")
        bad = await client.get(f"/live/jobs/{handle.id}", headers={"Last-Event-ID": "-1"})
    ids = [int(m["id"]) for m in everything if "id" in m]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 6
    assert [int(m["id"]) for m in resumed if "id" in m] == ids[3:]
    assert [int(m["id"]) for m in since if "id" in m] == ids[2:]
    tokens = "".join(m["data"]["text"] for m in everything if m["event"] == "token")
    assert tokens.startswith("alpha bravo charlie")
    assert everything[-2]["event"] == "status" and everything[-2]["data"]["status"] == "succeeded"
    assert bad.status_code == 400 and "bad event cursor" in bad.text


async def test_jobs_list_filters_counts_and_pages(env: Env) -> None:
    """The list filters by status, job and route, counts each status, and pages by cursor without overlap."""
    dispatches = [await triage.start(f"Triage T-{n} [[sleep 1m]]") for n in range(27)]
    await env.clock.advance(1)
    task = await analyse.start("Analyse [[sleep 3h]]")  # the newest
    await env.drive(_until_terminal(env, dispatches[-1].id))
    async with env.client() as client:
        first = await client.get("/")
        older = re.search(r'id="older" href="([^"]+)"', first.text)
        assert older is not None
        second = await client.get(older.group(1).replace("&amp;", "&"))
        tasks = await client.get("/?route=task")
        running = await client.get("/?status=running")
        by_name = await client.get("/?job=analyse&status=running")
        live = await sse_messages(client, "/live/jobs?route=task", until="jobs")

    def ids(page: httpx.Response) -> list[str]:
        return re.findall(r'<tr data-id="([^"]+)"', page.text)

    assert len(ids(first)) == 25 and ids(first)[0] == task.id
    assert set(ids(first)).isdisjoint(ids(second))
    assert set(ids(first)) | set(ids(second)) == {h.id for h in dispatches} | {task.id}
    assert 'id="older"' not in second.text
    assert ids(tasks) == [task.id]
    assert ids(running) == [task.id] == ids(by_name)
    assert re.search(r'data-status="succeeded" href="[^"]*"><b>27</b>', first.text)
    assert re.search(r'data-status="running" href="[^"]*"><b>1</b>', first.text)
    assert live[0]["event"] == "jobs" and task.id in live[0]["data"]["rows"]
    assert dispatches[0].id not in live[0]["data"]["rows"]


async def test_schedules_show_cron_in_words_next_runs_and_run_now(env: Env) -> None:
    """A scheduled job shows its cron in words, its timezone, next runs in UTC, and Run now starts a run."""
    async with env.client() as client:
        csrf = await csrf_of(client, "/schedules")
        page = (await client.get("/schedules")).text
        ran = await env.drive(client.post(f"/schedules/{nightly.name}/run", data={"csrf": csrf}), step=1.0)
        after = (await client.get("/schedules")).text
        unknown = await client.post("/schedules/nope/run", data={"csrf": csrf})
    assert "0 7 * * 1-5" in page and "At 07:00, Monday through Friday, Europe/London time" in page
    # 2026-03-24 is before the clocks change in London (GMT = UTC): 07:00 London is 07:00 UTC
    assert "2026-03-24 07:00" in page and "2026-03-25 07:00" in page
    assert ran.status_code == 303 and ran.headers["location"].startswith("/jobs/job_")
    run_id = ran.headers["location"].removeprefix("/jobs/")
    assert run_id in after
    assert unknown.status_code == 404 and "no scheduled job named 'nope'" in html.unescape(unknown.text)


async def test_routing_chart_flags_a_dispatch_near_the_ceiling(env: Env) -> None:
    """The routing page draws each job's p50/p95 against the ceiling and names the job advised to move."""
    runs = [await triage.start(f"Digest {n} [[sleep 13m]]") for n in range(2)]
    for h in runs:
        await env.drive(_until_terminal(env, h.id), step=30.0)
    async with env.client() as client:
        page = (await client.get("/routing")).text
    assert "<svg" in page and 'class="ceiling"' in page
    assert '<g class="row advised" data-job="triage">' in page
    assert "p95 13m" in page
    assert "declare a longer runtime or cancellable=True" in page


async def test_plan_page_reasons_and_reject(env: Env) -> None:
    """The plans page shows the request, the refused proposal with the policy's reason; Reject deletes a task."""
    plan = await env.orc.plan(PLAN, require_approval=True)
    await env.drive(plan.wait_planned())
    async with env.client() as client:
        csrf = await csrf_of(client, "/plans")
        page = (await client.get("/plans")).text
        rejected = await client.post(
            f"/plans/{plan.id}/reject", data={"csrf": csrf, "task": "summarise-the-backlog"}
        )
        again = await client.post(
            f"/plans/{plan.id}/reject", data={"csrf": csrf, "task": "summarise-the-backlog"}
        )
        no_task = await client.post(f"/plans/{plan.id}/approve", data={"csrf": csrf})
        after = (await client.get("/plans")).text
    assert "Set up the reporting." in page
    assert re.search(
        r"<b>poll-the-feed</b>: schedule &#39;\*/5 \* \* \* \*&#39; runs as often as every 5m", page
    )
    assert rejected.status_code == 303
    assert again.status_code == 409 and "no held task named" in again.text
    assert no_task.status_code == 400
    assert re.search(r'data-task="summarise-the-backlog">.*?t-rejected">rejected', after, re.S)
    assert {t.name: t.status for t in await plan.refresh()}["summarise-the-backlog"] == "rejected"


async def test_platform_token_never_reaches_a_page_a_stream_or_a_log(env: Env) -> None:
    """Every page, stream and log line of a session is free of the platform's API token."""
    secret = env.platform.token
    with capture_logs() as logs:
        handle = await analyse.start("Analyse [[sleep 1m]]")
        await env.drive(_until_terminal(env, handle.id))
        async with env.client() as client:
            bodies = [
                (await client.get(path)).text
                for path in ("/", f"/jobs/{handle.id}", "/plans", "/schedules", "/routing", "/nowhere")
            ]
            bodies += [str(m) for m in await sse_messages(client, f"/live/jobs/{handle.id}")]
            bodies.append(str((await client.get("/", headers={"Authorization": "Bearer nope"})).headers))
    assert all(secret not in body for body in bodies)
    assert all(secret not in repr(entry) for entry in logs)
    assert secret not in repr(env.app.state.dashboard.source)


async def test_mounted_under_a_prefix_with_the_applications_own_auth() -> None:
    """Mounted at /orchestrator with a callable token, links carry the prefix and the callable decides access."""

    def allow(request: Request) -> bool:
        return request.headers.get("x-user") == "ops"

    async with running() as e:
        outer = Starlette(
            routes=[Mount("/orchestrator", dashboard_app(e.orc, token=allow, poll_interval=0.02))]
        )
        handle = await triage.start("Triage [[sleep 1m]]")
        async with serve_dashboard(outer, port=0) as url, httpx.AsyncClient(base_url=url) as client:
            page = await client.get("/orchestrator/", headers={"x-user": "ops"})
            css = await client.get("/orchestrator/static/dashboard.css")
            refused = await client.get("/orchestrator/", headers={"x-user": "someone"})
            job = await client.get(f"/orchestrator/jobs/{handle.id}", headers={"x-user": "ops"})
    assert page.status_code == 200
    assert f'href="/orchestrator/jobs/{handle.id}"' in page.text
    assert 'href="/orchestrator/static/dashboard.css"' in page.text
    assert css.status_code == 200 and "--accent" in css.text
    assert refused.status_code == 401
    assert job.status_code == 200 and 'data-live="/orchestrator/live/jobs/' in job.text


async def test_a_dashboard_before_the_orchestrator_runs_answers_503() -> None:
    """Requests before `async with orc` get a 503 page saying to start the orchestrator first."""
    orc = Orchestrator(store="memory://", environ={})
    app = dashboard_app(orc, token=TOKEN)
    async with serve_dashboard(app, port=0) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503 and "enter `async with orc:`" in response.text


async def test_a_generated_token_and_bad_arguments() -> None:
    """Without token= one is generated and works; bad arguments are refused saying what to pass."""
    async with MemoryStore() as store:
        app = dashboard_app(store=store)
        token = app.state.dashboard_token
        assert isinstance(token, str) and len(token) >= 20
        async with serve_dashboard(app, port=0) as url, httpx.AsyncClient(base_url=url) as client:
            ok = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            login = await client.get(f"/plans?token={token}")
            after_login = await client.get("/plans")
    assert ok.status_code == 200 and "Read-only" in ok.text
    assert login.status_code == 303 and login.headers["location"] == "/plans"
    assert after_login.status_code == 200
    with pytest.raises(TypeError, match="needs an Orchestrator"):
        dashboard_app()
    with pytest.raises(ValueError, match="at least 8 characters"):
        dashboard_app(store=MemoryStore(), token="short")
    with pytest.raises(ValueError, match="positive"):
        dashboard_app(store=MemoryStore(), poll_interval=0)


def _header(text: str) -> str:
    """What of ``text`` can travel in a header value (printable ASCII)."""
    return "".join(c for c in text if " " <= c <= "~").strip()


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(job_id=_TEXT, cursor=_TEXT, status=_TEXT, route=_TEXT, last=_TEXT)
async def test_fuzzed_ids_cursors_and_filters_never_give_a_500(
    env: Env, job_id: str, cursor: str, status: str, route: str, last: str
) -> None:
    """Any id, cursor, filter or Last-Event-ID gets a page or a 4xx, never a 5xx."""
    async with env.client() as client:
        responses = [
            await client.get("/jobs/" + (quote(job_id, safe="") or "x")),
            await client.get("/", params={"cursor": cursor, "status": status, "route": route}),
            await client.get("/", params={"job": job_id}),
            await client.get("/live/jobs/job_x", headers={"Last-Event-ID": _header(last)}),
        ]
    assert all(r.status_code < 500 for r in responses), [(r.url, r.status_code) for r in responses]
