"""Charts of the service metrics, drawn for people: SVG images and Unicode sparklines.

Pure rendering of a :class:`~hub.metrics.MetricsReport` (no Prefect, no I/O); the
``service-metrics`` flow (:mod:`flows.ops_metrics`) publishes the result as an artifact.

:func:`chart_markdown` is markdown with one chart per service — requests per ISO week as
stacked bars (done / open / dead letters) and the median and p90 lead time as lines — as
SVG images embedded as ``data:image/svg+xml;base64`` URIs in ``![alt](...)``: both the
default and the "V2" Prefect 3.9 UI show them (inline ``<svg>`` markup is stripped by the
UI's sanitizer). Below the images a table of Unicode sparklines (▁▂▃▄▅▆▇█) carries the same
trends as plain text, in case a future UI stops showing ``data:`` images. Every text cell
is masked and escaped (:mod:`hub.text`), as is everything the hub hands to Prefect.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from hub.metrics import MetricsReport, ServiceMetrics
from hub.text import for_prefect

__all__ = ["chart_markdown", "service_chart_svg", "sparkline"]

BARS = "▁▂▃▄▅▆▇█"
COLORS = {"done": "#16a34a", "open": "#f59e0b", "failed": "#dc2626", "median": "#2563eb", "p90": "#7c3aed"}
W, H = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 56, 44, 34
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def chart_markdown(report: MetricsReport) -> str:
    """One SVG chart per service (as a data: URI image) and a Unicode sparkline fallback."""
    window = f"{report.weeks[0].label} – {report.weeks[-1].label}"
    parts = [f"# Service metrics, {window}",
             f"Requests per ISO week (Europe/Oslo) by outcome now, and lead time from request to done. "
             f"Computed {report.now:%d.%m.%Y %H:%M}."]
    if not report.services:
        return "\n\n".join([*parts, "_No work items in the ledger yet._"])
    for svc in report.services:
        svg = base64.b64encode(service_chart_svg(svc).encode()).decode()
        name = for_prefect(svc.service, inline=True)
        parts.append(f"### {name}\n\n![{name}: requests and lead time per week]"
                     f"(data:image/svg+xml;base64,{svg})")
    lines = ["### Trends as text", "",
             "| service | requests per week | median lead time (h) | last week: received / done / median h |",
             "|---|---|---|---|"]
    for svc in report.services:
        last = svc.weeks[-1]
        median = "-" if last.lead_median_h is None else f"{last.lead_median_h:.1f}"
        lines.append(f"| {for_prefect(svc.service, inline=True)} | {sparkline([w.received for w in svc.weeks])} "
                     f"| {sparkline([w.lead_median_h for w in svc.weeks])} "
                     f"| {last.received} / {last.done} / {median} |")
    parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def sparkline(values: Sequence[float | None]) -> str:
    """``▁▂▃▄▅▆▇█`` scaled to the largest value; ``·`` for no value (e.g. no done items)."""
    top = max((v for v in values if v is not None), default=0.0)
    return "".join("·" if v is None else BARS[0] if top <= 0 else BARS[min(7, round(v / top * 7))]
                   for v in values)


def service_chart_svg(svc: ServiceMetrics) -> str:
    """Stacked bars (done, open, dead letters) per week on the left axis; lead time lines right."""
    weeks = svc.weeks
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / len(weeks)
    vmax = _nice(max((w.received for w in weeks), default=0), steps=(1, 1.2, 1.6, 2, 3, 4, 5, 6, 8, 10))
    hmax = _nice(max((h for w in weeks for h in (w.lead_median_h, w.lead_p90_h) if h is not None), default=0.0))
    base_y = TOP + plot_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" {FONT}>',
           f'<rect width="{W}" height="{H}" rx="6" fill="#ffffff"/>',
           f'<title>{escape(svc.service)}: requests and lead time per ISO week</title>',
           _legend(W - RIGHT, 18)]
    for frac in (0.0, 0.5, 1.0):  # grid and axis labels (request counts are whole numbers)
        y = base_y - frac * plot_h
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        if vmax * frac == int(vmax * frac):
            out.append(_text(LEFT - 6, y + 4, _num(vmax * frac), anchor="end", color="#374151"))
        out.append(_text(LEFT + plot_w + 6, y + 4, f"{_num(hmax * frac)} h", anchor="start", color=COLORS["median"]))
    out.append(_text(12, TOP - 10, "requests", anchor="start", color="#374151"))
    out.append(_text(W - 8, TOP - 10, "lead time", anchor="end", color=COLORS["median"]))
    step = max(1, math.ceil(len(weeks) / 13))
    counts: list[str] = []
    for i, week in enumerate(weeks):
        x = LEFT + i * slot + slot * 0.2
        y = base_y
        for part, count in (("done", week.done), ("open", week.open), ("failed", week.failed)):
            height = count / vmax * plot_h if vmax else 0
            if height:
                y -= height
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{height:.1f}" '
                           f'fill="{COLORS[part]}"><title>{part}: {count}</title></rect>')
        if week.received:  # drawn last, over the lines, with a white halo
            counts.append(_text(x + slot * 0.3, y - 4, str(week.received), color="#111827")
                          .replace("<text ", '<text stroke="#ffffff" stroke-width="3" paint-order="stroke" '))
        if i % step == 0 or i == len(weeks) - 1:
            out.append(_text(LEFT + (i + 0.5) * slot, base_y + 16, week.period.split("-")[-1], color="#374151"))
    for name, dash in (("p90", ' stroke-dasharray="5 4"'), ("median", "")):
        points = [(LEFT + (i + 0.5) * slot, None if v is None or not hmax else base_y - v / hmax * plot_h)
                  for i, v in enumerate(w.lead_median_h if name == "median" else w.lead_p90_h for w in weeks)]
        out += _line(points, COLORS[name], dash)
    out += counts
    out.append("</svg>")
    return "".join(out)


def _legend(right: float, y: float) -> str:
    items = [("done", "done"), ("open", "open"), ("failed", "dead letters"), ("median", "median h"),
             ("p90", "p90 h")]
    out: list[str] = []
    x = right
    for key, label in reversed(items):
        x -= 7 * len(label) + 26
        if key in ("done", "open", "failed"):
            out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLORS[key]}"/>')
        else:
            dash = ' stroke-dasharray="4 3"' if key == "p90" else ""
            out.append(f'<line x1="{x - 2}" y1="{y - 4}" x2="{x + 12}" y2="{y - 4}" stroke="{COLORS[key]}" '
                       f'stroke-width="2"{dash}/>')
        out.append(_text(x + 15, y, label, anchor="start", color="#374151"))
    return "".join(out)


def _line(points: list[tuple[float, float | None]], color: str, dash: str) -> list[str]:
    """Polyline segments between weeks with a value; a week without done items is a gap."""
    out: list[str] = []
    run: list[tuple[float, float]] = []
    for x, y in [*points, (0.0, None)]:
        if y is not None:
            run.append((x, y))
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
            continue
        if len(run) > 1:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        run = []
    return out


def _text(x: float, y: float, text: str, *, anchor: str = "middle", color: str = "#111827") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" fill="{color}">{escape(text)}</text>'


def _nice(value: float, steps: Sequence[float] = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)) -> float:
    """A round axis maximum ≥ value: one of ``steps`` times a power of ten (0 stays 0)."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in steps if m * power >= value)


def _num(value: float) -> str:
    return f"{value:g}"
