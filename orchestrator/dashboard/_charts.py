"""Inline SVG: the routing report as a chart of each job's p50/p95 against the dispatch ceiling."""

from __future__ import annotations

from html import escape

from ..jobs import RoutingReport, format_duration

__all__ = ["routing_chart"]

_ROW = 34
_LEFT = 190
_WIDTH = 640


def routing_chart(report: RoutingReport) -> str:
    """An SVG bar chart: per job a p50 bar, a p95 tick, and the ceiling with its 80 % advice line."""
    rows = [r for r in report.rows if r.p50 is not None or r.route.value == "dispatch"]
    if not rows:
        return ""
    ceiling = max(r.ceiling.total_seconds() for r in rows)
    top = max([ceiling] + [r.p95.total_seconds() for r in rows if r.p95 is not None]) * 1.05
    plot = _WIDTH - _LEFT - 20
    height = 40 + _ROW * len(rows)

    def x(seconds: float) -> float:
        return _LEFT + plot * min(seconds, top) / top

    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        'aria-label="observed p50 and p95 of each job against the dispatch ceiling" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    cx, ax = x(ceiling), x(0.8 * ceiling)
    parts.append(f'<line x1="{cx:.1f}" y1="14" x2="{cx:.1f}" y2="{height - 10}" class="ceiling"/>')
    parts.append(
        f'<text x="{cx:.1f}" y="11" class="axis" text-anchor="middle">ceiling {format_duration(ceiling)}</text>'
    )
    parts.append(f'<line x1="{ax:.1f}" y1="14" x2="{ax:.1f}" y2="{height - 10}" class="advice-line"/>')
    parts.append(f'<text x="{ax:.1f}" y="{height - 1}" class="axis" text-anchor="middle">80 %</text>')
    for i, r in enumerate(rows):
        y = 24 + i * _ROW
        flagged = " advised" if r.advice else ""
        parts.append(f'<g class="row{flagged}" data-job="{escape(r.job)}">')
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + 15}" class="label" text-anchor="end">{escape(r.job[:26])}</text>'
        )
        if r.p50 is not None:
            w = x(r.p50.total_seconds()) - _LEFT
            parts.append(f'<rect x="{_LEFT}" y="{y + 4}" width="{w:.1f}" height="16" rx="3" class="p50"/>')
        if r.p95 is not None:
            px = x(r.p95.total_seconds())
            parts.append(f'<line x1="{px:.1f}" y1="{y}" x2="{px:.1f}" y2="{y + 24}" class="p95"/>')
            label = f"p95 {format_duration(r.p95)}"
            parts.append(
                f'<text x="{min(px + 4, _WIDTH - 70):.1f}" y="{y + 15}" class="value">{label}</text>'
            )
        elif r.p50 is None:
            parts.append(f'<text x="{_LEFT + 4}" y="{y + 15}" class="value">no runs yet</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
