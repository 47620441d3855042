"""``client.conversations``: conversations, completions, dispatch, messages, the conversation monitor (§2)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from .._errors import PlatformError, UsageError
from ._events import CompletionResult, StreamEvent
from ._http import HttpCore
from ._pagination import pages
from ._records import Conversation, Message, Record
from ._wire import StreamFormat, history_body, object_body, returned_id, segment, shape

__all__ = ["Conversations"]

MIN_DISPATCH_CHANNEL_ID = 24
_COMPLETION_FIELDS = ("text", "end", "usage", "id")


class Conversations:
    """Conversation endpoints. Reached as ``client.conversations``."""

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    async def create(self, body: Mapping[str, Any] | None = None) -> Conversation:
        """Create a conversation (``name``, ``meta``, ``botId`` or inline bot config, ``messages``, ...).

        Returns:
            The created conversation (the platform answers ``{id, ...}``; the other fields are what it sent).
        """
        answer = await self._http.call("POST", "/conversation/create", body=object_body(body))
        return Conversation.from_wire(answer)

    async def fetch(self, conversation_id: str) -> Conversation:
        """Fetch one conversation.

        Raises:
            NotFoundError: no conversation has that id.
        """
        cid = segment(conversation_id, "conversation_id")
        return Conversation.from_wire(await self._http.call("GET", f"/conversation/{cid}/fetch", retry=True))

    async def list(
        self, *, meta: Mapping[str, Any] | None = None, take: int | None = None, order: str | None = None
    ) -> AsyncIterator[Conversation]:
        """Every conversation, page after page; ``meta`` filters (``meta.k=v``), ``take`` is the page size."""
        async for item in pages(self._http, "/conversation/list", {"meta": meta, "order": order}, take=take):
            yield Conversation.from_wire(item)

    async def update(self, conversation_id: str, body: Mapping[str, Any]) -> str:
        """Update a conversation; returns its id.

        Retried (setting the same fields twice is harmless), unless the body carries ``messages``, which a
        repeated update might append twice.
        """
        cid = segment(conversation_id, "conversation_id")
        payload = object_body(body)
        answer = await self._http.call(
            "POST", f"/conversation/{cid}/update", body=payload, retry="messages" not in payload
        )
        return returned_id(answer, conversation_id, what="conversation update")

    async def delete(self, conversation_id: str) -> str:
        """Delete a conversation; returns its id. Retried; a 404 on a retry means the earlier attempt deleted it."""
        cid = segment(conversation_id, "conversation_id")
        answer = await self._http.call(
            "POST", f"/conversation/{cid}/delete", retry=True, done_if_missing=True
        )
        return returned_id(answer, conversation_id, what="conversation delete")

    def _complete_path(self, conversation_id: str | None, action: str) -> str:
        if conversation_id is None:
            return f"/conversation/{action}"
        return f"/conversation/{segment(conversation_id, 'conversation_id')}/{action}"

    async def complete(
        self, body: Mapping[str, Any], *, conversation_id: str | None = None
    ) -> CompletionResult:
        """Run a completion and wait for its result (JSON mode; never retried).

        Args:
            body: stateless: ``{messages, botId | bot config, functions?, ...}``; stateful: ``{text?, ...}``.
            conversation_id: complete in this conversation (stateful) instead of statelessly.

        Raises:
            PlatformError: the platform failed the completion, including with a 200 error body.
        """
        answer = await self._http.call(
            "POST",
            self._complete_path(conversation_id, "complete"),
            body=object_body(body),
            expect=_COMPLETION_FIELDS,
            timezone=True,
            long=True,
        )
        return CompletionResult.from_wire(answer if answer is not None else {})

    def stream(
        self, body: Mapping[str, Any], *, conversation_id: str | None = None, format: StreamFormat = "jsonl"
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """Run a completion as a stream (never retried)::

            async with client.conversations.stream({"messages": [...]}) as events:
                result = await collect_completion(events)

        Args:
            body: as for :meth:`complete`.
            conversation_id: stream in this conversation (stateful).
            format: ask for ``"jsonl"`` or ``"sse"``; the events are decoded by what the platform answers.
        """
        path = self._complete_path(conversation_id, "complete")
        return self._http.stream(path, object_body(body), format=format, timezone=True)

    async def send(self, conversation_id: str, body: Mapping[str, Any]) -> Record:
        """Add a user message (``{text, ...}``) without a reply; returns ``{id, entities}`` as a record."""
        cid = segment(conversation_id, "conversation_id")
        answer = await self._http.call(
            "POST",
            f"/conversation/{cid}/send",
            body=object_body(body),
            expect=("id", "entities", "text"),
            long=True,
        )
        return Record.from_wire(answer)

    async def receive(self, conversation_id: str, body: Mapping[str, Any] | None = None) -> CompletionResult:
        """Have the bot reply to the conversation as it stands; the result has no ``end_reason``."""
        cid = segment(conversation_id, "conversation_id")
        answer = await self._http.call(
            "POST",
            f"/conversation/{cid}/receive",
            body=object_body(body),
            expect=_COMPLETION_FIELDS,
            long=True,
        )
        return CompletionResult.from_wire(answer if answer is not None else {})

    async def dispatch(
        self, body: Mapping[str, Any], *, conversation_id: str | None = None, channel_id: str | None = None
    ) -> str:
        """Queue a completion in the background; its events go to the returned channel.

        Retried (on 429/502/503/504 and connection failures) only with a client-chosen channel id, which the
        platform uses to de-duplicate the run. ``body["channelId"]`` counts as client-chosen too.

        Args:
            body: as for :meth:`complete`.
            conversation_id: dispatch in this conversation (stateful).
            channel_id: the channel (and de-duplication key) to use; at least 24 characters.

        Returns:
            The channel id, to pass to ``client.channels.subscribe``.
        """
        payload = object_body(body)
        chosen = channel_id if channel_id is not None else payload.get("channelId")
        if chosen is not None:
            if not isinstance(chosen, str) or len(chosen) < MIN_DISPATCH_CHANNEL_ID:
                raise UsageError(
                    f"a dispatch channel_id must be a string of at least {MIN_DISPATCH_CHANNEL_ID} chars "
                    f"(e.g. uuid4().hex), got {chosen!r}"
                )
            payload["channelId"] = chosen
        answer = await self._http.call(
            "POST",
            self._complete_path(conversation_id, "dispatch"),
            body=payload,
            expect=("channelId",),
            retry=chosen is not None,
            timezone=True,
        )
        returned = answer.get("channelId") if isinstance(answer, Mapping) else None
        if not isinstance(returned, str) or not returned:
            raise PlatformError(f"dispatch: the platform's answer has no 'channelId' ({shape(answer)})")
        return returned

    async def messages(
        self, conversation_id: str, *, order: str | None = None, take: int | None = None
    ) -> AsyncIterator[Message]:
        """Every message of a conversation, page after page (``order`` asc/desc, ``take`` the page size)."""
        cid = segment(conversation_id, "conversation_id")
        async for item in pages(self._http, f"/conversation/{cid}/message/list", {"order": order}, take=take):
            yield Message.from_wire(item)

    async def create_message(self, conversation_id: str, body: Mapping[str, Any]) -> str:
        """Append a message (``{type, text, meta?, ...}``) to a conversation; returns its id."""
        cid = segment(conversation_id, "conversation_id")
        answer = await self._http.call("POST", f"/conversation/{cid}/message/create", body=object_body(body))
        return returned_id(answer, what="message create")

    def monitor(
        self, conversation_id: str, *, history_length: int | None = None, format: StreamFormat = "jsonl"
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """Watch a conversation's activity feed (items ``{type: "message", data: <engine event>}``).

        Opening is retried. The platform does not close the stream: leave the ``async with`` to stop.
        """
        cid = segment(conversation_id, "conversation_id")
        return self._http.stream(
            f"/conversation/{cid}/channel/subscribe",
            history_body(history_length),
            format=format,
            retry=True,
            channel_items=True,
        )
