"""Inline SVG: the routing report as a chart of each dispatch job's p50/p95 against the dispatch ceiling."""

from __future__ import annotations

from html import escape

from ..jobs import Route, RoutingReport, format_duration

__all__ = ["routing_chart"]

_ROW = 30
_LEFT = 210
_WIDTH = 1000
_RIGHT = 110  # room for the p95 labels
_LABEL = 80  # about the width of "p95 14m54s" at 12 px


def routing_chart(report: RoutingReport) -> str:
    """An SVG bar chart: per dispatch job a p50 bar and a p95 tick, with the ceiling and its 80 % advice line."""
    rows = [r for r in report.rows if r.route is Route.DISPATCH]
    if not rows:
        return ""
    ceiling = max(r.ceiling.total_seconds() for r in rows)
    top = max([ceiling] + [r.p95.total_seconds() for r in rows if r.p95 is not None])
    plot = _WIDTH - _LEFT - _RIGHT
    height = 56 + _ROW * len(rows)
    bottom = height - 24

    def x(seconds: float) -> float:
        return _LEFT + plot * min(seconds, top) / top

    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        'aria-label="observed p50 and p95 of each dispatch job against the dispatch ceiling" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    cx, ax = x(ceiling), x(0.8 * ceiling)
    parts.append(f'<line x1="{cx:.1f}" y1="18" x2="{cx:.1f}" y2="{bottom}" class="ceiling"/>')
    parts.append(
        f'<text x="{cx:.1f}" y="13" class="axis" text-anchor="middle">ceiling {format_duration(ceiling)}</text>'
    )
    parts.append(f'<line x1="{ax:.1f}" y1="18" x2="{ax:.1f}" y2="{bottom}" class="advice-line"/>')
    parts.append(f'<text x="{ax:.1f}" y="13" class="axis" text-anchor="middle">80 %: advice</text>')
    for tick in range(0, int(top) + 1, 300):
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="{bottom}" x2="{tx:.1f}" y2="{bottom + 4}" class="tick"/>')
        parts.append(
            f'<text x="{tx:.1f}" y="{bottom + 16}" class="axis" text-anchor="middle">{format_duration(tick) if tick else "0"}</text>'
        )
    for i, r in enumerate(rows):
        y = 26 + i * _ROW
        flagged = " advised" if r.advice else ""
        parts.append(f'<g class="row{flagged}" data-job="{escape(r.job)}">')
        parts.append(
            f'<text x="{_LEFT - 10}" y="{y + 14}" class="label" text-anchor="end">{escape(r.job[:30])}</text>'
        )
        if r.p50 is not None:
            w = max(2.0, x(r.p50.total_seconds()) - _LEFT)
            parts.append(f'<rect x="{_LEFT}" y="{y + 3}" width="{w:.1f}" height="16" rx="3" class="p50"/>')
        if r.p95 is not None:
            px = x(r.p95.total_seconds())
            parts.append(f'<line x1="{px:.1f}" y1="{y}" x2="{px:.1f}" y2="{y + 22}" class="p95"/>')
            label = f"p95 {format_duration(r.p95)}"
            if px + 6 + _LABEL > _WIDTH:
                parts.append(
                    f'<text x="{px - 6:.1f}" y="{y + 15}" class="value" text-anchor="end">{label}</text>'
                )
            else:
                parts.append(f'<text x="{px + 6:.1f}" y="{y + 15}" class="value">{label}</text>')
        else:
            parts.append(
                f'<text x="{_LEFT + 4}" y="{y + 15}" class="value muted">no finished runs yet</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
