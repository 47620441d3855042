"""Client configuration, from_env, lifecycle, the public surface, logging and token hygiene."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

import orchestrator.platform as platform
from orchestrator import ConfigurationError, PlatformError, StreamProtocolError
from orchestrator._clock import SystemClock, VirtualClock
from orchestrator.platform import DEFAULT_BASE_URL, PlatformClient, RetryPolicy

from ._support import LOCAL, TOKEN, Recorder, client_for, raises, reply

CHANNEL = "f" * 32


def test_public_names_are_exactly_the_documented_ones() -> None:
    """``__all__`` lists exactly the public names of the module, sorted."""
    public = {name for name in dir(platform) if not name.startswith("_")}
    assert set(platform.__all__) == public
    assert platform.__all__ == sorted(platform.__all__, key=lambda n: (not n.isupper(), n.islower(), n))
    documented = {
        "PlatformClient", "RetryPolicy", "StreamEvent", "CompletionResult", "collect_completion", "Record",
        "Conversation", "Message", "Bot", "Task", "TaskExecution", "EventLogItem", "JSONLDecoder",
        "DEFAULT_BASE_URL",
    }  # fmt: skip
    assert documented <= public


@pytest.mark.parametrize(
    ("base_url", "prefix"),
    [
        ("https://api.chatbotkit.com", "/v1"),
        ("https://api.chatbotkit.com/", "/v1"),
        ("https://API.chatbotkit.com", "/v1"),
        ("https://chatbotkit.com", "/api/v1"),
        ("https://api.chatbotkit.com.example.org", "/api/v1"),
        ("http://127.0.0.1:8787", "/api/v1"),
        ("http://localhost", "/api/v1"),
    ],
)
def test_path_prefix_rule(base_url: str, prefix: str) -> None:
    """``/v1`` on exactly api.chatbotkit.com, ``/api/v1`` on any other host."""
    assert PlatformClient(base_url, "t").api_prefix == prefix


def test_defaults() -> None:
    """The default base URL is the real API, the default clock is the system clock."""
    client = PlatformClient(token="t")
    assert client.base_url == DEFAULT_BASE_URL == "https://api.chatbotkit.com"
    assert isinstance(client.clock, SystemClock)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://host"}, "absolute http"),
        ({"base_url": "/relative"}, "absolute http"),
        ({"base_url": "http://[::1"}, "not a valid URL"),
        ({"base_url": "https://user:pw@host"}, "must not contain credentials"),
        ({"api_prefix": "v1"}, "api_prefix must start with '/'"),
        ({"api_prefix": "/v1/"}, "api_prefix must start with '/'"),
        ({"headers": {"Authorization": "Bearer x"}}, "pass the API token as token="),
        ({"token": 123}, "token must be a string"),
        ({"transport": httpx.MockTransport(Recorder()), "http_client": httpx.AsyncClient()}, "not both"),
    ],
)
def test_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    """Invalid configuration raises ConfigurationError saying what to pass instead."""
    with pytest.raises(ConfigurationError, match=message) as caught:
        PlatformClient(**kwargs)  # type: ignore[arg-type]
    assert "pw" not in str(caught.value)


def test_from_env_reads_token_and_base_url() -> None:
    """from_env takes CHATBOTKIT_API_TOKEN and CHATBOTKIT_BASE_URL; explicit kwargs win."""
    client = PlatformClient.from_env({"CHATBOTKIT_API_TOKEN": TOKEN, "CHATBOTKIT_BASE_URL": LOCAL})
    assert (client.base_url, client.api_prefix) == (LOCAL, "/api/v1")
    default = PlatformClient.from_env({"CHATBOTKIT_API_TOKEN": TOKEN}, timezone="UTC")
    assert (default.base_url, default.api_prefix) == (DEFAULT_BASE_URL, "/v1")
    override = PlatformClient.from_env({"CHATBOTKIT_BASE_URL": LOCAL}, base_url="http://127.0.0.2:9")
    assert override.base_url == "http://127.0.0.2:9"
    local = PlatformClient.from_env({"CHATBOTKIT_BASE_URL": LOCAL, "CHATBOTKIT_API_TOKEN": "  "})
    assert repr(local).endswith("token=None)")


@pytest.mark.parametrize(
    "environ", [{}, {"CHATBOTKIT_API_TOKEN": ""}, {"CHATBOTKIT_BASE_URL": DEFAULT_BASE_URL}]
)
def test_from_env_without_a_token_for_the_real_api(environ: dict[str, str]) -> None:
    """The real API without a token is a ConfigurationError that names the variable to set."""
    with pytest.raises(ConfigurationError, match="CHATBOTKIT_API_TOKEN is not set"):
        PlatformClient.from_env(environ)


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit mapping, from_env reads the process environment."""
    monkeypatch.setenv("CHATBOTKIT_API_TOKEN", TOKEN)
    monkeypatch.setenv("CHATBOTKIT_BASE_URL", "http://127.0.0.1:9999")
    client = PlatformClient.from_env(clock=VirtualClock())
    assert client.base_url == "http://127.0.0.1:9999"
    assert isinstance(client.clock, VirtualClock)


async def test_borrowed_http_client_is_used_and_never_closed() -> None:
    """A borrowed httpx client carries the requests and stays open after the platform client closes."""
    recorder = Recorder(reply(200, {"id": "t1"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as borrowed:
        async with PlatformClient(LOCAL, TOKEN, http_client=borrowed) as client:
            await client.tasks.fetch("t1")
        assert not borrowed.is_closed
        assert client.closed
    assert recorder.last.headers["authorization"] == f"Bearer {TOKEN}"


async def test_owned_http_client_is_closed_on_exit() -> None:
    """The client's own httpx client is created on first use and closed when the context exits."""
    client = client_for(Recorder(reply(200, {"id": "t1"})))
    async with client:
        await client.tasks.fetch("t1")
        owned = client._owned
        assert owned is not None
    assert owned.is_closed


# -- token hygiene -------------------------------------------------------------------------------------------


def _assert_clean(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text), text


async def test_token_never_in_repr() -> None:
    """The client's repr (and its internals' reprs) never show the token."""
    client = PlatformClient(LOCAL, TOKEN)
    _assert_clean(repr(client), str(client), repr(client._token), str(client._token), repr(vars(client)))
    assert "token='***'" in repr(client)


async def test_token_never_in_errors_even_when_the_platform_echoes_it() -> None:
    """Messages, reprs, urls and data of errors scrub the token, whatever the server or transport said."""
    echo = {"message": f"invalid token {TOKEN}", "code": "NOT_AUTHENTICATED", "detail": {"token": TOKEN}}
    recorder = Recorder(
        reply(401, echo),
        reply(200, {"message": f"still {TOKEN}"}),
        raises(httpx.ConnectError, f"cannot connect with {TOKEN}"),
        reply(200, content=f"not json {TOKEN}\n".encode()),
        reply(401, chunks=[f'{{"message":"stream {TOKEN}"}}'.encode()]),
        reply(200, {"unexpected": TOKEN}),
    )
    errors: list[PlatformError] = []
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        for call in (
            lambda: client.tasks.fetch("t1"),
            lambda: client.conversations.complete({}),
            lambda: client.tasks.fetch("t1"),
        ):
            with pytest.raises(PlatformError) as caught:
                await call()
            errors.append(caught.value)
        for expected in (StreamProtocolError, PlatformError):
            with pytest.raises(expected) as caught_stream:
                async with client.channels.subscribe(CHANNEL) as events:
                    [e async for e in events]
            errors.append(caught_stream.value)
        with pytest.raises(PlatformError, match="no 'id'") as caught_create:
            await client.tasks.create({})
        errors.append(caught_create.value)
    assert len(errors) == 6
    for error in errors:
        _assert_clean(error, repr(error), error.message, error.args, error.url, error.data)
    assert "invalid token ***" in errors[0].message
    assert errors[0].data == {
        "message": "invalid token ***",
        "code": "NOT_AUTHENTICATED",
        "detail": {"token": "***"},
    }


async def test_token_never_in_logs_and_requests_are_logged() -> None:
    """Each request logs method, path, status and attempt at debug level; no log entry holds the token."""
    recorder = Recorder(reply(503, {}), reply(200, {"id": "t1"}), raises(httpx.ConnectError, TOKEN))
    with capture_logs() as logs:
        async with client_for(recorder, retry=RetryPolicy(attempts=2, initial_backoff=0, jitter=0)) as client:
            await client.tasks.fetch("t1")
            with pytest.raises(PlatformError):
                await client.tasks.fetch("t1")
    assert logs
    _assert_clean(*[repr(entry) for entry in logs])
    assert {entry["log_level"] for entry in logs} == {"debug"}
    first = logs[0]
    assert {k: first[k] for k in ("event", "method", "path", "status", "attempt")} == {
        "event": "platform request",
        "method": "GET",
        "path": "/api/v1/task/t1/fetch",
        "status": 503,
        "attempt": 1,
    }
    failed = [e for e in logs if e["event"] == "platform request failed"]
    assert [(e["error"], e["attempt"]) for e in failed] == [
        ("PlatformConnectionError", 1),
        ("PlatformConnectionError", 2),
    ]
