"""List iterators: every page, cursors, the empty last page without a cursor, page size, early exit."""

from __future__ import annotations

import pytest

from orchestrator import PlatformError

from ._support import Recorder, client_for, reply


def _items(*ids: str) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


async def test_multiple_pages_follow_the_cursor() -> None:
    """Full pages are followed by their cursor until a short page ends the list."""
    recorder = Recorder(
        reply(200, {"items": _items("a", "b"), "cursor": "b"}),
        reply(200, {"items": _items("c", "d"), "cursor": "d"}),
        reply(200, {"items": _items("e"), "cursor": "e"}),
    )
    async with client_for(recorder) as client:
        ids = [t.id async for t in client.tasks.list(take=2, order="asc")]
    assert ids == ["a", "b", "c", "d", "e"]
    cursors = [r.url.params.get("cursor") for r in recorder.requests]
    assert cursors == [None, "b", "d"]
    assert {r.url.params["take"] for r in recorder.requests} == {"2"}
    assert {r.url.params["order"] for r in recorder.requests} == {"asc"}


async def test_empty_last_page_without_cursor_ends_the_list() -> None:
    """A page of exactly ``take`` items is followed by an empty page that carries no cursor: the end."""
    recorder = Recorder(reply(200, {"items": _items("a", "b"), "cursor": "b"}), reply(200, {"items": []}))
    async with client_for(recorder) as client:
        ids = [c.id async for c in client.conversations.list(take=2)]
    assert ids == ["a", "b"]
    assert len(recorder.requests) == 2


async def test_default_page_size_is_100_and_missing_cursor_uses_the_last_id() -> None:
    """Without ``take`` a page of 100 is full; a full page without ``cursor`` goes on from its last id."""
    first = _items(*(f"m{i:03}" for i in range(100)))
    recorder = Recorder(reply(200, {"items": first}), reply(200, {"items": _items("m100")}))
    async with client_for(recorder) as client:
        messages = [m async for m in client.conversations.messages("c1")]
    assert len(messages) == 101
    assert "take" not in recorder.requests[0].url.params
    assert recorder.requests[1].url.params["cursor"] == "m099"


async def test_stopping_early_fetches_no_more_pages() -> None:
    """Leaving the loop after the first item sends no further request."""
    recorder = Recorder(reply(200, {"items": _items("a", "b"), "cursor": "b"}))
    async with client_for(recorder) as client:
        async for bot in client.bots.list(take=2):
            assert bot.id == "a"
            break
    assert len(recorder.requests) == 1


async def test_a_cursor_that_does_not_move_is_an_error_not_a_loop() -> None:
    """A server that answers the same full page forever makes the iterator fail instead of looping."""
    recorder = Recorder(reply(200, {"items": _items("a"), "cursor": "a"}))
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError, match="without a new cursor"):
            [e async for e in client.events.list(take=1)]
    assert len(recorder.requests) == 2


async def test_items_without_ids_are_refused() -> None:
    """A list item that is not an object with an id raises a PlatformError naming the record type."""
    recorder = Recorder(reply(200, {"items": [{"name": "no id"}]}))
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError, match="TaskExecution: the platform's object has no string 'id'"):
            [x async for x in client.tasks.executions("t1")]
