"""Wire fidelity to the reference (§9, what the official Node SDK expects), checked with raw httpx on loopback.

Event-log ``updatedAt``, the task and event-log exports (JSON, JSONL, CSV), failed plain JSON completions and
their retries, which subscribes start with ``nop``, running executions without null fields, ``x-timezone``, a
JSON completion whose client goes away, and that no JSONL stream ever carries a blank line.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import JobFailed, PlatformError, PlatformUnavailable, Prompt, VirtualClock
from orchestrator.local import LocalPlatform
from orchestrator.local._exports import task_export_csv
from orchestrator.platform import PlatformClient
from orchestrator.testing import local_harness

from ._util import active_runs_reach, ask, channel_id
from .conftest import hosted

JSONL = {"accept": "application/jsonl"}


def _lines(body: bytes) -> list[dict[str, Any]]:
    """The items of a JSONL body, asserting that no line of it is blank (the Node SDK's reader breaks on one)."""
    text = body.decode()
    assert text.endswith("\n"), "a JSONL body ends with a newline"
    lines = text[:-1].split("\n") if text else []
    assert all(line.strip() for line in lines), f"blank line in a JSONL stream: {text[:200]!r}"
    return [json.loads(line) for line in lines]


async def _first_lines(
    raw: httpx.AsyncClient, path: str, count: int, body: Any = None
) -> list[dict[str, Any]]:
    """The first ``count`` items of a subscription that stays open, read raw, none of them blank."""
    async with raw.stream("POST", path, json=body or {}, headers=JSONL) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/jsonl"
        items = []
        async for line in response.aiter_lines():
            assert line.strip(), "blank line in a JSONL stream"
            items.append(json.loads(line))
            if len(items) == count:
                return items
    raise AssertionError(f"{path} ended after {len(items)} items")


@pytest.fixture
async def bot_id(client: PlatformClient) -> str:
    return await client.bots.create({"name": "fidelity"})


async def _run_task(client: PlatformClient, clock: VirtualClock, bot_id: str, text: str = "x") -> str:
    task_id = await client.tasks.create({"description": text, "botId": bot_id, "meta": {"k": "v"}})
    await client.tasks.trigger(task_id)
    await clock.sleep(60)
    return task_id


# -- the event log ---------------------------------------------------------------------------------------------


async def test_event_log_items_carry_updated_at_in_list_export_and_subscribe(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """Every event-log item has id, type, createdAt and updatedAt (ms) in list, export and subscribe, JSON and JSONL."""
    await _run_task(client, clock, bot_id)
    listed = (await raw.get("/event/log/list")).json()["items"]
    exported = (await raw.get("/event/log/export")).json()["items"]
    streamed = [i["data"] for i in _lines((await raw.get("/event/log/export", headers=JSONL)).content)]
    streamed += [i["data"] for i in _lines((await raw.get("/event/log/list", headers=JSONL)).content)]
    pushed = [i["data"] for i in await _first_lines(raw, "/event/log/subscribe", 2, {"historyLength": 2})]
    for item in [*listed, *exported, *streamed, *pushed]:
        assert {"id", "type", "createdAt", "updatedAt"} <= item.keys()
        assert isinstance(item["updatedAt"], int) and item["updatedAt"] >= item["createdAt"]
    assert [i["type"] for i in exported] == ["task.interact.completed", "task.interact"]


async def test_event_log_export_pages_and_filters(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """GET /event/log/export answers {items, cursor}, pages with cursor/take/order, filters by type."""
    await _run_task(client, clock, bot_id)
    page = (await raw.get("/event/log/export", params={"take": 1, "order": "asc"})).json()
    assert [i["type"] for i in page["items"]] == ["task.interact"]
    rest = (await raw.get("/event/log/export", params={"order": "asc", "cursor": page["cursor"]})).json()
    assert [i["type"] for i in rest["items"]] == ["task.interact.completed"]
    typed = (await raw.get("/event/log/export", params={"type": "task.interact.completed"})).json()
    assert [i["type"] for i in typed["items"]] == ["task.interact.completed"]
    empty = (await raw.get("/event/log/export", params={"cursor": rest["cursor"], "order": "asc"})).json()
    assert empty == {"items": []}


# -- task export ---------------------------------------------------------------------------------------------


async def test_task_export_json_jsonl_and_csv(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """GET /task/export gives task definitions without status, outcome or run times, as JSON, JSONL and CSV."""
    first = await _run_task(client, clock, bot_id, "first")
    second = await client.tasks.create({"name": "second", "schedule": "daily", "timezone": "Europe/London"})
    page = (await raw.get("/task/export")).json()
    assert [t["id"] for t in page["items"]] == [second, first]
    assert page["cursor"] == first
    for item in page["items"]:
        assert not {"status", "outcome", "nextRunAt", "lastRunAt", "blueprintId", "expiresAt"} & item.keys()
        assert {"id", "createdAt", "updatedAt"} <= item.keys()
    assert page["items"][1]["meta"] == {"k": "v"}
    filtered = (await raw.get("/task/export", params={"meta.k": "v"})).json()
    assert [t["id"] for t in filtered["items"]] == [first]
    lines = _lines((await raw.get("/task/export", params={"order": "asc"}, headers=JSONL)).content)
    assert [(i["type"], i["data"]["id"]) for i in lines] == [("item", first), ("item", second)]
    response = await raw.get("/task/export", params={"order": "asc"}, headers={"accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["id"], r["description"], r["schedule"]) for r in rows] == [
        (first, "first", ""),
        (second, "", "daily"),
    ]
    assert json.loads(rows[0]["meta"]) == {"k": "v"}
    assert "status" not in rows[0]


# -- which subscribes start with nop ----------------------------------------------------------------------------


async def test_only_channel_and_monitor_subscribes_start_with_nop(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """Channel and conversation-monitor subscribes lead with nop; task and event-log subscribes do not."""
    task_id = await _run_task(client, clock, bot_id)
    conversation = await client.conversations.create({})
    (channel_first,) = await _first_lines(raw, f"/channel/{channel_id()}/subscribe", 1)
    (monitor_first,) = await _first_lines(raw, f"/conversation/{conversation.id}/channel/subscribe", 1)
    assert channel_first == monitor_first == {"type": "nop", "data": {}}
    (log_first,) = await _first_lines(raw, "/event/log/subscribe", 1, {"historyLength": 1})
    assert log_first["type"] == "item"
    await client.tasks.update(task_id, {"description": '[[fail "no"]]'})

    async def trigger_soon() -> None:
        await asyncio.sleep(0.05)
        await client.tasks.trigger(task_id)

    trigger = asyncio.create_task(trigger_soon())
    (workflow_first,) = await _first_lines(raw, f"/task/{task_id}/subscribe", 1)
    await trigger
    assert workflow_first["type"] == "error"
    assert isinstance(workflow_first["createdAt"], int)


# -- executions ------------------------------------------------------------------------------------------------


async def test_running_execution_has_no_null_completed_or_resume_at(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """A running execution carries neither completedAt nor resumeAt; a finished one has an ISO completedAt."""
    task_id = await client.tasks.create({"description": "[[sleep 10m]]", "botId": bot_id})
    with clock.hold():
        await client.tasks.trigger(task_id)
        (running,) = (await raw.get(f"/task/{task_id}/execution/list")).json()["items"]
        (streamed,) = _lines((await raw.get(f"/task/{task_id}/execution/list", headers=JSONL)).content)
    assert running["status"] == "running"
    assert "completedAt" not in running and "resumeAt" not in running
    assert streamed["data"] == running
    (execution,) = [e async for e in client.tasks.executions(task_id)]
    assert execution.completed_at is None and execution.resume_at is None
    await clock.sleep(3600)
    (done,) = (await raw.get(f"/task/{task_id}/execution/list")).json()["items"]
    assert done["status"] == "idle" and done["completedAt"].endswith("Z")
    assert "resumeAt" not in done


# -- failed JSON completions and their retries ----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 500])
async def test_a_failed_json_complete_and_its_retry_run_once(status: int) -> None:
    """A failed stateful JSON complete answers {message, code} with the configured status; the same call
    retried (as the Node SDK does) gets the same answer without a second run or a second user message."""
    async with hosted(LocalPlatform(clock=VirtualClock(), failure_status=status)) as platform:
        headers = {"authorization": f"Bearer {platform.token}"}
        async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers) as raw:
            cid = (await raw.post("/conversation/create", json={})).json()["id"]
            body = {"text": '[[fail "tool broke"]] please'}
            answers = [await raw.post(f"/conversation/{cid}/complete", json=body) for _ in range(4)]
            assert {(a.status_code, a.text) for a in answers} == {
                (
                    status,
                    json.dumps(
                        {"message": "tool broke", "code": "INTERNAL_SERVER_ERROR"}, separators=(",", ":")
                    ),
                )
            }
            messages = (await raw.get(f"/conversation/{cid}/message/list", params={"order": "asc"})).json()
            assert [m["type"] for m in messages["items"]] == ["user"]
            different = await raw.post(f"/conversation/{cid}/complete", json={"text": '[[fail "x"]] other'})
            assert different.status_code == status
            messages = (await raw.get(f"/conversation/{cid}/message/list")).json()
            assert len(messages["items"]) == 2


@pytest.mark.parametrize("status", [200, 500])
async def test_the_client_and_a_job_cope_with_either_failure_status(status: int) -> None:
    """Our client raises PlatformError with the message for a 200 error body or a 500; an interactive job fails."""
    async with local_harness(failure_status=status) as harness:
        async with harness.platform.client() as client:
            with pytest.raises(PlatformError, match="disk full") as info:
                await client.conversations.complete(ask('[[fail "disk full"]]'))
            assert info.value.status == status
            assert isinstance(info.value, PlatformUnavailable)
        orc = harness.orchestrator()

        @orc.job(interactive=True)
        def chat() -> Prompt:
            return Prompt(text='[[fail "disk full"]]')

        async with orc:
            with pytest.raises(JobFailed, match="disk full"):
                await chat.run()


async def test_failure_replay_can_be_turned_off_and_expires() -> None:
    """With failure_replay=0 a repeated failing call runs again; by default the memory ends after 10 s."""
    clock = VirtualClock()
    for replay, runs in ((0, 2), (10, 1)):
        async with hosted(LocalPlatform(clock=clock, failure_replay=replay)) as platform:
            headers = {"authorization": f"Bearer {platform.token}"}
            async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers) as raw:
                cid = (await raw.post("/conversation/create", json={})).json()["id"]
                for _ in range(2):
                    await raw.post(f"/conversation/{cid}/complete", json={"text": '[[fail "f"]]'})
                items = (await raw.get(f"/conversation/{cid}/message/list")).json()["items"]
                assert len(items) == runs
                await clock.sleep(11)
                await raw.post(f"/conversation/{cid}/complete", json={"text": '[[fail "f"]]'})
                items = (await raw.get(f"/conversation/{cid}/message/list")).json()["items"]
                assert len(items) == runs + 1


# -- x-timezone ---------------------------------------------------------------------------------------------------


async def test_x_timezone_reaches_the_agent_and_a_bad_one_is_refused(raw: httpx.AsyncClient) -> None:
    """The planner plans tasks in the caller's x-timezone (unless a line names one); an unknown zone is a 400."""
    text = '[[plan-as-text]]\n- Digest [[schedule "daily"]]\n- Report [[timezone "UTC"]]'
    answer = await raw.post("/conversation/complete", json=ask(text), headers={"x-timezone": "Europe/Paris"})
    plan = json.loads(answer.json()["text"])
    assert [(t["name"], t["timezone"]) for t in plan["tasks"]] == [
        ("digest", "Europe/Paris"),
        ("report", "UTC"),
    ]
    plain = await raw.post("/conversation/complete", json=ask(text))
    assert "timezone" not in json.loads(plain.json()["text"])["tasks"][0]
    bad = await raw.post("/conversation/dispatch", json=ask("x"), headers={"x-timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "x-timezone" in bad.json()["message"] and "IANA" in bad.json()["message"]


async def test_the_client_sends_its_timezone_on_completions() -> None:
    """PlatformClient(timezone=...) sends x-timezone on complete and dispatch, which the planner then uses."""
    async with (
        hosted(LocalPlatform(clock=VirtualClock())) as platform,
        platform.client(timezone="Asia/Tokyo") as client,
    ):
        result = await client.conversations.complete(ask("[[plan-as-text]]\n- Digest"))
    assert json.loads(result.text)["tasks"][0]["timezone"] == "Asia/Tokyo"


# -- a JSON completion whose client goes away -------------------------------------------------------------------


@pytest.mark.parametrize("sleep", ["5s", "1m"], ids=["before-commit", "after-commit"])
async def test_a_json_complete_is_stopped_when_its_client_disconnects(sleep: str) -> None:
    """Closing the connection of a plain JSON complete stops its run, before and after the 19 s commit."""
    clock = VirtualClock(autojump=False)
    async with hosted(LocalPlatform(clock=clock)) as platform:
        headers = {"authorization": f"Bearer {platform.token}"}
        async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers) as raw:
            if sleep == "1m":
                request = asyncio.create_task(raw.post("/conversation/complete", json=ask("[[sleep 1h]]")))
                assert await active_runs_reach(platform, 1)
                await clock.advance(30)  # past the commit: the 200 is sent, the body is not
            else:
                request = asyncio.create_task(raw.post("/conversation/complete", json=ask("[[sleep 1h]]")))
                assert await active_runs_reach(platform, 1)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        assert await active_runs_reach(platform, 0)


# -- no blank line on any stream ----------------------------------------------------------------------------------


async def _streams(
    raw: httpx.AsyncClient, client: PlatformClient, bot_id: str
) -> AsyncIterator[tuple[str, bytes]]:
    cid = (await raw.post("/conversation/create", json={"botId": bot_id})).json()["id"]
    channel = await client.conversations.dispatch(ask("[[tokens 3]] hi"), channel_id=channel_id())
    posts = {
        "stateless complete": ("/conversation/complete", ask("[[tokens 3]] [[sleep 25s]] hi")),
        "failing complete": ("/conversation/complete", ask('[[fail "x"]]')),
        "stateful complete": (f"/conversation/{cid}/complete", {"text": "hi [[tokens 2]]"}),
        "send": (f"/conversation/{cid}/send", {"text": "hello"}),
        "receive": (f"/conversation/{cid}/receive", {}),
    }
    for name, (path, body) in posts.items():
        yield name, (await raw.post(path, json=body, headers=JSONL)).content
    for name, path in {
        "conversation list": "/conversation/list",
        "message list": f"/conversation/{cid}/message/list",
        "bot list": "/bot/list",
        "task list": "/task/list",
        "task export": "/task/export",
        "event log list": "/event/log/list",
        "event log export": "/event/log/export",
    }.items():
        yield name, (await raw.get(path, headers=JSONL)).content
    yield "dispatch channel", await _until_result(raw, f"/channel/{channel}/subscribe")


async def _until_result(raw: httpx.AsyncClient, path: str) -> bytes:
    body = b""
    async with raw.stream("POST", path, json={"historyLength": 1000}, headers=JSONL) as response:
        async for chunk in response.aiter_bytes():
            body += chunk
            if b'"type":"result"' in body and body.endswith(b"\n"):
                return body
    return body


async def test_no_jsonl_stream_ever_carries_a_blank_line(
    raw: httpx.AsyncClient, client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """Every JSONL stream (completions, send/receive, lists, exports, channels) is blank-line free."""
    await _run_task(client, clock, bot_id)
    seen = []
    async for name, body in _streams(raw, client, bot_id):
        items = _lines(body)
        assert items, f"{name}: empty stream"
        assert all(isinstance(i.get("type"), str) for i in items), name
        seen.append(name)
    assert len(seen) == 13


_cell_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=200)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"id": st.text("abc0123", min_size=1, max_size=8), "name": _cell_text, "description": _cell_text},
            optional={
                "meta": st.dictionaries(st.text(max_size=5), _cell_text, max_size=3),
                "maxTime": st.integers(),
            },
        ),
        max_size=5,
    )
)
def test_task_export_csv_round_trips_any_text(items: list[dict[str, Any]]) -> None:
    """Any names, descriptions (quotes, commas, newlines, unicode) and meta survive the CSV export (fuzzed)."""
    response = task_export_csv(items)
    rows = list(csv.DictReader(io.StringIO(bytes(response.body).decode(), newline="")))
    assert [r["name"] for r in rows] == [i["name"] for i in items]
    assert [r["description"] for r in rows] == [i["description"] for i in items]
    assert [json.loads(r["meta"]) if r["meta"] else None for r in rows] == [i.get("meta") for i in items]
    assert [r["maxTime"] for r in rows] == [str(i["maxTime"]) if "maxTime" in i else "" for i in items]


async def test_subscribe_nop_all_leads_task_and_event_log_subscribes_with_nop() -> None:
    """LocalPlatform(subscribe_nop="all") gives task and event-log subscribes a leading nop too."""
    async with hosted(LocalPlatform(clock=VirtualClock(), subscribe_nop="all")) as platform:
        headers = {"authorization": f"Bearer {platform.token}"}
        async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers) as raw:
            task_id = (await raw.post("/task/create", json={})).json()["id"]
            for path in ("/event/log/subscribe", f"/task/{task_id}/subscribe"):
                assert await _first_lines(raw, path, 1) == [{"type": "nop", "data": {}}]


@pytest.mark.parametrize("nop", ["channels", "all"])
async def test_task_jobs_run_whichever_subscribes_lead_with_nop(nop: Any) -> None:
    """Whether task and event-log subscribes lead with nop or not, a task job is tracked to its result."""
    async with local_harness(subscribe_nop=nop) as harness:
        orc = harness.orchestrator()

        @orc.job(runtime="2h", cancellable=True)
        def analyse() -> Prompt:
            return Prompt(text="Analyse [[sleep 1h]]", backstory="analyst")

        async with orc:
            result = await analyse.run()
        assert result.text == "Done: Analyse"
