"""List endpoints: ``cursor``/``take``/``order``/``meta.*`` query parameters, JSON pages and streamed items.

JSON: ``{items, cursor}`` with ``cursor`` = the last item's id, absent on an empty page; ``take`` 1..100 (100
by default, 0 or not a number also means 100); ``order`` ``desc`` by default. JSONL / SSE: every matching
record as a ``{type:"item", data}`` frame across all pages, ``take`` then caps the total.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._errors import bad_request
from ._wire import EventStream, Format, Frame, json_response, negotiate

__all__ = ["ListQuery", "id_filter", "list_response", "select"]

_MAX_TAKE = 100


def _parse_take(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        take = int(raw)
    except ValueError:
        return None
    if take <= 0:
        return None
    return min(take, _MAX_TAKE)


def _meta_filters(request: Request) -> list[tuple[list[str], str]]:
    filters = []
    for key, value in request.query_params.multi_items():
        if key.startswith("meta."):
            path = key[5:].split(".")
        elif key.startswith("meta[") and key.endswith("]"):
            path = key[5:-1].replace("][", ".").split(".")
        else:
            continue
        if not all(path):
            raise bad_request(f"query parameter {key!r} names no meta key: use meta.<key>=<value>")
        filters.append((path, value))
    return filters


def _matches(meta: object, path: list[str], want: str) -> bool:
    value: object = meta
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    if want in ("true", "false"):
        return value is (want == "true") or value == want
    if isinstance(value, bool):
        return False
    return isinstance(value, str | int | float) and str(value) == want


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The paging and filtering parameters of one list request."""

    cursor: str | None
    take: int | None
    order: str
    meta: list[tuple[list[str], str]]

    @classmethod
    def from_request(cls, request: Request) -> ListQuery:
        order = request.query_params.get("order", "desc").lower()
        if order not in ("asc", "desc"):
            raise bad_request(f"order must be 'asc' or 'desc', got {order!r}")
        return cls(
            cursor=request.query_params.get("cursor") or None,
            take=_parse_take(request.query_params.get("take")),
            order=order,
            meta=_meta_filters(request),
        )


def id_filter(request: Request, param: str, field: str) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate for a comma-separated ``*Id`` (or plain value) filter, or ``None`` when not asked."""
    raw = request.query_params.get(param)
    if not raw:
        return None
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    return lambda record: record.get(field) in wanted


def select(
    records: Iterable[dict[str, Any]],
    query: ListQuery,
    predicates: Iterable[Callable[[dict[str, Any]], bool] | None] = (),
) -> list[dict[str, Any]]:
    """The matching records in the query's order, after its cursor (no ``take`` applied)."""
    checks = [p for p in predicates if p is not None]
    out = [
        r
        for r in records
        if all(_matches(r.get("meta"), path, want) for path, want in query.meta) and all(c(r) for c in checks)
    ]
    if query.order == "desc":
        out.reverse()
    if query.cursor is not None:
        cursor = query.cursor
        if query.order == "desc":
            out = [r for r in out if r["id"] < cursor]
        else:
            out = [r for r in out if r["id"] > cursor]
    return out


def list_response(request: Request, items: list[dict[str, Any]], query: ListQuery) -> Response:
    """A JSON page, or every item streamed as ``{type:"item", data}`` frames."""
    fmt = negotiate(request)
    if fmt is Format.JSON:
        page = items[: query.take or _MAX_TAKE]
        body: dict[str, Any] = {"items": page}
        if page:
            body["cursor"] = page[-1]["id"]
        return json_response(body)
    if query.take is not None:
        items = items[: query.take]

    async def batches() -> AsyncIterator[list[Frame]]:
        for start in range(0, len(items), _MAX_TAKE):
            yield [Frame("item", item) for item in items[start : start + _MAX_TAKE]]

    return EventStream(batches(), fmt)
