"""Hostile HTTP clients against every route of the local platform, over real HTTP on loopback.

For each request: a status below 500 with a ``{message, code}`` body on errors, an answer within a bound on the
virtual clock (and a real-time backstop that only fires on a hang), the server still serving, and every list
and fetch still answering 200 with valid JSON afterwards (nothing accepted poisons a record).
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from orchestrator import VirtualClock
from orchestrator.local import LocalPlatform

from .._token import SUITE_TOKEN
from . import _hostile as hostile
from ._tally import broken, tried

PREFIX = "/api/v1"
VIRTUAL_BOUND = 15 * 60.0  # the gateway limit of a completion: nothing answers later than that
REAL_BACKSTOP = httpx.Timeout(30.0)  # only a hang runs into this; a test never waits for it otherwise
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Known:
    """Records made before the fuzzing starts; every list and fetch of them must keep working."""

    bot_id: str
    conversation_id: str
    message_id: str
    task_id: str
    execution_id: str
    channel_id: str

    def param(self, name: str) -> str:
        return {
            "bot_id": self.bot_id,
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "task_id": self.task_id,
            "execution_id": self.execution_id,
            "channel_id": self.channel_id,
        }[name]

    def checks(self) -> list[str]:
        """Every list endpoint and every fetch of a known record."""
        conv, task = self.conversation_id, self.task_id
        return [
            "/bot/list",
            "/conversation/list",
            "/task/list",
            "/event/log/list",
            f"/conversation/{conv}/message/list",
            f"/task/{task}/execution/list",
            f"/bot/{self.bot_id}/fetch",
            f"/conversation/{conv}/fetch",
            f"/conversation/{conv}/message/{self.message_id}/fetch",
            f"/task/{task}/fetch",
        ]


def route_table(platform: LocalPlatform) -> list[tuple[str, str]]:
    """Every ``(method, path template)`` the platform serves under one prefix."""
    out = []
    for mount in platform.app.routes:
        assert isinstance(mount, Mount)
        if mount.path != PREFIX:
            continue
        for route in mount.routes:
            assert isinstance(route, Route)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                out.append((method, route.path))
    return out


@pytest.fixture
async def http(platform: LocalPlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.base_url, timeout=REAL_BACKSTOP) as c:
        yield c


AUTH = {"authorization": f"Bearer {SUITE_TOKEN}"}
Headers = list[tuple[bytes, bytes]]
AUTH_PAIRS: Headers = [(b"authorization", f"Bearer {SUITE_TOKEN}".encode())]


async def make_known(http: httpx.AsyncClient, platform: LocalPlatform) -> Known:
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post(PREFIX + path, json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    bot = await post("/bot/create", {"name": "known", "meta": {"k": "v"}})
    conv = await post("/conversation/create", {"botId": bot["id"], "meta": {"k": "v"}})
    message = await post(f"/conversation/{conv['id']}/message/create", {"type": "user", "text": "hello"})
    task = await post("/task/create", {"name": "known", "description": "hello", "botId": bot["id"]})
    await post(f"/task/{task['id']}/trigger", {})
    await platform.clock.sleep(60)
    executions = (await http.get(PREFIX + f"/task/{task['id']}/execution/list", headers=AUTH)).json()
    return Known(
        bot_id=bot["id"],
        conversation_id=conv["id"],
        message_id=message["id"],
        task_id=task["id"],
        execution_id=executions["items"][0]["id"],
        channel_id="known-channel-" + "0" * 20,
    )


def strict_json(raw: bytes) -> Any:
    """JSON as a strict (JavaScript) parser reads it: UTF-8, no NaN or Infinity."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def assert_error_body(response: httpx.Response, raw: bytes) -> None:
    body = strict_json(raw)
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("code"), str) and body["code"], body


async def send(
    http: httpx.AsyncClient,
    clock: VirtualClock,
    method: str,
    url: str,
    *,
    headers: Headers,
    body: bytes | None,
    surface: str,
) -> httpx.Response:
    """One request; asserts the answer is in time, below 500, and well formed; counts it."""
    request = http.build_request(method, url, headers=headers, content=body)
    t0 = clock.time()
    what = f"{method} {url[:120]!r} body={(body or b'')[:80]!r}"
    try:
        response = await http.send(request, stream=True)
    except httpx.HTTPError as exc:
        broken(surface, f"{what}: no answer ({exc!r})")
        raise AssertionError(f"{what}: no answer: {exc!r}") from exc
    try:
        elapsed = clock.time() - t0
        media = response.headers.get("content-type", "").split(";")[0].strip()
        finite = media == "application/json" or url.split("?")[0].endswith("/list")
        raw = await response.aread() if finite or response.status_code >= 400 else b""
        if response.status_code >= 500 or elapsed > VIRTUAL_BOUND:
            broken(surface, f"{what}: {response.status_code} after {elapsed:.0f}s: {raw[:200]!r}")
            raise AssertionError(f"{what}: {response.status_code} after {elapsed:.0f}s: {raw[:300]!r}")
        if response.status_code >= 400:
            assert_error_body(response, raw)
        elif media == "application/json":
            strict_json(raw)
        tried(surface, refused=response.status_code >= 400)
        return response
    finally:
        await response.aclose()


async def assert_still_serving(http: httpx.AsyncClient, known: Known, after: str) -> None:
    """Every list and every fetch of a known record answers with valid JSON, as JSON and as JSONL: 200, or a
    404 ``{message, code}`` for a record the fuzzing deleted (the top-level lists always 200)."""
    for path in known.checks():
        for accept in ("application/json", "application/jsonl"):
            if accept != "application/json" and not path.endswith("/list"):
                continue
            response = await http.get(PREFIX + path, headers={**AUTH, "accept": accept})
            scoped = path not in ("/bot/list", "/conversation/list", "/task/list", "/event/log/list")
            if scoped and response.status_code == 404:
                assert_error_body(response, response.content)
                continue
            assert response.status_code == 200, f"after {after}: GET {path} ({accept}): {response.text[:300]}"
            for line in response.content.splitlines():
                strict_json(line)


def fill(template: str, known: Known, values: dict[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        given_value = values.get(name)
        return known.param(name) if given_value is None else given_value

    return _PARAM.sub(one, template)


requests = st.fixed_dictionaries(
    {
        "params": st.dictionaries(
            st.sampled_from(
                ["bot_id", "conversation_id", "message_id", "task_id", "execution_id", "channel_id"]
            ),
            st.one_of(st.none(), hostile.path_values),
        ),
        "query": hostile.query_strings,
        "accept": hostile.accepts,
        "content_type": hostile.content_types,
        "headers": hostile.extra_headers,
        "body": hostile.raw_bodies,
        "method": st.one_of(st.none(), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])),
    }
)


def headers_of(case: dict[str, Any]) -> Headers:
    headers = {k: v for k, v in case["headers"].items() if k != "authorization"}
    headers.update(AUTH)
    if case["accept"] is not None:
        headers["accept"] = case["accept"]
    if case["content_type"] is not None:
        headers["content-type"] = case["content_type"]
    return [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]


ROUTES = route_table(LocalPlatform())
_KNOWN: weakref.WeakKeyDictionary[LocalPlatform, Known] = weakref.WeakKeyDictionary()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
@settings(max_examples=max(25, settings().max_examples // 4))  # 25 in CI; 100 with the deep profile
@given(data=st.data())
async def test_every_route_survives_hostile_requests(
    platform: LocalPlatform, http: httpx.AsyncClient, method: str, template: str, data: st.DataObject
) -> None:
    """Hostile paths, queries, headers and bodies on one route: below 500, in time, nothing poisoned."""
    known = _KNOWN.get(platform)
    if known is None:
        known = _KNOWN[platform] = await make_known(http, platform)
    case: dict[str, Any] = data.draw(requests)
    verb = case["method"] if case["method"] and data.draw(st.booleans()) else method
    url = PREFIX + fill(template, known, case["params"]) + (f"?{case['query']}" if case["query"] else "")
    assert isinstance(platform.clock, VirtualClock)
    await send(
        http,
        platform.clock,
        verb,
        url,
        headers=headers_of(case),
        body=case["body"],
        surface="HTTP: every route",
    )
    if verb != "GET":
        await assert_still_serving(http, known, f"{verb} {url[:100]!r}")


@given(
    path=st.one_of(st.text(hostile.ANY_CHAR, max_size=30).map(hostile.pct), hostile.path_values),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]),
    body=hostile.raw_bodies,
)
async def test_unknown_paths_are_refused_with_an_error_body(
    platform: LocalPlatform, http: httpx.AsyncClient, path: str, method: str, body: bytes | None
) -> None:
    """Any other path or method answers 404/405 with ``{message, code}``, under either prefix or none."""
    assert isinstance(platform.clock, VirtualClock)
    for prefix in ("", "/v1/", "/api/v1/", "/api/v1/bot/"):
        response = await send(
            http,
            platform.clock,
            method,
            prefix + path,
            headers=AUTH_PAIRS,
            body=body,
            surface="HTTP: unknown paths",
        )
        assert response.status_code < 500


_T = SUITE_TOKEN.encode()
UNAUTHENTICATED: list[Headers] = [
    [],
    [(b"authorization", b"")],
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Bearer wrong")],
    [(b"authorization", b"Basic " + _T)],
    [(b"authorization", b"Bearer " + _T + b"x")],
    [(b"authorization", b"Bearer " + _T[:-1])],
    [(b"authorization", b"Bearer \xff\xfe")],
    [(b"x-api-key", _T)],
]


async def test_every_endpoint_refuses_an_unauthenticated_call(
    platform: LocalPlatform, http: httpx.AsyncClient
) -> None:
    """Every route, under both prefixes, answers 401 NOT_AUTHENTICATED to a missing or wrong credential."""
    known = await make_known(http, platform)
    assert isinstance(platform.clock, VirtualClock)
    for method, template in ROUTES:
        for prefix in ("/v1", "/api/v1"):
            url = prefix + fill(template, known, {})
            for headers in UNAUTHENTICATED:
                response = await send(
                    http,
                    platform.clock,
                    method,
                    url,
                    headers=headers,
                    body=b"{}",
                    surface="HTTP: unauthenticated",
                )
                assert response.status_code == 401, (method, url, headers)
    await assert_still_serving(http, known, "the unauthenticated calls")
    assert len(ROUTES) >= 36
