"""Driver exceptions become :class:`StoreError` at the store boundary, with credentials scrubbed.

Each store names what it was doing (``"appending an event to job 'j1'"``) and gives an ``advice`` function
that turns the driver exception into what to do about it. The original exception is chained (``raise ... from
exc``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode

from .._errors import StoreError

__all__ = ["mask_url", "quote_url", "redact_url", "scrub", "translate"]

_SECRET_QUERY_KEYS = frozenset({"password", "passfile", "sslpassword"})
# in a URL too malformed to parse: whatever stands where a password would (``:secret@``, ``password=secret``)
_PASSWORD_LIKE = re.compile(r":[^@/]*@")
_SECRET_PARAM = re.compile(r"((?:ssl)?pass(?:word|file)=)[^&]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without its password (in the user info or as a ``password=`` query parameter)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qsep, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    if qsep:
        pairs = [
            (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() not in _SECRET_QUERY_KEYS
        ]
        query = urlencode(pairs)
        qsep = "?" if query else ""
    return f"{scheme}{sep}{netloc}{slash}{path}{qsep}{query}"


def mask_url(url: str) -> str:
    """``url`` as :func:`redact_url` shows it, and anything else that looks like a password masked too
    (``:...@`` anywhere, a ``password=`` anywhere): a mistyped URL does not show its password either."""
    text = _PASSWORD_LIKE.sub(":***@", redact_url(url))
    return _SECRET_PARAM.sub(r"\1***", text)


def quote_url(url: str) -> str:
    """``url`` quoted for the message that refuses it (:func:`mask_url`)."""
    return repr(mask_url(url))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@contextmanager
def translate(
    action: str,
    *,
    store: str,
    errors: tuple[type[Exception], ...],
    advice: Callable[[Exception], str],
    secrets: tuple[str, ...] = (),
) -> Iterator[None]:
    """Turn ``errors`` raised inside the block into :class:`StoreError` saying what failed and what to do.

    Cancellation and exceptions that are not listed (a :class:`StoreError` raised on purpose, a bug) pass
    through.
    """
    try:
        yield
    except errors as exc:
        detail = str(exc).strip() or "no detail"
        message = f"{action} failed in the store {store}: {type(exc).__name__}: {detail}. {advice(exc)}"
        raise StoreError(scrub(message, secrets)) from exc
