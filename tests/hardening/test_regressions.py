"""One named regression test per failure the hostile-input suites found (issue 12), over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestrator import InvalidArgument, JobStatus, Prompt, RoutingError, Tool, job
from orchestrator.local import LocalPlatform
from orchestrator.testing import Harness

from .._token import SUITE_TOKEN

LISTS = ["/bot/list", "/conversation/list", "/task/list", "/event/log/list"]


@pytest.fixture
async def api(platform: LocalPlatform) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {SUITE_TOKEN}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers, timeout=30) as c:
        yield c


def escaped(body: object) -> bytes:
    """The body as a careless client encodes it: a lone surrogate as the JSON escape ``\\ud800``."""
    return json.dumps(body, ensure_ascii=True).encode()


async def assert_lists_work(api: httpx.AsyncClient) -> None:
    for path in LISTS:
        response = await api.get(path)
        assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/bot/create", {"name": "\ud800"}, "name"),
        ("/task/create", {"name": "a\udfffb", "description": "x"}, "name"),
        ("/conversation/create", {"meta": {"note": "\ud83d"}}, "meta.note"),
        ("/conversation/dispatch", {"messages": [{"type": "user", "text": "\ud800"}]}, "messages[0].text"),
        (
            "/conversation/complete",
            {"messages": [{"type": "user", "text": "hi", "meta": {"\ud800": 1}}]},
            "key",
        ),
    ],
)
async def test_lone_surrogates_are_refused_at_the_door_with_the_field_named(
    api: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    """A lone surrogate anywhere in a body is a 400 naming the field; nothing is stored, every list still works."""
    response = await api.post(path, content=escaped(body))
    assert response.status_code == 400
    assert field in response.json()["message"] and "Unicode" in response.json()["message"]
    await assert_lists_work(api)
    assert (await api.get("/bot/list")).json()["items"] == []


async def test_lone_surrogate_in_a_cancel_or_dispatch_does_not_stop_the_server(
    api: httpx.AsyncClient,
) -> None:
    """The requests that used to end the server process (task cancel, stateful dispatch) are refused; it serves on."""
    task = (await api.post("/task/create", json={"name": "t", "description": "d"})).json()["id"]
    conv = (await api.post("/conversation/create", json={})).json()["id"]
    cancel = await api.post(f"/task/{task}/cancel", content=escaped({"name": "\ud800"}))
    dispatch = await api.post(f"/conversation/{conv}/dispatch", content=escaped({"text": "\ud800"}))
    assert (cancel.status_code, dispatch.status_code) == (400, 400)
    assert (await api.get(f"/task/{task}/fetch")).status_code == 200
    await assert_lists_work(api)


@pytest.mark.parametrize("take", ["abc", "-5", "0", "1e3", "9" * 5000, ""])
async def test_odd_take_answers_at_once_on_every_list(api: httpx.AsyncClient, take: str) -> None:
    """``take=abc`` / ``take=-5`` (and other non-numbers) answer a default page on every list, never hang."""
    await api.post("/bot/create", json={"name": "b"})
    for path in LISTS:
        for accept in ("application/json", "application/jsonl"):
            response = await api.get(path, params={"take": take}, headers={"accept": accept})
            assert response.status_code == 200, (path, accept, response.text)


@pytest.mark.parametrize(
    "path", ["/bot/create", "/task/create", "/conversation/dispatch", "/channel/" + "c" * 20 + "/publish"]
)
@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
async def test_deep_json_is_a_400_not_a_recursion_error(
    api: httpx.AsyncClient, path: str, depth: int
) -> None:
    """A body nested deeper than 64 levels is refused with 400 saying the limit (it was a RecursionError 500)."""
    body = b'{"meta":' + b"[" * depth + b"]" * depth + b"}"
    response = await api.post(path, content=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"] and "64" in response.json()["message"]


@pytest.mark.parametrize(
    "channel", ["%20" * 20, "a/" * 10 + "abc", "%ff" * 20, "%ED%A0%80" * 8, "x" * 300, "-" + "a" * 20]
)
async def test_bad_channel_ids_are_refused(api: httpx.AsyncClient, channel: str) -> None:
    """Channel ids of spaces, slashes, undecodable escapes or odd characters open no subscription and publish nothing."""
    for action, body in (("publish", {"message": {"data": 1}}), ("subscribe", {})):
        response = await api.post(f"/channel/{channel}/{action}", json=body)
        assert response.status_code == 400, (channel, action, response.text)
        assert response.json()["code"] == "BAD_REQUEST"


async def test_dispatch_channel_id_in_the_body_is_checked_the_same_way(api: httpx.AsyncClient) -> None:
    """A dispatch ``channelId`` with spaces is refused; a uuid-like one is taken."""
    ask = {"messages": [{"type": "user", "text": "hi"}]}
    assert (await api.post("/conversation/dispatch", json={**ask, "channelId": " " * 30})).status_code == 400
    good = await api.post("/conversation/dispatch", json={**ask, "channelId": "orc-" + "a1" * 14})
    assert good.status_code == 200


async def test_body_url_and_number_limits(api: httpx.AsyncClient) -> None:
    """Over 4 MiB is 413, a URL over 8 KiB is 414, NaN is 400, undecodable bytes are 400: each says the limit."""
    big = await api.post("/bot/create", content=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert (big.status_code, big.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    long = await api.get("/bot/list", params={"cursor": "x" * 9000})
    assert (long.status_code, long.json()["code"]) == (414, "URI_TOO_LONG")
    nan = await api.post("/task/create", content=b'{"name": "t", "description": "d", "maxTime": NaN}')
    assert nan.status_code == 400 and "NaN" in nan.json()["message"]
    raw = await api.post("/bot/create", content=b'{"name": "\xed\xa0\x80"}')
    assert raw.status_code == 400 and "UTF-8" in raw.json()["message"]
    query = await api.get("/bot/list?order=%ff")
    assert query.status_code == 400 and "order" in query.json()["message"]
    await assert_lists_work(api)


def test_library_refusals_are_typed_and_say_what_to_do() -> None:
    """Bad decorator, Prompt, Tool and result-timeout values raise typed errors (they were TypeError/ValueError)."""
    with pytest.raises(RoutingError, match="route"):
        job(route={"a": 1}, name="r")(lambda: "x")  # type: ignore[call-overload]
    with pytest.raises(RoutingError, match="cancellable"):
        job(cancellable="yes", name="c")(lambda: "x")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgument, match="not valid Unicode"):
        Prompt(text="\ud800")
    with pytest.raises(InvalidArgument, match=r"messages\[0\]\.text must be a str"):
        Prompt(messages=[{"type": "user", "text": 3}])
    with pytest.raises(InvalidArgument, match="timeout"):
        Tool(name="t", description="d", timeout=-1)
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, TypeError)


async def test_result_timeout_of_the_wrong_type_is_refused(harness: Harness) -> None:
    """``result(timeout="soon")`` is an InvalidArgument saying what to pass; ``"20m"`` is a duration."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def quick() -> str:
        return "hi [[tokens 2]]"

    async with orc:
        handle = await quick.start()
        with pytest.raises(InvalidArgument, match="timedelta or seconds"):
            await handle.result(timeout="soon")
        assert (await handle.result(timeout="20m")).text
        assert await handle.status() is JobStatus.SUCCEEDED


async def test_a_job_function_returning_the_wrong_type_records_nothing(harness: Harness) -> None:
    """``start()`` of a job returning ``None`` raises InvalidArgument and records no job."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def wrong() -> str:
        return None  # type: ignore[return-value]

    async with orc:
        with pytest.raises(InvalidArgument, match="must return a Prompt or a str"):
            await wrong.start()
        assert await orc.store.list_jobs() == []


async def test_a_traceback_through_the_auth_middleware_shows_no_token() -> None:
    """An exception raised below ``BearerAuth``, rendered with every frame's locals, holds no credential."""
    from io import StringIO

    from rich.console import Console
    from rich.traceback import Traceback

    from orchestrator.local._errors import BearerAuth

    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["headers"])
        raise RuntimeError("boom below the auth middleware")

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        raise AssertionError(message)

    def below(exc: BaseException) -> Any:
        """The traceback from the middleware's frame down (this test's own frame holds the token)."""
        assert exc.__traceback__ is not None
        return exc.__traceback__.tb_next

    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {SUITE_TOKEN}".encode())]}
    try:
        await BearerAuth(app, token=SUITE_TOKEN)(scope, receive, send)
    except RuntimeError as exc:
        out = StringIO()
        Console(file=out, width=200).print(
            Traceback.from_exception(type(exc), exc, below(exc), show_locals=True)
        )
    assert "boom below" in out.getvalue()
    assert SUITE_TOKEN not in out.getvalue()
    assert seen == [[]]


def test_an_event_the_store_could_not_record_is_taken_again_from_the_replay() -> None:
    """After ``forget_last`` (the append failed), the replay of a re-subscription delivers that event as new."""
    from orchestrator.supervise._align import ReplayAligner

    aligner = ReplayAligner()
    assert [aligner.feed("token", {"token": t}) for t in "ab"] == [0, 1]
    aligner.forget_last()  # "b" was not recorded
    aligner.reconnect()
    assert [aligner.feed("token", {"token": t}) for t in "abc"] == [None, 1, 2]


async def test_a_prompt_over_a_mebibyte_is_sent_in_chunks_and_refused_with_413(harness: Harness) -> None:
    """A 5 MB prompt reaches the platform through the default (aiohttp) transport without a ResourceWarning
    (it was one, raised as an error), and the platform's 413 is a typed error; nothing else is recorded."""
    from orchestrator import PlatformError

    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def huge() -> str:
        return "x" * 5_000_000

    async with orc:
        with pytest.raises(PlatformError, match="too large") as caught:
            await huge.start()
        assert caught.value.status == 413
        (record,) = await orc.store.list_jobs()
        assert record.status is JobStatus.FAILED
