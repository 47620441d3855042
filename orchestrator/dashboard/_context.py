"""What every handler of one dashboard app shares: its source, its guard, its templates and its timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ._auth import Guard
from ._source import READ_ONLY_HINT, Source
from ._views import fmt_time

__all__ = ["Dashboard", "dashboard_of"]


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("orchestrator.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["path"] = lambda value: quote(str(value), safe="")
    env.globals["fmt_time"] = fmt_time
    return env


@dataclass
class Dashboard:
    """One dashboard app's state (``request.app.state.dashboard``)."""

    source: Source
    guard: Guard
    poll: float
    tick: float
    env: jinja2.Environment = field(default_factory=_templates)

    def base(self, request: Request) -> str:
        return str(request.scope.get("root_path") or "").rstrip("/")

    def common(self, request: Request) -> dict[str, Any]:
        try:
            store_url = self.source.store.url
        except HTTPException:  # the page that reports it (503: not running) must still render
            store_url = ""
        return {
            "base": self.base(request),
            "store_url": store_url,
            "read_only": None if self.source.can_act else READ_ONLY_HINT,
            "can_act": self.source.can_act,
            "csrf": self.guard.csrf_value(request),
            "nav": "",
            "title": "",
        }

    def fragment(self, name: str, request: Request, **values: Any) -> str:
        return self.env.get_template(name).render(base=self.base(request), **values)

    def page(self, name: str, request: Request, *, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(name).render({**self.common(request), **values})
        response = HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)
        self.guard.set_csrf(request, response)
        return response


_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
}


def dashboard_of(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard
