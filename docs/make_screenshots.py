"""Make the dashboard screenshots in docs/screenshots/ (run: ``.venv/bin/python docs/make_screenshots.py``).

Runs a small scenario on the local platform on a manual virtual clock (dispatches that succeed, fail and run into
the ceiling, a cancelled task, a scheduled job, a plan waiting for approval), serves the dashboard on loopback, and
photographs each page with Debian's headless Chromium through Playwright, at laptop width and at phone width.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, async_playwright

from orchestrator import JobStatus, Orchestrator, Prompt, VirtualClock
from orchestrator.dashboard import dashboard_app, serve_dashboard
from orchestrator.local import LocalPlatform

OUT = Path(__file__).resolve().parent / "screenshots"
TOKEN = "screenshot-token"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
PLAN = (
    "Set up the weekly reporting for the support team.\n"
    '- Post the morning digest of new tickets [[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]]\n'
    '- Poll the ticket feed for escalations [[schedule "*/5 * * * *"]]\n'
    "- Summarise the backlog by product area [[runtime 40m]]\n"
)


async def _wait(orc: Orchestrator, clock: VirtualClock, job_id: str, *, step: float = 10.0) -> None:
    handle = orc.get_handle(job_id)
    for _ in range(10_000):
        if (await handle.status()).terminal:
            return
        await clock.advance(step)
    raise RuntimeError(f"job {job_id} did not end")


async def _shoot(page: Page, url: str, name: str, *, ready: str | None = None) -> None:
    await page.goto(url)
    if ready is not None:
        await page.wait_for_selector(ready)
    await page.evaluate("document.fonts.ready")
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"wrote {OUT / (name + '.png')}")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clock = VirtualClock(start=datetime(2026, 3, 23, 8, 30, tzinfo=UTC), autojump=False)
    async with LocalPlatform(clock=clock) as platform:
        orc = Orchestrator(platform=platform.client(), store="memory://", clock=clock, environ={})

        @orc.job(runtime="3m")
        def triage(ticket: str) -> Prompt:
            return Prompt(
                text=f"Triage this ticket: {ticket} [[tokens 24]] [[sleep 2m]]", backstory="Support triage."
            )

        @orc.job(runtime="10m")
        def research_digest(topic: str, minutes: int = 14) -> Prompt:
            # declared at 10 minutes: a dispatch; a run that really needs 20 is killed at the ceiling
            return Prompt(text=f"Compile a research digest on {topic}. [[tokens 40]] [[sleep {minutes}m]]")

        @orc.job(runtime="5m")
        def enrich_account(account: str) -> Prompt:
            return Prompt(text=f'Enrich account {account} [[sleep 1m]] [[fail "the CRM answered 503"]]')

        @orc.job(runtime="3h", cancellable=True)
        def document_analysis(corpus: str) -> Prompt:
            return Prompt(
                text=f"Analyse the corpus {corpus} [[sleep 2h]]", backstory="You analyse documents."
            )

        @orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")
        def nightly_summary() -> Prompt:
            return Prompt(
                text="Summarise yesterday's tickets. [[tokens 12]] [[sleep 5m]]", backstory="Summaries."
            )

        async with orc:
            app = dashboard_app(orc, token=TOKEN, poll_interval=0.05, tick=0.05)
            async with serve_dashboard(app, port=0) as url:
                # history: finished runs that feed the routing report
                for n, ticket in enumerate(
                    ["T-101: export button", "T-102: login loop", "T-103: invoice PDF"]
                ):
                    h = await triage.start(ticket)
                    await _wait(orc, clock, h.id)
                    await clock.advance(60 * (n + 1))
                for topic in ("grid storage", "solid-state cells"):
                    h = await research_digest.start(topic)
                    await _wait(orc, clock, h.id, step=30)
                killed = await research_digest.start("batteries recycling", 20)
                await _wait(orc, clock, killed.id, step=30)
                failed = await enrich_account.start("ACME-42")
                await _wait(orc, clock, failed.id)
                run = await nightly_summary.trigger_now()
                await _wait(orc, clock, run.id)
                cancelled = await document_analysis.start("contracts-2025")
                await clock.advance(120)
                await cancelled.cancel()
                await _wait(orc, clock, cancelled.id)
                plan = await orc.plan(PLAN, require_approval=True)
                planned = asyncio.ensure_future(plan.wait_planned())
                while not planned.done():
                    await clock.advance(5)
                await planned
                await plan.approve(["summarise-the-backlog-by-product-area"])  # one released, one still held
                # live now: a task running, and a dispatch at 87 % of its ceiling
                await document_analysis.start("support-macros")
                live = await research_digest.start("heat pumps")
                await clock.advance(timedelta(minutes=13))
                assert await live.status() is JobStatus.RUNNING

                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                    laptop = await browser.new_context(
                        viewport={"width": 1280, "height": 800}, device_scale_factor=1
                    )
                    page = await laptop.new_page()
                    await page.goto(f"{url}/?token={TOKEN}")
                    await _shoot(page, f"{url}/", "jobs", ready="#job-rows tr[data-id]")
                    await _shoot(
                        page, f"{url}/jobs/{live.id}", "job-dispatch", ready="#ceiling-warnings li >> nth=1"
                    )
                    await _shoot(page, f"{url}/jobs/{killed.id}", "job-ceiling", ready="#outcome h2")
                    await _shoot(page, f"{url}/plans", "plans", ready="button.approve")
                    await _shoot(page, f"{url}/schedules", "schedules", ready=".schedule")
                    await _shoot(page, f"{url}/routing", "routing", ready="svg.chart")
                    await _shoot(page, f"{url}/jobs/job_000000000000", "not-found", ready="#error-detail")
                    phone = await browser.new_context(
                        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
                    )
                    small = await phone.new_page()
                    await small.goto(f"{url}/?token={TOKEN}")
                    await _shoot(small, f"{url}/", "phone-jobs", ready="#job-rows tr[data-id]")
                    await _shoot(
                        small, f"{url}/jobs/{live.id}", "phone-job", ready="#ceiling-warnings li >> nth=1"
                    )
                    await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
