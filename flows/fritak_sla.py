"""Daily SLA check for exemption cases: flag every undecided case older than the deadline.

The deadline is ``HUB_FRITAK__SLA_DAYS`` (21 days) from submission. A flagged case keeps
``sla_breached`` in the ledger (the service metrics count it) and is listed in the
``fritak-sla`` artifact, so the service team sees it in the Prefect UI.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from hub.ledger import ItemState
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import get_ledger

__all__ = ["fritak_sla"]


@flow(name="fritak-sla", log_prints=False)
async def fritak_sla(now: datetime | None = None) -> dict[str, int]:
    settings = get_settings()
    ledger = get_ledger(settings)
    now = now or datetime.now(OSLO)
    deadline = timedelta(days=settings.fritak.sla_days)
    open_items = await asyncio.to_thread(ledger.items, service="fritak", states=list(ItemState.OPEN), limit=None)
    rows = []
    for item in open_items:
        age = now - item.requested_at
        if age <= deadline:
            continue
        if not (item.data or {}).get("sla_breached"):
            await asyncio.to_thread(ledger.update_data, item.id, sla_breached=True,
                                    sla_flagged_at=now.isoformat())
        rows.append({"submission": item.source_key, "received": item.requested_at.astimezone(OSLO).strftime("%d.%m.%Y"),
                     "days open": round(age.total_seconds() / 86400, 1), "state": item.state,
                     "waiting for": item.last_error or "-"})
    await acreate_table_artifact(
        key="fritak-sla", table=table_for_prefect(rows) or [{"submission": "-", "received": "-", "days open": 0, "state": "-",
                                          "waiting for": f"no case is older than {settings.fritak.sla_days} days"}],
        description=f"Exemption cases older than {settings.fritak.sla_days} days without a decision")
    get_run_logger().info("%d open case(s), %d over the %d-day deadline", len(open_items), len(rows),
                          settings.fritak.sla_days)
    return {"open": len(open_items), "over_deadline": len(rows)}
