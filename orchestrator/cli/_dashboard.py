"""``orchestrator dashboard``: the web dashboard on a store, served on loopback until Ctrl-C.

With the platform's token (``CHATBOTKIT_API_TOKEN``, or ``--platform-token``) the command opens an
:class:`Orchestrator` on the store and that platform, and the dashboard acts through it: Cancel, Approve and
Reject work as they do in the application (a cancelled task is stopped on the platform and the application's
replica, or this one, ends the job). That orchestrator is a replica like any other: it renews no leases it does
not hold and declares no jobs, but it adopts in-flight jobs whose replica is gone. Without a platform token the
dashboard reads the store only and every action answers 409 saying what to configure.
"""

from __future__ import annotations

import ipaddress
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import anyio
import click

from .. import Clock, Orchestrator
from ..dashboard import dashboard_app, serve_dashboard
from ..platform import DEFAULT_BASE_URL, PlatformClient
from ._common import CliError, opened_store, run_async, store_option
from ._params import not_blank

__all__ = ["dashboard", "run_dashboard"]

Ready = Callable[[str], Awaitable[None]]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def run_dashboard(
    *,
    store_url: str,
    host: str = "127.0.0.1",
    port: int = 8788,
    token: str | None = None,
    platform_url: str = DEFAULT_BASE_URL,
    platform_token: str | None = None,
    echo: Callable[[str], None] = click.echo,
    clock: Clock | None = None,
    ready: Ready | None = None,
) -> None:
    """Serve the dashboard on ``store_url`` until SIGINT/SIGTERM, or until ``ready(url)`` returns (tests).

    Raises:
        CliError: a bad store URL, a missing SQLite file, or an address that cannot be bound.
    """
    async with AsyncExitStack() as stack:
        # the same checks as the `jobs` commands (a SQLite file must exist: the dashboard creates no store)
        store = await stack.enter_async_context(opened_store(store_url))
        if platform_token:
            client = PlatformClient(platform_url, platform_token, clock=clock)
            orc = await stack.enter_async_context(Orchestrator(store=store, platform=client, clock=clock))
            app = dashboard_app(orc, token=token)
            mode = f"acting through the platform at {platform_url}"
        else:
            app = dashboard_app(store=store, clock=clock, token=token)
            mode = (
                "read-only: set CHATBOTKIT_API_TOKEN (and CHATBOTKIT_BASE_URL) to cancel, run now and approve"
            )
        try:
            url = await stack.enter_async_context(serve_dashboard(app, host=host, port=port))
        except OSError as exc:
            raise CliError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}") from exc
        shown = app.state.dashboard_token
        echo(f"Dashboard at {url}/ on the store {app.state.dashboard.source.store.url} ({mode})")
        if token is None:
            echo(f"Open {url}/?token={shown} (the token is generated for this run; --token sets one)")
        else:
            echo(f"Open {url}/?token=<the --token value>")
        if not _loopback(host):
            echo(
                f"warning: {host} is not a loopback address: anyone who can reach it and has the token sees the jobs"
            )
        echo("Ctrl-C stops.")
        if ready is not None:
            await ready(url)
            return
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                echo("stopping")
                return


@click.command("dashboard")
@store_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=not_blank,
    help="The interface to serve on (loopback).",
)
@click.option(
    "--port", default=8788, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
@click.option(
    "--token",
    envvar="ORCHESTRATOR_DASHBOARD_TOKEN",
    default=None,
    metavar="TOKEN",
    help="The dashboard's own token (env ORCHESTRATOR_DASHBOARD_TOKEN); generated and printed when omitted.",
)
@click.option(
    "--platform-url",
    envvar="CHATBOTKIT_BASE_URL",
    default=DEFAULT_BASE_URL,
    show_default=True,
    metavar="URL",
    help="The platform the jobs run on, for actions (env CHATBOTKIT_BASE_URL).",
)
@click.option(
    "--platform-token",
    envvar="CHATBOTKIT_API_TOKEN",
    default=None,
    metavar="TOKEN",
    help="The platform's API token, for actions (env CHATBOTKIT_API_TOKEN); without it the dashboard is read-only.",
)
def dashboard(
    store_url: str, host: str, port: int, token: str | None, platform_url: str, platform_token: str | None
) -> None:
    """Serve the web dashboard of a store: jobs, live events, plans, schedules, routing."""
    if token is not None and len(token) < 8:
        raise CliError("the dashboard token must be at least 8 characters")

    async def go() -> None:
        await run_dashboard(
            store_url=store_url,
            host=host,
            port=port,
            token=token,
            platform_url=platform_url,
            platform_token=platform_token,
        )

    run_async(go)
