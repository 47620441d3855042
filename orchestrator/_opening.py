"""What an ``Orchestrator`` opens on entry: its platform client (the embedded local platform by default).

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

from ._clock import Clock
from .platform import PlatformClient

if TYPE_CHECKING:
    from .local import LocalPlatform

__all__ = ["default_replica_id", "open_platform"]


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
