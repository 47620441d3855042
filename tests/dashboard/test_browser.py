"""Through a real browser (headless Chromium): live jobs, the ceiling bar, Cancel, Approve, auth and 4xx pages."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Browser, Page, expect

from orchestrator import JobStatus

from ._support import PLAN
from .conftest import TOKEN, Env, analyse, triage


async def test_a_job_appears_and_goes_succeeded_live(page: Page, env: Env) -> None:
    """A job started after the list was opened appears running, then turns succeeded, without a reload."""
    await expect(page.locator("#job-rows tr.empty")).to_be_visible()
    handle = await triage.start("Triage T-1 [[tokens 4]] [[sleep 5m]]")
    row = page.locator(f'#job-rows tr[data-id="{handle.id}"]')
    await expect(row).to_have_attribute("data-status", "running")
    await expect(row.locator(".status")).to_have_text("running")
    await expect(page.locator('#counts a[data-status="running"] b')).to_have_text("1")
    await env.clock.advance(timedelta(minutes=6))
    await expect(row.locator(".status")).to_have_text("succeeded")
    await expect(page.locator('#counts a[data-status="succeeded"] b')).to_have_text("1")
    assert await handle.status() is JobStatus.SUCCEEDED


async def test_dispatch_progress_bar_advances_and_warns(page: Page, env: Env) -> None:
    """A dispatch's bar grows with platform time, the 50/80 % ceiling warnings appear, tokens grow as one text."""
    handle = await triage.start("Write the long digest [[tokens 6]] [[sleep 14m]]")
    await page.goto(f"{env.url}/jobs/{handle.id}")
    bar = page.locator("#ceiling")
    await expect(page.locator("#cancel-note")).to_contain_text("A dispatch cannot be cancelled")
    await expect(page.locator("#cancel")).to_have_count(0)
    await env.clock.advance(timedelta(minutes=4))
    await expect(bar).to_have_attribute("aria-valuenow", "26.7")
    await env.clock.advance(timedelta(minutes=4))
    await expect(page.locator("#ceiling-warnings li")).to_have_count(1)
    await expect(page.locator("#ceiling-warnings")).to_contain_text("50% of the 15m ceiling used")
    await env.clock.advance(timedelta(minutes=4, seconds=30))
    await expect(page.locator("#ceiling-warnings li")).to_have_count(2)
    await expect(page.locator("#ceiling-warnings li").nth(1)).to_contain_text("80% of the 15m ceiling used")
    await expect(bar).to_have_attribute("aria-valuenow", "83.3")
    await expect(bar).to_have_class("ceiling hot")
    await env.clock.advance(timedelta(minutes=2))
    await expect(page.locator("#job-status")).to_have_text("succeeded")
    tokens = page.locator("#timeline .ev.tokens")
    await expect(tokens.first).to_be_visible()
    assert "alpha bravo" in await tokens.first.inner_text()
    await expect(page.locator("#outcome pre.result")).to_contain_text("alpha bravo")


async def test_cancel_ends_a_task_cancelled(page: Page, env: Env) -> None:
    """The Cancel button of a running task stops it on the platform; the page shows it cancelled."""
    handle = await analyse.start("Analyse the corpus [[sleep 1h]]")
    await env.clock.advance(timedelta(minutes=1))
    await page.goto(f"{env.url}/jobs/{handle.id}")
    await expect(page.locator("#job-status")).to_have_text("running")
    await page.locator("#cancel").click()
    await page.wait_for_url(f"{env.url}/jobs/{handle.id}")
    await expect(page.locator("#timeline")).to_contain_text("job.cancel_requested")
    for _ in range(120):
        if (await handle.status()).terminal:
            break
        await env.clock.advance(timedelta(seconds=5))
    await expect(page.locator("#job-status")).to_have_text("cancelled")
    await expect(page.locator("#cancel")).to_have_count(0)
    assert await handle.status() is JobStatus.CANCELLED


async def test_approve_releases_a_held_plan_task(page: Page, env: Env) -> None:
    """A plan that needs approval shows its held tasks and the refused proposal; Approve schedules one."""
    plan = await env.orc.plan(PLAN, require_approval=True)
    await env.drive(plan.wait_planned())
    await page.goto(f"{env.url}/plans")
    section = page.locator(f'section[data-plan="{plan.id}"]')
    await expect(section.locator(".refused")).to_contain_text("poll-the-feed")
    digest = section.locator('tr[data-task="post-the-morning-digest"]')
    await expect(digest.locator(".proposal")).to_have_text("held")
    await digest.locator("button.approve").click()
    await page.wait_for_url(f"{env.url}/plans#{plan.id}")
    await expect(digest.locator(".proposal")).to_have_text("accepted, scheduled")
    await expect(digest.locator("time")).to_have_count(1)
    backlog = section.locator('tr[data-task="summarise-the-backlog"]')
    await expect(backlog.locator(".proposal")).to_have_text("held")
    statuses = {t.name: t.status for t in await plan.refresh()}
    assert statuses == {"post-the-morning-digest": "scheduled", "summarise-the-backlog": "held"}


async def test_unauthenticated_requests_are_refused(browser: Browser, env: Env) -> None:
    """Without the token every page is a 401 asking for it; the token form signs in and drops it from the URL."""
    context = await browser.new_context()
    page = await context.new_page()
    try:
        for path in ("/", "/jobs/job_x", "/plans", "/live/jobs"):
            response = await page.goto(env.url + path)
            assert response is not None and response.status == 401, path
        await page.goto(env.url + "/plans")
        await expect(page.locator("h1")).to_have_text("401 · Unauthorized")
        await page.fill('input[name="token"]', "wrong-token-value")
        await page.click('button[type="submit"]')
        await expect(page.locator("h1")).to_have_text("401 · Unauthorized")
        await page.fill('input[name="token"]', TOKEN)
        await page.click('button[type="submit"]')
        await expect(page.locator("h1")).to_have_text("Plans")
        assert TOKEN not in page.url
    finally:
        await context.close()


async def test_bad_ids_cursors_and_routes_give_4xx_pages(page: Page, env: Env) -> None:
    """An unknown job, a malformed id, a bad cursor, a bad filter and an unknown page each get a clear 4xx page."""
    cases = {
        "/jobs/job_0000": (404, "no job 'job_0000' in this store"),
        "/jobs/bad%20id!": (400, "is not a job id"),
        "/?cursor=not-a-cursor": (400, "bad cursor"),
        "/?status=done": (400, "unknown status 'done'"),
        "/nowhere": (404, "there is no page at /nowhere"),
    }
    for path, (status, text) in cases.items():
        response = await page.goto(env.url + path)
        assert response is not None and response.status == status, path
        await expect(page.locator("#error-detail")).to_contain_text(text)
        assert "Traceback" not in await page.content()


async def test_schedules_in_the_viewers_time_and_run_now(browser: Browser, env: Env) -> None:
    """The next runs read in the browser's timezone beside UTC; Run now opens the page of the run it started."""
    context = await browser.new_context(timezone_id="America/New_York", locale="en-US")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto(f"{env.url}/schedules?token={TOKEN}")
        first = page.locator('.schedule[data-job="nightly"] tbody tr').first
        # 07:00 in London on 2026-03-24 is 07:00 UTC, 03:00 in New York (EDT)
        await expect(first.locator("td").nth(1)).to_have_text("2026-03-24 07:00")
        await expect(first.locator("td").first).to_contain_text("3:00")
        await env.drive(page.locator("button.run-now").click(), step=1.0)
        await expect(page).to_have_url(re.compile(r"/jobs/job_"))
        await expect(page.locator("h1")).to_contain_text("nightly")
    finally:
        await context.close()
