"""``LocalPlatform``: the local platform as an async context manager serving on a loopback port."""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
from starlette.applications import Starlette

from .._clock import Clock, SystemClock
from .._duration import Duration, parse_duration, positive_duration
from ._agent import Agent
from ._app import build_app
from ._core import Core, Settings
from ._faults import Faults
from ._persist import SqliteState
from ._server import EmbeddedServer, bind_socket, quiet_injected_drops
from ._services import Services
from ._simulated import SimulatedAgent
from ._state import State

if TYPE_CHECKING:
    from ..platform import PlatformClient

__all__ = ["LocalPlatform"]


class LocalPlatform:
    """The platform's wire protocol, served on loopback, with a simulated (or any) agent and an injectable
    clock.

    Args:
        clock: the platform clock (agent sleeps, ceiling, ``maxTime``, schedules, timestamps);
        ``SystemClock()``
            by default. Share a ``VirtualClock`` with the orchestrator to pass hours in milliseconds.
        token: the API token clients must send (``Bearer``); generated when omitted.
        ceiling: dispatch runs are killed this long after they start (15 minutes, as on the real platform).
        ceiling_kill: ``"silent"`` (the channel just stops) or ``"error"`` (an ``error`` event, code
        ``TIMEOUT``). agent: what runs inside completions, dispatches and tasks; :class:`SimulatedAgent` by
        default. faults: injected faults (also settable later through :attr:`faults`).
        state: a SQLite file keeping conversations, messages, bots, tasks, executions and events across
        restarts. host: the interface to serve on (loopback by default).
        port: the port (0: a free one).
        tool_wait: how long a live tool call waits for its channel message (never past the run's bound).
        default_max_time: the ``maxTime`` of tasks that set none.
        failure_status: the HTTP status of a plain JSON completion whose agent run failed, answered with the
            error object ``{message, code}``. The reference does not say; 200 by default (the answer the
            platform gives a failure after its 19 s commit, and one no client retries); 500 reproduces a
            retryable failure. Either way a retried failing call is harmless (``failure_replay``).
        subscribe_nop: which subscribes lead with a ``nop`` item: ``"channels"`` (channel and conversation
            monitor subscribes, as the reference and the Node SDK's types say) or ``"all"`` (task and event-log
            subscribes too; the client copes with both).
        failure_replay: for this long after a JSON completion failed, the same request (path and body) is
            answered with the same failure without running again or appending its user message twice (an
            SDK's automatic retry); 0 turns it off.

    Durations take a ``timedelta``, seconds, or a string such as ``"15m"`` (like a job's ``runtime``).

    Nothing starts before ``async with``; leaving it stops runs, the scheduler and the server.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        token: str | None = None,
        ceiling: Duration = timedelta(minutes=15),
        ceiling_kill: Literal["silent", "error"] = "silent",
        agent: Agent | None = None,
        faults: Faults | None = None,
        state: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tool_wait: Duration = timedelta(minutes=10),
        default_max_time: Duration = timedelta(hours=24),
        failure_status: int = 200,
        failure_replay: Duration = timedelta(seconds=10),
        subscribe_nop: Literal["channels", "all"] = "channels",
    ) -> None:
        if ceiling_kill not in ("silent", "error"):
            raise ValueError(f"ceiling_kill must be 'silent' or 'error', got {ceiling_kill!r}")
        if subscribe_nop not in ("channels", "all"):
            raise ValueError(f"subscribe_nop must be 'channels' or 'all', got {subscribe_nop!r}")
        if parse_duration(ceiling, what="ceiling") <= timedelta(0):
            raise ValueError(f"ceiling must be positive, got {ceiling!r}")
        if (
            isinstance(failure_status, bool)
            or failure_status not in range(200, 600)
            or failure_status in range(201, 400)
        ):
            raise ValueError(
                f"failure_status must be 200 or an error status (400-599), got {failure_status!r}"
            )
        self._clock: Clock = clock or SystemClock()
        self._token = token or secrets.token_urlsafe(24)
        self.token_generated = token is None
        self._faults = faults or Faults()
        self._state_path = None if state is None else Path(state)
        self._host = host
        self._port = port
        settings = Settings(
            ceiling=parse_duration(ceiling, what="ceiling").total_seconds(),
            ceiling_kill=ceiling_kill,
            tool_wait=parse_duration(tool_wait, what="tool_wait").total_seconds(),
            default_max_time=positive_duration(default_max_time, what="default_max_time").total_seconds(),
            failure_status=failure_status,
            failure_replay=parse_duration(failure_replay, what="failure_replay").total_seconds(),
            subscribe_nop=subscribe_nop,
        )
        core = Core(
            clock=self._clock,
            settings=settings,
            agent=agent or SimulatedAgent(),
            state=State(),
            faults=self._faults,
        )
        self._services = services = Services.compose(core)
        self._core = core
        self._app = build_app(services, token=self._token, faults=lambda: self._faults)
        self._base_url: str | None = None
        self._stack: AsyncExitStack | None = None
        self._entered = False

    # -- public surface -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._base_url is None:
            raise RuntimeError("LocalPlatform is not serving yet: use `async with LocalPlatform(...) as p`")
        return self._base_url

    @property
    def token(self) -> str:
        return self._token

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def app(self) -> Starlette:
        """The ASGI app (also usable through ``httpx.ASGITransport`` while the platform is entered)."""
        return self._app

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value
        self._core.faults = value

    @property
    def active_runs(self) -> int:
        """How many agent runs are in progress."""
        return len(self._services.engine.active)

    def client(self, **kwargs: Any) -> PlatformClient:
        """A ``PlatformClient`` bound to this platform (same clock); ``kwargs`` go to its constructor."""
        from ..platform import PlatformClient

        kwargs.setdefault("clock", self._clock)
        return PlatformClient(self.base_url, self._token, **kwargs)

    def __repr__(self) -> str:
        where = self._base_url or "not serving"
        return f"LocalPlatform({where}, clock={self._clock!r})"

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a LocalPlatform can be entered once; create a new one")
        self._entered = True
        core = self._core
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            if self._state_path is not None:
                store = SqliteState(self._state_path)
                store.open(core.state)
                store.attach(core.hub, self._services.dispatches, now=self._clock.time())
                stack.callback(store.close)
                self._services.tasks.recover()
            else:
                store = None
            quiet_injected_drops()
            sock = bind_socket(self._host, self._port)
            stack.callback(sock.close)
            host, port = sock.getsockname()[:2]
            self._base_url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            server = EmbeddedServer(self._app)
            server_group = await stack.enter_async_context(anyio.create_task_group())
            server_group.start_soon(server.serve, [sock])
            stack.callback(server.stop)
            runs = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(runs.cancel_scope.cancel)
            stack.callback(self._begin_close)
            core.task_group = runs
            runs.start_soon(self._services.scheduler.run)
            if store is not None:
                runs.start_soon(store.run)
            self._services.scheduler.restore()
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    def _begin_close(self) -> None:
        self._core.closing = True
        self._core.hub.close()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        return await stack.__aexit__(exc_type, exc, tb)
