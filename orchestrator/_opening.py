"""What an ``Orchestrator`` opens on entry and closes on exit: its platform client (the embedded local platform
by default), its store, and the task group its runtime's parts run in.

``platform=`` may be a :class:`PlatformClient`, a :class:`LocalPlatform`, or ``None``: then
``PlatformClient.from_env()`` when ``CHATBOTKIT_API_TOKEN`` is set, else a local platform on the orchestrator's
clock. Whatever is opened is closed with the exit stack it is entered on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import anyio

from ._clock import Clock
from ._errors import UsageError
from .platform import PlatformClient
from .runtime import Runtime, RuntimeState
from .store import JobStore, open_store

if TYPE_CHECKING:
    from .local import LocalPlatform

__all__ = ["close_runtime", "default_replica_id", "open_platform", "open_runtime"]


def default_replica_id() -> str:
    """This process's name in leases: host, pid and a random suffix."""
    return f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"


async def open_platform(
    arg: PlatformClient | LocalPlatform | None,
    stack: AsyncExitStack,
    *,
    clock: Clock,
    environ: Mapping[str, str] | None,
) -> PlatformClient:
    """The platform client for ``platform=``, entered on ``stack``."""
    if isinstance(arg, PlatformClient):
        return await stack.enter_async_context(arg)
    if arg is None:
        env = os.environ if environ is None else environ
        if env.get("CHATBOTKIT_API_TOKEN"):
            client = PlatformClient.from_env(env, clock=clock)
            return await stack.enter_async_context(client)
        from .local import LocalPlatform

        arg = LocalPlatform(clock=clock)
    platform = await stack.enter_async_context(arg)
    return await stack.enter_async_context(platform.client())


async def open_runtime(
    rt: Runtime,
    platform: PlatformClient | LocalPlatform | None,
    store: str | JobStore | None,
    *,
    environ: Mapping[str, str] | None,
) -> AsyncExitStack:
    """Open the platform client and the store, then start ``rt`` in a task group; the stack returned closes all."""
    if rt.state is not RuntimeState.NEW:
        raise UsageError("an Orchestrator can be entered once; create a new one to start again")
    rt.state = RuntimeState.OPEN
    stack = AsyncExitStack()
    await stack.__aenter__()
    try:
        client = await open_platform(platform, stack, clock=rt.clock, environ=environ)
        opened = await stack.enter_async_context(open_store(store, clock=rt.clock, environ=environ))
        stack.push_async_callback(rt.leases.release)
        tg = await stack.enter_async_context(anyio.create_task_group())
        await rt.open(client, opened, tg)
    except BaseException:
        rt.state = RuntimeState.CLOSED
        await stack.__aexit__(None, None, None)
        raise
    return stack


async def close_runtime(rt: Runtime, stack: AsyncExitStack | None) -> None:
    """Stop ``rt``'s parts, then close what :func:`open_runtime` opened (store, platform), in reverse."""
    rt.state = RuntimeState.CLOSED
    if rt.task_group is not None:
        rt.task_group.cancel_scope.cancel()
    if stack is not None:
        await stack.__aexit__(None, None, None)
    rt.close()
