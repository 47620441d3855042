"""The platform's records: wire-shaped dicts in insertion-ordered collections, with change tracking.

Every record is stored exactly as the API returns it (camelCase JSON), so fetch and list are copies and
persistence is one JSON column. Ids are cuid-like (25 characters, starting with ``c``) and sort in creation
order, which is what list ordering and cursors rely on: a cursor is the id of the last item of the previous
page, and the next page is every id after (``asc``) or before (``desc``) it, whether or not that record still
exists.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._errors import not_found

__all__ = ["KINDS", "Change", "Collection", "IdGenerator", "State"]

_ALPHABET = string.digits + string.ascii_lowercase
KINDS = ("bot", "conversation", "message", "task", "execution", "event")
_LABELS = {
    "bot": "Bot",
    "conversation": "Conversation",
    "message": "Message",
    "task": "Task",
    "execution": "Task execution",
    "event": "Event",
}


def _base36(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits)).rjust(width, "0")[-width:]


class IdGenerator:
    """Monotonic cuid-like ids: ``c`` + 11 base-36 digits of a sequence + 13 random characters."""

    def __init__(self, seq: int = 0) -> None:
        self.seq = seq

    def __call__(self) -> str:
        self.seq += 1
        tail = _base36(int.from_bytes(secrets.token_bytes(9)), 13)
        return "c" + _base36(self.seq, 11) + tail


@dataclass(frozen=True, slots=True)
class Change:
    """A record to write (``record`` set) or to delete (``record`` is ``None``)."""

    kind: str
    id: str
    parent: str | None
    record: dict[str, Any] | None


class Collection:
    """Records of one kind (optionally under one parent), in creation order."""

    def __init__(self, state: State, kind: str, parent: str | None = None) -> None:
        self._state = state
        self.kind = kind
        self.parent = parent
        self.items: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items.values())

    def __contains__(self, ident: object) -> bool:
        return ident in self.items

    def get(self, ident: str) -> dict[str, Any] | None:
        return self.items.get(ident)

    def require(self, ident: str) -> dict[str, Any]:
        """The record, or a 404 ``NOT_FOUND``."""
        record = self.items.get(ident)
        if record is None:
            raise not_found(_LABELS[self.kind], ident)
        return record

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace ``record`` (keyed by its ``id``) and mark it for persistence."""
        self.items[record["id"]] = record
        self.touch(record)
        return record

    def touch(self, record: dict[str, Any]) -> None:
        """Mark a record changed in place."""
        self._state.record_change(Change(self.kind, record["id"], self.parent, record))

    def delete(self, ident: str) -> dict[str, Any] | None:
        record = self.items.pop(ident, None)
        if record is not None:
            self._state.record_change(Change(self.kind, ident, self.parent, None))
        return record


@dataclass
class State:
    """Every record the platform keeps. Change listeners see each write (the SQLite persistence is one)."""

    ids: IdGenerator = field(default_factory=IdGenerator)
    listeners: list[Callable[[Change], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bots = Collection(self, "bot")
        self.conversations = Collection(self, "conversation")
        self.tasks = Collection(self, "task")
        self.executions = Collection(self, "execution")
        self.events = Collection(self, "event")
        self._messages: dict[str, Collection] = {}

    def messages(self, conversation_id: str) -> Collection:
        """The messages of a conversation (created empty on first use)."""
        box = self._messages.get(conversation_id)
        if box is None:
            box = self._messages[conversation_id] = Collection(self, "message", conversation_id)
        return box

    def drop_messages(self, conversation_id: str) -> None:
        box = self._messages.pop(conversation_id, None)
        if box is not None:
            for ident in list(box.items):
                box.delete(ident)

    def collection(self, kind: str, parent: str | None = None) -> Collection:
        if kind == "message":
            assert parent is not None
            return self.messages(parent)
        return {
            "bot": self.bots,
            "conversation": self.conversations,
            "task": self.tasks,
            "execution": self.executions,
            "event": self.events,
        }[kind]

    def record_change(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    def load(self, kind: str, parent: str | None, record: dict[str, Any]) -> None:
        """Put a record read back from storage, without reporting it as a change."""
        self.collection(kind, parent).items[record["id"]] = record
