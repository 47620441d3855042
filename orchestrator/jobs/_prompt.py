"""What the agent is asked: :class:`Prompt`, and live tools (:class:`Tool`) that run in this process.

Longer than 300 lines because a :class:`Prompt` and its :class:`Tool` values are validated together (text, messages,
functions, encodable text): the validation is the bulk, and it is one concept.
"""

from __future__ import annotations

import inspect
import re
import secrets
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Union

from .._errors import InvalidArgument

__all__ = ["Prompt", "Tool", "ToolHandler", "check_text"]

ToolHandler = Callable[..., Any] | Callable[..., Awaitable[Any]]

_JS_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def check_text(value: str, where: str) -> None:
    """Refuse text that UTF-8 cannot hold (a lone surrogate such as ``"\\ud800"``), naming where it is."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(
            f"{where} is not valid Unicode: {exc.reason} at character {exc.start}; pass text that encodes as "
            "UTF-8 (a lone surrogate usually comes from decoding bytes with errors='surrogateescape')"
        ) from None


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _json_type(args[0]) if len(args) == 1 else {}
    if origin is not None:
        annotation = origin
    name = _JSON_TYPES.get(annotation)
    return {"type": name} if name else {}


@dataclass(frozen=True)
class Tool:
    """A function the agent may call, answered live by a Python callable in this process.

    The orchestrator declares it to the platform with ``result: {channel}``; when the run calls it, the supervisor
    runs ``handler(**args)`` (sync or async) and publishes the return value (or the error) to that channel.

    Args:
        name: a JavaScript identifier of at most 64 characters.
        description: what the tool does, for the model.
        parameters: a JSON schema of type object.
        handler: the callable that answers; ``None`` declares the function without a live answer.
        timeout: how long one call may take (``timedelta`` or seconds; ``None``: no bound). A call that takes
            longer is answered with an error (``"... timed out after 30s"``) so that the run goes on; an async
            handler is cancelled, a sync one is left to finish in its thread and its value dropped.
    """

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    handler: ToolHandler | None = None
    timeout: timedelta | float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _JS_IDENTIFIER.match(self.name) or len(self.name) > 64:
            raise InvalidArgument(
                f"tool name {self.name!r} is not allowed: use a JavaScript identifier (letters, digits, _ or $, "
                "not starting with a digit) of at most 64 characters"
            )
        if not isinstance(self.description, str) or not self.description.strip():
            raise InvalidArgument(
                f"tool {self.name!r} needs a description (a non-empty str): the model reads it to decide when "
                "to call it"
            )
        check_text(self.description, f"tool {self.name!r}: description")
        if not isinstance(self.parameters, Mapping) or self.parameters.get("type") != "object":
            raise InvalidArgument(
                f"tool {self.name!r}: parameters must be a JSON schema mapping of type object, e.g. "
                f"{{'type': 'object', 'properties': {{}}}}, got {type(self.parameters).__name__}"
            )
        if self.handler is not None and not callable(self.handler):
            raise InvalidArgument(
                f"tool {self.name!r}: handler must be callable (or None), got {self.handler!r}"
            )
        if self.timeout is not None:
            seconds = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else self.timeout
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not 0 < seconds < float("inf")
            ):
                raise InvalidArgument(
                    f"tool {self.name!r}: timeout must be a positive timedelta or number of seconds (or None "
                    f"for no bound), got {self.timeout!r}"
                )

    @classmethod
    def from_callable(
        cls,
        fn: ToolHandler,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: timedelta | float | None = None,
    ) -> Tool:
        """Build a tool from a typed Python function: its name, first docstring paragraph and parameters."""
        doc = inspect.getdoc(fn) or ""
        desc = description or doc.split("\n\n", 1)[0].strip() or f"Call {getattr(fn, '__name__', 'tool')}"
        hints = typing.get_type_hints(fn)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            properties[pname] = _json_type(hints.get(pname, Any))
            if param.default is param.empty:
                required.append(pname)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return cls(name=name or fn.__name__, description=desc, parameters=schema, handler=fn, timeout=timeout)


def _as_tool(item: Tool | ToolHandler | Mapping[str, Any]) -> Tool | Mapping[str, Any]:
    if isinstance(item, Tool | Mapping):
        return item
    if callable(item):
        return Tool.from_callable(item)
    raise InvalidArgument(
        f"a Prompt function must be a Tool, a callable or a wire mapping, got {type(item).__name__}"
    )


@dataclass(frozen=True)
class Prompt:
    """What the agent is asked.

    Give ``text`` (one user message) or ``messages`` (a whole history of ``{"type", "text"}``), or, with
    ``conversation_id`` (stateful: the platform keeps the history), ``text`` alone or nothing to continue.
    Bot configuration either names a bot (``bot_id``) or configures one inline (``backstory``, ``model``,
    ``dataset_id``, ``skillset_id``). ``functions`` may hold :class:`Tool` objects, plain callables (made into tools
    from their signature and docstring) or raw wire mappings.
    """

    text: str | None = None
    messages: Sequence[Mapping[str, Any]] | None = None
    conversation_id: str | None = None
    bot_id: str | None = None
    backstory: str | None = None
    model: str | None = None
    dataset_id: str | None = None
    skillset_id: str | None = None
    functions: Sequence[Tool | ToolHandler | Mapping[str, Any]] = ()
    extensions: Mapping[str, Any] | None = None
    limits: Mapping[str, int] | None = None
    contact_id: str | Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for label in ("text", "conversation_id", "bot_id", "backstory", "model", "dataset_id", "skillset_id"):
            value = getattr(self, label)
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidArgument(
                        f"Prompt {label} must be a str (or None), got {type(value).__name__}"
                    )
                check_text(value, f"Prompt {label}")
        if self.text is not None and self.messages is not None:
            raise InvalidArgument(
                "a Prompt takes text or messages, not both: put the text in the last message"
            )
        if self.messages is not None and (
            isinstance(self.messages, str | bytes | Mapping) or not isinstance(self.messages, Sequence)
        ):
            raise InvalidArgument(
                f"Prompt messages must be a list of {{'type', 'text'}} mappings, got {type(self.messages).__name__}"
            )
        if self.conversation_id is None and not self.text and not self.messages:
            raise InvalidArgument(
                "a Prompt needs text or messages (or a conversation_id to continue a stateful conversation)"
            )
        if self.conversation_id is not None and self.messages is not None:
            raise InvalidArgument(
                "a stateful Prompt (conversation_id) takes text, not messages: the platform keeps the history"
            )
        for i, message in enumerate(self.messages or ()):
            if not isinstance(message, Mapping) or "type" not in message or "text" not in message:
                raise InvalidArgument(
                    f"messages[{i}] must be a mapping with 'type' and 'text', got {message!r}"[:300]
                )
            for key in ("type", "text"):
                if not isinstance(message[key], str):
                    raise InvalidArgument(
                        f"messages[{i}].{key} must be a str, got {type(message[key]).__name__}"
                    )
                check_text(message[key], f"messages[{i}].{key}")
        for label in ("extensions", "limits"):
            value = getattr(self, label)
            if value is not None and not isinstance(value, Mapping):
                raise InvalidArgument(
                    f"Prompt {label} must be a mapping (or None), got {type(value).__name__}"
                )
        for key, number in (self.limits or {}).items():
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise InvalidArgument(f"Prompt limits[{key!r}] must be a positive int, got {number!r}"[:300])
        if self.contact_id is not None and not isinstance(self.contact_id, str | Mapping):
            raise InvalidArgument(
                f"Prompt contact_id must be a str or a mapping, got {type(self.contact_id).__name__}"
            )
        if isinstance(self.functions, str | bytes | Mapping) or not isinstance(self.functions, Sequence):
            raise InvalidArgument(
                f"Prompt functions must be a list of Tools, callables or wire mappings, got "
                f"{type(self.functions).__name__}"
            )
        object.__setattr__(self, "functions", tuple(_as_tool(f) for f in self.functions))

    @classmethod
    def coerce(cls, value: Prompt | str) -> Prompt:
        """A job function's return value as a Prompt (a ``str`` is the prompt text)."""
        if isinstance(value, Prompt):
            return value
        if isinstance(value, str):
            return cls(text=value)
        raise InvalidArgument(
            f"a job function must return a Prompt or a str, got {type(value).__name__}: return "
            "Prompt(text=...) or the prompt text"
        )

    @property
    def stateful(self) -> bool:
        return self.conversation_id is not None

    @property
    def tools(self) -> dict[str, Tool]:
        """The live tools (those with a handler), by name."""
        return {f.name: f for f in self.functions if isinstance(f, Tool) and f.handler is not None}

    @property
    def instruction(self) -> str:
        """The prompt as one instruction text (what a task run is told)."""
        if self.text is not None:
            return self.text
        return "\n\n".join(
            str(m["text"]) for m in self.messages or () if m.get("type") == "user"
        ) or "\n\n".join(str(m["text"]) for m in self.messages or ())

    def bot_config(self) -> dict[str, Any]:
        """The inline bot configuration in wire form (without ``botId``)."""
        pairs = {
            "backstory": self.backstory,
            "model": self.model,
            "datasetId": self.dataset_id,
            "skillsetId": self.skillset_id,
        }
        return {k: v for k, v in pairs.items() if v is not None}

    def wire_functions(
        self, channel_suffix: str | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The ``functions`` wire list, and the result channel of each live tool by tool name."""
        suffix = channel_suffix or secrets.token_hex(8)
        wire: list[dict[str, Any]] = []
        channels: dict[str, str] = {}
        for f in self.functions:
            if isinstance(f, Mapping):
                wire.append(dict(f))
                continue
            if not isinstance(f, Tool):  # __post_init__ made every callable a Tool
                raise TypeError(f"unexpected function entry {f!r}")
            entry: dict[str, Any] = {
                "name": f.name,
                "description": f.description,
                "parameters": dict(f.parameters),
            }
            if f.handler is not None:
                channel = f"{f.name}_{suffix}"
                if len(channel) < 16:
                    channel = f"{channel}_{secrets.token_hex(8)}"
                entry["result"] = {"channel": channel}
                channels[f.name] = channel
            wire.append(entry)
        return wire, channels

    def to_wire(self, *, channel_suffix: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The request body for complete/dispatch (stateless, or stateful when ``conversation_id`` is set).

        Returns:
            The body, and the result channel of each live tool by tool name.
        """
        body: dict[str, Any] = {}
        if self.stateful:
            if self.text:
                body["text"] = self.text
        else:
            body["messages"] = (
                [dict(m) for m in self.messages] if self.messages else [{"type": "user", "text": self.text}]
            )
            if self.bot_id:
                body["botId"] = self.bot_id
            body.update(self.bot_config())
            if self.contact_id is not None:
                body["contactId"] = self.contact_id
        functions, channels = self.wire_functions(channel_suffix)
        if functions:
            body["functions"] = functions
        if self.extensions:
            body["extensions"] = dict(self.extensions)
        if self.limits:
            body["limits"] = dict(self.limits)
        return body, channels
