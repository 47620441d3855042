"""Typed records of platform resources; each keeps the whole wire object in ``raw``.

Attributes are snake_case and typed; every wire field, known or not, stays reachable through ``raw``.
Timestamps are epoch milliseconds (``int``) as on the wire, except :class:`TaskExecution`
``completed_at``/``resume_at``, which the platform sends as ISO-8601 strings and which are parsed into aware
datetimes (reference §4.3).
Records are built with :meth:`Record.from_wire`; ``raw`` is keyword-only, so the positional order of each
record's fields is the documented one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from .._errors import PlatformError
from ._events import ms_or_none

__all__ = ["Bot", "Conversation", "EventLogItem", "Message", "Record", "Task", "TaskExecution"]


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _meta(data: Mapping[str, Any]) -> Mapping[str, Any]:
    value = data.get("meta")
    return value if isinstance(value, Mapping) else {}


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    ms = ms_or_none(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Record:
    """A platform resource: its ``id`` and the whole wire object.

    Attributes:
        id: the resource id.
        raw: the wire object, every field kept.
    """

    id: str
    raw: Mapping[str, Any] = field(default_factory=dict, kw_only=True, repr=False)

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """Build the record from a decoded JSON object.

        Raises:
            PlatformError: ``data`` is not a JSON object, or has no string ``id``.
        """
        if not isinstance(data, Mapping):
            raise PlatformError(
                f"{cls.__name__}: expected a JSON object from the platform, got {type(data).__name__}"
            )
        ident = data.get("id")
        if not isinstance(ident, str) or not ident:
            raise PlatformError(
                f"{cls.__name__}: the platform's object has no string 'id': keys {sorted(data)}"
            )
        return cls(ident, **cls._fields(data), raw=data)

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class Conversation(Record):
    """A conversation (reference §2.6)."""

    bot_id: str | None = None
    task_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    created_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "bot_id": _str(data, "botId"),
            "task_id": _str(data, "taskId"),
            "meta": _meta(data),
            "created_at": ms_or_none(data.get("createdAt")),
            "updated_at": ms_or_none(data.get("updatedAt")),
        }


@dataclass(frozen=True, slots=True)
class Message(Record):
    """A conversation message (reference §2.7); ``type`` is ``user``, ``bot``, ``activity``, ..."""

    type: str = ""
    text: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    created_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": _str(data, "type") or "",
            "text": _str(data, "text") or "",
            "meta": _meta(data),
            "created_at": ms_or_none(data.get("createdAt")),
        }


@dataclass(frozen=True, slots=True)
class Bot(Record):
    """A bot: the agent configuration that tasks and conversations point to (reference §8)."""

    name: str | None = None
    backstory: str | None = None
    model: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    created_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "backstory": _str(data, "backstory"),
            "model": _str(data, "model"),
            "meta": _meta(data),
            "created_at": ms_or_none(data.get("createdAt")),
        }


@dataclass(frozen=True, slots=True)
class Task(Record):
    """A task (reference §4.2): ``status`` ``idle|running|canceled``, ``outcome`` ``pending|success|failure``.

    ``max_time`` is in milliseconds, like the timestamps.
    """

    name: str | None = None
    description: str | None = None
    bot_id: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    max_time: int | None = None
    status: str | None = None
    outcome: str | None = None
    next_run_at: int | None = None
    last_run_at: int | None = None
    expires_at: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    created_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": _str(data, "name"),
            "description": _str(data, "description"),
            "bot_id": _str(data, "botId"),
            "schedule": _str(data, "schedule"),
            "timezone": _str(data, "timezone"),
            "max_time": ms_or_none(data.get("maxTime")),
            "status": _str(data, "status"),
            "outcome": _str(data, "outcome"),
            "next_run_at": ms_or_none(data.get("nextRunAt")),
            "last_run_at": ms_or_none(data.get("lastRunAt")),
            "expires_at": ms_or_none(data.get("expiresAt")),
            "meta": _meta(data),
            "created_at": ms_or_none(data.get("createdAt")),
            "updated_at": ms_or_none(data.get("updatedAt")),
        }


@dataclass(frozen=True, slots=True)
class TaskExecution(Record):
    """One run of a task (reference §4.3); ``resume_at`` is set only while a running execution is paused."""

    task_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    summary: str | None = None
    conversation_id: str | None = None
    completed_at: datetime | None = None
    resume_at: datetime | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    created_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "task_id": _str(data, "taskId"),
            "status": _str(data, "status"),
            "outcome": _str(data, "outcome"),
            "summary": _str(data, "summary"),
            "conversation_id": _str(data, "conversationId"),
            "completed_at": _datetime(data.get("completedAt")),
            "resume_at": _datetime(data.get("resumeAt")),
            "meta": _meta(data),
            "created_at": ms_or_none(data.get("createdAt")),
            "updated_at": ms_or_none(data.get("updatedAt")),
        }


@dataclass(frozen=True, slots=True)
class EventLogItem(Record):
    """An event log entry (reference §4.5), e.g. ``type="task.interact.completed"`` with its ``task_id``."""

    type: str = ""
    task_id: str | None = None
    conversation_id: str | None = None
    created_at: int | None = None

    @classmethod
    def _fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": _str(data, "type") or "",
            "task_id": _str(data, "taskId"),
            "conversation_id": _str(data, "conversationId"),
            "created_at": ms_or_none(data.get("createdAt")),
        }
