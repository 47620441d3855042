"""The web dashboard: jobs, live events, the dispatch ceiling, plans, schedules and routing, in a browser.

``dashboard_app(orc)`` is a Starlette app to mount in your own service
(``app.mount("/orchestrator", dashboard_app(orc, token=...))``); ``orchestrator dashboard --store URL`` serves the
same app on 127.0.0.1:8788. Pages are rendered on the server, with a little plain JavaScript for live updates
(server-sent events, resumed with ``Last-Event-ID``); every asset ships in the package (no CDN, no build step).

Every page and action needs the dashboard's token (or a callable the embedding application supplies); actions are
CSRF-checked POSTs; the platform's API token never reaches a page, a log line or a URL. Bad ids, cursors and
filters, and unknown pages, give a 4xx page saying what was wrong.
"""

from ._app import dashboard_app as dashboard_app
from ._auth import TokenCheck as TokenCheck
from ._server import serve_dashboard as serve_dashboard

__all__ = ["TokenCheck", "dashboard_app", "serve_dashboard"]
