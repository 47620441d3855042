"""The simulated agent: deterministic, steered by directives in the text it is given.

Directives run in the order they appear (see :mod:`._directives`). Without directives the reply is
``"Done: " + a normalised excerpt`` of the prompt, streamed as a few tokens. Every function result is appended
to the reply as ``"; name -> result"``, so a test can see that a tool round trip happened.

Planner mode (the run is offered ``schedule_task``, or the prompt holds ``[[plan-as-text]]``): each line of
the prompt that starts with ``- `` becomes a task ``{name, instructions, schedule?, timezone?, runtime?}``;
the agent calls ``schedule_task`` once per task, in order, waiting for each result, and replies with a summary
of what was scheduled and what was refused. With ``[[plan-as-text]]`` it replies with ``{"tasks": [...]}`` as
JSON instead. Directives on the ``- `` lines belong to the tasks and are not run by the planner; the others
are.

Continuations (see :mod:`._resume`): when the request goes on from replies cut off at the ceiling, the agent runs
the directives of the prompt that steered the run from where the parts before stopped (the time they worked is
skipped, and so are tokens they already streamed), and replies for that prompt.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio

from ._agent import AgentFailure, AgentReply, AgentRequest, RunContext, ToolResult
from ._directives import (
    Call,
    Fail,
    Invalid,
    PlanAsText,
    Runtime,
    Schedule,
    Sleep,
    Timezone,
    Tokens,
    parse_directives,
    strip_directives,
)
from ._resume import continuation

__all__ = ["PLAN_TOOL", "SimulatedAgent", "plan_entries"]

PLAN_TOOL = "schedule_task"
_WORDS = [
    *("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo"),
    *("lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform"),
    *("victor", "whiskey", "xray", "yankee", "zulu"),
]
_TOKEN = re.compile(r"\S+\s*|\s+")
_EXCERPT = 80


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + "..."


def _slug(text: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-") or "task"
    unique, n = slug, 1
    while unique in taken:
        n += 1
        unique = f"{slug}-{n}"
    taken.add(unique)
    return unique


def _is_plan_line(line: str) -> bool:
    return line.lstrip().startswith("- ")


def plan_entries(prompt: str, *, timezone: str | None = None) -> list[dict[str, Any]]:
    """The tasks a planner proposes for ``prompt``: one per line starting with ``- ``; a line without a
    ``[[timezone ...]]`` is planned in ``timezone`` (the caller's ``x-timezone``) when given."""
    entries = []
    taken: set[str] = set()
    for line in prompt.splitlines():
        if not _is_plan_line(line):
            continue
        body = line.lstrip()[2:].strip()
        if not body:
            continue
        entry: dict[str, Any] = {"name": _slug(strip_directives(body), taken), "instructions": body}
        for directive in parse_directives(body):
            if isinstance(directive, Schedule):
                entry["schedule"] = directive.expression
            elif isinstance(directive, Timezone):
                entry["timezone"] = directive.name
            elif isinstance(directive, Runtime):
                entry["runtime"] = directive.text
        if timezone is not None:
            entry.setdefault("timezone", timezone)
        entries.append(entry)
    return entries


def _refusal(result: ToolResult) -> str | None:
    """Why a tool result says "refused", or ``None`` when it accepted."""
    if result.error is not None:
        return result.error
    value = result.value
    if isinstance(value, dict):
        status = str(value.get("status", "")).lower()
        if value.get("ok") is False or status in ("refused", "rejected", "error", "failed"):
            return str(value.get("reason") or value.get("error") or value.get("message") or _compact(value))
        for key in ("error", "refused", "rejected"):
            if value.get(key):
                reason = value.get("reason") or value[key]
                return reason if isinstance(reason, str) else _compact(reason)
    return None


class SimulatedAgent:
    """A deterministic agent for offline runs and tests (see the module docstring for its directives)."""

    model = "local-simulated"

    async def run(self, request: AgentRequest, ctx: RunContext) -> AgentReply:
        prompt = request.prompt
        done = 0.0  # seconds of work the cut-off parts before this continuation did (see ._resume)
        resumed = continuation(request.messages)
        if resumed is not None:
            prompt, done = resumed
        plan_as_text = any(isinstance(d, PlanAsText) for d in parse_directives(prompt))
        planner = plan_as_text or PLAN_TOOL in request.function_names
        own = (
            "\n".join(line for line in prompt.splitlines() if not _is_plan_line(line)) if planner else prompt
        )
        results: list[ToolResult] = []
        at = 0.0  # when this directive ran in the original run's time
        for directive in parse_directives(own):
            if isinstance(directive, Invalid):
                raise AgentFailure(f"bad directive {directive.source}: {directive.reason}")
            if isinstance(directive, Sleep):
                start, at = at, at + directive.seconds
                if at > done:
                    await ctx.sleep(at - max(start, done))
            elif isinstance(directive, Tokens):
                if at >= done:
                    await self._words(ctx, directive.count)
            elif isinstance(directive, Fail):
                raise AgentFailure(directive.reason)
            elif isinstance(directive, Call):
                results.append(await ctx.call(directive.name, directive.args))
        if planner:
            text = await self._plan(prompt, ctx, as_text=plan_as_text, timezone=request.timezone)
        else:
            text = self._answer(own, results)
        await self._say(ctx, text)
        words_in = sum(len(str(m.get("text", "")).split()) for m in request.messages)
        output = ctx.output
        return AgentReply(
            text=output,
            input_tokens=words_in,
            output_tokens=len(_TOKEN.findall(output)),
            model=str(request.bot.get("model") or self.model),
        )

    @staticmethod
    def _answer(prompt: str, results: list[ToolResult]) -> str:
        excerpt = _excerpt(strip_directives(prompt))
        text = f"Done: {excerpt}" if excerpt else "Done"
        for result in results:
            shown = _compact(result.value) if result.ok else f"error {result.error}"
            text += f"; {result.name} -> {shown}"
        return text if excerpt or results else "Done."

    @staticmethod
    async def _words(ctx: RunContext, count: int) -> None:
        for i in range(count):
            ctx.token(_WORDS[i % len(_WORDS)] + " ")
            if i % 64 == 63:
                await anyio.lowlevel.checkpoint()

    @staticmethod
    async def _say(ctx: RunContext, text: str) -> None:
        for piece in _TOKEN.findall(text):
            ctx.token(piece)
        await anyio.lowlevel.checkpoint()

    async def _plan(self, prompt: str, ctx: RunContext, *, as_text: bool, timezone: str | None) -> str:
        entries = plan_entries(prompt, timezone=timezone)
        if as_text:
            return json.dumps({"tasks": entries}, ensure_ascii=False)
        if not entries:
            return "Nothing to schedule: the request has no lines starting with '- '."
        scheduled: list[str] = []
        refused: list[str] = []
        for entry in entries:
            result = await ctx.call(PLAN_TOOL, entry)
            reason = _refusal(result)
            if reason is None:
                scheduled.append(f"- {entry['name']}: {_compact(result.value)}")
            else:
                refused.append(f"- {entry['name']}: {reason}")
        lines = [f"Scheduled {len(scheduled)} of {len(entries)} tasks."]
        if scheduled:
            lines += ["Scheduled:", *scheduled]
        if refused:
            lines += ["Refused:", *refused]
        return "\n".join(lines)
