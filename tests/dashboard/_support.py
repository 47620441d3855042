"""Helpers of the dashboard suite: reading SSE, forms' CSRF values, plan requests."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

PLAN = (
    "Set up the reporting.\n"
    '- Post the morning digest [[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]]\n'
    '- Poll the feed [[schedule "*/5 * * * *"]]\n'
    "- Summarise the backlog [[runtime 30m]]\n"
)


async def sse_messages(
    client: httpx.AsyncClient, path: str, *, headers: dict[str, str] | None = None, until: str = "end"
) -> list[dict[str, Any]]:
    """The messages of an SSE stream (``{"id", "event", "data"}``) up to the first of type ``until``."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line:
                if current:
                    out.append(current)
                    if current.get("event") == until:
                        return out
                current = {}
                continue
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value
    return out


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    """Open a page (which sets the CSRF cookie) and read the value its forms carry (from its meta tag)."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', response.text)
    assert match is not None, "the page has no CSRF value"
    return match.group(1)
