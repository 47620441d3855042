"""List endpoints as async iterators over every item, page after page (reference §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from .._errors import PlatformError, UsageError
from ._http import HttpCore
from ._wire import shape

__all__ = ["MAX_TAKE", "pages"]

MAX_TAKE = 100


async def pages(
    http: HttpCore, endpoint: str, query: Mapping[str, Any], *, take: int | None
) -> AsyncIterator[Any]:
    """Every item of a list endpoint, page after page (each page a retried ``GET``).

    Follows ``cursor`` (the response's, else the last item's id) until a page is empty or shorter than the
    page size (``take``, default 100).
    """
    if take is not None and (
        isinstance(take, bool) or not isinstance(take, int) or not 1 <= take <= MAX_TAKE
    ):
        raise UsageError(f"take must be an int from 1 to {MAX_TAKE} (the page size), got {take!r}")
    size = take or MAX_TAKE
    cursor: str | None = None
    while True:
        page = await http.call(
            "GET",
            endpoint,
            query={**query, "take": take, "cursor": cursor},
            expect=("items",),
            retry=True,
        )
        items = page.get("items") if isinstance(page, Mapping) else None
        if not isinstance(items, list):
            raise PlatformError(f"GET {http.path(endpoint)}: the list answer has no 'items' ({shape(page)})")
        for item in items:
            yield item
        if len(items) < size:
            return
        following = page.get("cursor")
        if not isinstance(following, str) or not following:
            last = items[-1]
            following = last.get("id") if isinstance(last, Mapping) else None
        if not isinstance(following, str) or not following or following == cursor:
            raise PlatformError(
                f"GET {http.path(endpoint)}: a full page came without a new cursor; the list cannot go on"
            )
        cursor = following
