"""examples/nightly_summary.py: a weekday 07:00 London schedule, and an admin endpoint that runs it now."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator import JobStatus, Orchestrator, Route
from orchestrator.testing import Harness

from ._support import in_process, load_example

nightly_summary = load_example("nightly_summary")
LONDON = ZoneInfo("Europe/London")


def factory(harness: Harness) -> Orchestrator:
    orc: Orchestrator = nightly_summary.create_orchestrator(
        platform=harness.platform.client(), store="memory://"
    )
    return orc


async def test_schedule_runs_on_weekday_mornings_and_trigger_runs_now(harness: Harness) -> None:
    """Over Monday to Wednesday it runs at 07:00 London each day; the admin trigger then adds a run at once."""
    app = nightly_summary.create_app(orchestrator_factory=lambda: factory(harness))
    async with in_process(app) as client:
        orc: Orchestrator = app.state.orchestrator
        job = orc.jobs["nightly_summary"]
        assert job.route is Route.TASK
        await harness.clock.sleep(timedelta(days=3))  # Monday 00:00 UTC -> Thursday 00:00 UTC

        runs = (await client.get("/admin/nightly-summary/runs")).json()
        assert runs["schedule"] == "0 7 * * 1-5"
        assert [r["status"] for r in runs["runs"]] == ["succeeded"] * 3
        starts = sorted(datetime.fromisoformat(r["started_at"]).astimezone(LONDON) for r in runs["runs"])
        assert [(s.weekday(), s.hour, s.minute) for s in starts] == [(0, 7, 0), (1, 7, 0), (2, 7, 0)]
        assert all(r["summary"] for r in runs["runs"])

        triggered_at = harness.clock.time()
        response = await client.post("/admin/nightly-summary/trigger")
        assert response.status_code == 202
        run = response.json()
        assert run["status"] == "running"
        result = await orc.get_handle(run["id"]).result()
        assert result.route is Route.TASK
        assert result.started_at is not None and result.started_at - triggered_at < 60
        records = await orc.store.list_jobs(job_name="nightly_summary")
        assert len(records) == 4
        assert all(r.status is JobStatus.SUCCEEDED for r in records)
        runs = (await client.get("/admin/nightly-summary/runs")).json()["runs"]
        assert runs[0]["id"] == run["id"] and runs[0]["status"] == "succeeded"


async def test_admin_endpoints_need_the_token_when_one_is_set(harness: Harness) -> None:
    """With an admin token, requests without the right bearer token are refused with 401."""
    app = nightly_summary.create_app(
        orchestrator_factory=lambda: factory(harness), admin_token="s3cret-admin"
    )
    async with in_process(app) as client:
        missing = await client.post("/admin/nightly-summary/trigger")
        wrong = await client.get("/admin/nightly-summary/runs", headers={"Authorization": "Bearer nope"})
        right = await client.get(
            "/admin/nightly-summary/runs", headers={"Authorization": "Bearer s3cret-admin"}
        )
    assert missing.status_code == wrong.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert "s3cret-admin" not in missing.text
    assert right.status_code == 200
    assert right.json()["runs"] == []
