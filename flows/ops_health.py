"""Connector health, every few minutes: reachable, authenticated, how fast — and Prefect itself.

The result is a table artifact with a stable key (``connector-health``), so the UI keeps its
history. When a connector *turns* unhealthy the flow emits the Prefect event
``hub.connector.unhealthy``; the ``notify-operators`` deployment's trigger (a Prefect
automation) then e-mails the operators. Recovery emits ``hub.connector.recovered``.

The row ``flow-runs`` reports what dead flow runs left behind (:func:`hub.recovery.check_liveness`):
stuck work items, zombie runs (running with no heartbeat) and global slots held while nothing
runs. Any of these turns the run red (Failed) and, like a connector, alerts the operators.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.schemas.objects import State
from prefect.events import emit_event
from prefect.states import Completed, Failed

from hub.health import check_all
from hub.ports.common import Health
from hub.recovery import check_liveness
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import get_ledger

__all__ = ["connector_health"]

LIVENESS = "flow-runs"  # the row (and alert name) for dead runs and what they left behind


async def _liveness_health(ledger: Any) -> Health:
    started = time.perf_counter()
    liveness = await check_liveness(ledger)
    ok = liveness.ok and not liveness.error
    detail = (f"Prefect could not be asked: {liveness.error}" if liveness.error
              else " ".join(liveness.problems()) if not ok
              else f"{liveness.running} running; no stuck item, zombie run or orphaned slot")
    return Health(system=LIVENESS, ok=ok, latency_ms=(time.perf_counter() - started) * 1000, detail=detail[:600])


@flow(name="connector-health", log_prints=False)
async def connector_health() -> dict[str, bool] | State:
    """Check every configured connector and the Prefect server; alert on a change to unhealthy.
    Stuck items, zombie runs or orphaned global slots fail the run."""
    settings = get_settings()
    ledger = get_ledger(settings)
    logger = get_run_logger()
    checks = await check_all()
    checks[LIVENESS] = await _liveness_health(ledger)
    rows = []
    for name, health in checks.items():
        slow = health.ok and health.latency_ms > settings.ops.slow_ms
        status = "ok" if health.ok and not slow else ("slow" if health.ok else "DOWN")
        rows.append({"connector": name, "status": status, "latency ms": round(health.latency_ms, 1),
                     "version": health.version or "-", "detail": health.detail[:160]})
        if not health.ok:
            await asyncio.to_thread(ledger.set_cursor, f"health-detail:{name}", health.detail[:200])
        before = await asyncio.to_thread(ledger.get_cursor, f"health:{name}")
        now_state = "ok" if health.ok else "down"
        if now_state != before:
            await asyncio.to_thread(ledger.set_cursor, f"health:{name}", now_state)
            if now_state == "down":
                logger.error("%s turned unhealthy: %s", name, health.detail)
                emit_event(event="hub.connector.unhealthy", resource={"prefect.resource.id": f"hub.connector.{name}",
                                                                        "prefect.resource.name": name},
                           payload={"connector": name, "detail": health.detail[:300]})
            elif before is not None:
                logger.info("%s recovered", name)
                emit_event(event="hub.connector.recovered", resource={"prefect.resource.id": f"hub.connector.{name}",
                                                                        "prefect.resource.name": name},
                           payload={"connector": name})
    from datetime import datetime

    await acreate_table_artifact(key="connector-health", table=table_for_prefect(rows),
                                 description=f"Connector health at {datetime.now(OSLO):%Y-%m-%d %H:%M} (Europe/Oslo)")
    result = {name: h.ok for name, h in checks.items()}
    if not checks[LIVENESS].ok:
        return Failed(message=checks[LIVENESS].detail[:500], data=result)
    return Completed(data=result)
