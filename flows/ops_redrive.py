"""Re-drive stuck work items (the run that worked on them died) and retry transient dead
letters (a peer was down for longer than a task's retries) a while later: start them again.

Started by every Crashed flow run (the zombie automation marks dead runs Crashed) and every
two minutes as a safety net; one at a time (a run started while one works is cancelled, and
the working one scans again while it finds work). Each pass ends runs Prefect still shows
alive though they sent no heartbeat, then looks at the items ``running`` with an expired
ledger lease: those whose run ended (or is gone) are reset and started again through the
replay routes, with a fresh idempotency key; so are items whose run died before it claimed
them. After ``HUB_REDRIVE_MAX_ATTEMPTS`` re-drives an item becomes a dead letter with its
reason (see :func:`hub.replay.redrive_stuck`). A transient dead letter is started again
``HUB_RETRY_TRANSIENT_AFTER`` after it failed (5 min, 30 min, 2 h), then left to a person
(:func:`hub.replay.retry_transient`).

A run marked Crashed a moment ago may still hold its item's lease for a few seconds; the
flow then waits for that lease (at most one lease period) and looks again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from hub.ledger.models import utcnow
from hub.recovery import RecoveryConfig, find_zombies
from hub.replay import ReplayResult, next_expiry_of_dead_runs, redrive_stuck, retry_transient
from hub.settings import OSLO
from hub.wiring import get_ledger

__all__ = ["redrive_stuck_items"]


async def _young_pending_deadline(client: object, config: RecoveryConfig) -> datetime | None:
    """When the oldest run still Pending would count as dead (see find_zombies), if any."""
    from prefect.client.schemas.objects import StateType

    alive, _ = await find_zombies(client, config)
    since = [r.state.timestamp for r in alive
             if r.state is not None and r.state.type == StateType.PENDING and r.state.timestamp]
    return min(since) + config.pending_after + timedelta(seconds=1) if since else None


@flow(name="redrive-stuck", log_prints=False)
async def redrive_stuck_items() -> dict[str, int]:
    """Start stuck items again (or dead-letter them after too many re-drives); retry transient
    dead letters whose time has come."""
    from prefect.client.orchestration import get_client

    ledger = get_ledger()
    config = RecoveryConfig.from_env()
    logger = get_run_logger()
    results: list[ReplayResult] = await retry_transient(ledger, config)
    async with get_client() as client:
        for _ in range(4):  # scan again while there is work: crashes during a pass are not lost
            found = await redrive_stuck(ledger, config, client=client)
            results += found
            expiry = await next_expiry_of_dead_runs(ledger, client=client)
            if expiry is not None:
                wait = min((expiry - utcnow()).total_seconds() + 1, config.item_lease.total_seconds() + 1)
                logger.info("a dead run still holds its item's lease; looking again in %.0f s", wait)
                await asyncio.sleep(max(0.0, wait))
            elif any(r.outcome.startswith("waiting") for r in found):
                await asyncio.sleep(10)  # Prefect has not ended a dead run yet
            elif (pending := await _young_pending_deadline(client, config)) is not None:
                # A run left Pending by a killed runner becomes a zombie only after the window;
                # no later Crashed event may come to start another pass, so wait and look again.
                wait = min(max(0.0, (pending - utcnow()).total_seconds() + 1), 150.0)
                logger.info("a run is still pending; looking again in %.0f s", wait)
                await asyncio.sleep(wait)
            elif not any(r.outcome == "redriven" for r in found):
                break
    counts = {"redriven": sum(r.outcome == "redriven" for r in results),
              "dead_letters": sum(r.outcome.startswith("dead letter") for r in results),
              "waiting": sum(r.outcome.startswith("waiting") for r in results),
              "retried": sum(r.outcome == "retried" for r in results)}
    if results:
        now = utcnow().astimezone(OSLO)
        await acreate_table_artifact(
            key="redrive-stuck", table=[{"item": r.item_id, "service": r.service, "key": r.source_key,
                                         "outcome": r.outcome, "flow run": r.flow_run_id or "-"} for r in results],
            description=f"Stuck items and transient dead letters at {now:%Y-%m-%d %H:%M} (Europe/Oslo): "
                        "re-driven, waiting for Prefect to end their run, dead letters after too many re-drives, "
                        "or retried a while after a peer failed")
        logger.warning("stuck items: %s", counts)
    else:
        logger.info("no stuck items")
    return counts
