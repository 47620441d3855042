"""Who may see the dashboard, and which POSTs are the dashboard's own.

Every request needs the dashboard token: ``Authorization: Bearer <token>``, or the session cookie that opening any
page with ``?token=<token>`` sets (the response then redirects to the same page without the token, so it does not
stay in the address bar or the history). An embedding application can pass a callable instead, which decides from
the request (its own session, its own SSO). Actions are POST forms that carry a CSRF value equal to the per-browser
``orc_csrf`` cookie (double submit; both cookies are ``SameSite=Strict``); a POST from another origin is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "Guard", "TokenCheck", "read_form"]

TokenCheck = Callable[[Request], bool | Awaitable[bool]]
"""Decides from a request whether it may see the dashboard (sync or async)."""

SESSION_COOKIE = "orc_dash"
_MAX_FORM = 16 * 1024
CSRF_COOKIE = "orc_csrf"


class Guard:
    """The token check and the CSRF check of one dashboard app."""

    def __init__(self, token: str | TokenCheck | None) -> None:
        if isinstance(token, str):
            if len(token) < 8:
                raise ValueError("the dashboard token must be at least 8 characters: pass a longer token=")
            self.token: str | None = token
            self._check: TokenCheck | None = None
        elif token is None:
            self.token = secrets.token_urlsafe(24)
            self._check = None
        elif callable(token):
            self.token = None
            self._check = token
        else:
            raise TypeError(f"token must be a string, a callable taking the request, or None; got {token!r}")
        self._secret = secrets.token_bytes(32)

    def _session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self._secret, self.token.encode(), hashlib.sha256).hexdigest()

    async def allowed(self, request: Request) -> bool:
        if self._check is not None:
            verdict = self._check(request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            return bool(verdict)
        assert self.token is not None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip(), self.token):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self._session_value())

    def login(self, request: Request) -> Response | None:
        """A redirect that sets the session cookie, when the request carries the right ``?token=``."""
        given = request.query_params.get("token")
        if given is None or self.token is None or not hmac.compare_digest(given, self.token):
            return None
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self._session_value(),
            httponly=True,
            samesite="strict",
            path=_cookie_path(request),
        )
        return response

    @staticmethod
    def csrf_value(request: Request) -> str:
        """This browser's CSRF value (made now if it has none; :meth:`set_csrf` then stores it)."""
        value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
        if not value:
            value = request.state.new_csrf = secrets.token_urlsafe(24)
        return str(value)

    @staticmethod
    def set_csrf(request: Request, response: Response) -> None:
        new = getattr(request.state, "new_csrf", None)
        if new and not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(
                CSRF_COOKIE, new, httponly=True, samesite="strict", path=_cookie_path(request)
            )

    @staticmethod
    def check_csrf(request: Request, form: Mapping[str, str]) -> None:
        """Refuse (403) a POST without this browser's CSRF value, or from another origin."""
        origin = request.headers.get("origin")
        if (
            origin
            and origin != "null"
            and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}"
        ):
            raise HTTPException(
                403, f"refused a POST from another origin ({origin}): use the dashboard's own forms"
            )
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = form.get("csrf")
        if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
            raise HTTPException(
                403, "the form's CSRF value is missing or stale: reload the page and use its button again"
            )


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a dashboard form (``application/x-www-form-urlencoded``, at most 16 KiB); 4xx otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(
            415, "the dashboard's actions take its own forms (application/x-www-form-urlencoded)"
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise HTTPException(413, "the form is too large for a dashboard action")
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"the form could not be read: {exc}") from None


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path") or "/"
