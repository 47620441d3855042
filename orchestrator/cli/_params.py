"""Parameter checks click does not make: finite numbers, and values that must not be empty.

A value they refuse is a usage error (exit 2) naming the option, like every other bad argument.
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FiniteFloatRange", "encodable", "not_blank"]


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf`` (and numbers too large for a float),
    which pass click's bounds checks and would break the clock or the ceiling they set."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number: give a plain number such as 25 or 0.5.", param, ctx)
        return number


def encodable(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: the value must be text that can be written as UTF-8 (no lone surrogate, which a
    terminal hands over for bytes that are not UTF-8)."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise click.BadParameter(
                f"it holds a character that cannot be encoded ({value[exc.start]!r} at position {exc.start}): "
                "give it in UTF-8",
                ctx,
                param,
            ) from None
    return value


def not_blank(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: the option, when given, must hold something other than spaces (and be encodable)."""
    if value is not None and not value.strip():
        raise click.BadParameter("it must not be empty (leave the option out for its default).", ctx, param)
    return encodable(ctx, param, value)
