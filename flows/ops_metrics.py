"""Service metrics, nightly and on demand: how much came in, how fast it was done, by hand or not.

Two artifacts with stable keys, so the Prefect UI keeps their history:

- ``service-metrics`` — a table: per service one overall row for the window, then one row
  per ISO week (Europe/Oslo) with requests; definitions in :mod:`hub.metrics`.
- ``service-metrics-chart`` — markdown with one chart per service: requests per week as
  stacked bars (done / open / dead letters) and the median and p90 lead time as lines,
  with a Unicode sparkline table below; drawn by :mod:`hub.reporting`.

No personal data: services, weeks, counts and source keys (submission and employee ids)
only — and every text cell is still masked and escaped (:mod:`hub.text`), as is everything
the hub hands to Prefect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.exceptions import MissingContextError

from hub.errors import InvalidInput
from hub.metrics import MetricsReport, read_metrics
from hub.reporting import chart_markdown
from hub.text import table_for_prefect
from hub.wiring import get_ledger

__all__ = ["service_metrics", "TABLE_KEY", "CHART_KEY"]

TABLE_KEY = "service-metrics"
CHART_KEY = "service-metrics-chart"


@flow(name="service-metrics", log_prints=False)
async def service_metrics(weeks: int = 8) -> dict[str, Any]:
    """Compute per-service, per-week metrics from the ledger and publish table + chart artifacts."""
    if not 1 <= weeks <= 104:
        raise InvalidInput(f"weeks must be between 1 and 104, not {weeks}",
                           hint="Start the run again with a window of 1 to 104 weeks.")
    report = await asyncio.to_thread(read_metrics, get_ledger(), weeks=weeks)
    window = f"{report.weeks[0].label} – {report.weeks[-1].label}"
    stamp = f"{report.now:%Y-%m-%d %H:%M} Europe/Oslo"
    await acreate_table_artifact(key=TABLE_KEY, table=table_for_prefect(report.table()) or [{"service": "-", "week": "no work items"}],
                                 description=f"Service metrics {window} (by week of request), computed {stamp}. "
                                             "'all' = the whole window; lead time in hours, p90 by nearest rank; "
                                             "dead letters = failed items; 'open, older' = still open, requested "
                                             "before the window.")
    await acreate_markdown_artifact(key=CHART_KEY, markdown=chart_markdown(report),
                                    description=f"Weekly requests and lead time per service, {window}")
    summary = _summary(report)
    _logger().info("service metrics for %d service(s), %s: %d received, %d done, %d dead letters, %d open",
                   len(report.services), window, summary["received"], summary["done"], summary["failed"],
                   summary["open"])
    return summary


def _summary(report: MetricsReport) -> dict[str, Any]:
    rows = [s.overall for s in report.services]
    oldest = [r.oldest_open.age_days for r in rows if r.oldest_open]
    return {"weeks": len(report.weeks), "services": [s.service for s in report.services],
            "received": sum(r.received for r in rows), "done": sum(r.done for r in rows),
            "failed": sum(r.failed for r in rows), "open": sum(r.open + r.open_before_window for r in rows),
            "oldest_open_days": round(max(oldest), 1) if oldest else None,
            "artifacts": [TABLE_KEY, CHART_KEY]}


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called as a plain function (tests, scripts)
        return logging.getLogger("hub.flow.metrics")
