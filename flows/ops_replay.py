"""Replay chosen dead letters after a fix (also ``hub replay`` on the command line)."""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from hub.ledger import ItemState
from hub.replay import replay_items
from hub.settings import OSLO
from hub.text import table_for_prefect
from hub.wiring import get_ledger

__all__ = ["replay_dead_letters", "list_dead_letters"]


@flow(name="replay-dead-letters", log_prints=False)
async def replay_dead_letters(item_ids: list[int] | None = None, service: str | None = None) -> dict[str, int]:
    """Replay the given items, or every failed item of ``service``. Completed items are skipped."""
    ledger = get_ledger()
    if item_ids is None:
        item_ids = [i.id for i in await asyncio.to_thread(ledger.items, service=service, states=[ItemState.FAILED],
                                                           limit=None)]
    results = await replay_items(ledger, item_ids)
    rows = table_for_prefect({"item": r.item_id, "service": r.service, "key": r.source_key, "outcome": r.outcome,
                              "flow run": r.flow_run_id or "-"} for r in results)
    await acreate_table_artifact(key="replay", table=rows or [{"item": "-", "outcome": "nothing to replay"}],
                                 description="Dead letters replayed")
    replayed = sum(r.outcome == "replayed" for r in results)
    get_run_logger().info("replayed %d of %d item(s)", replayed, len(results))
    return {"replayed": replayed, "skipped": len(results) - replayed}


@flow(name="dead-letters", log_prints=False)
async def list_dead_letters() -> int:
    """Every failed item with its reason (artifact ``dead-letters``): what to fix, then replay."""
    items = await asyncio.to_thread(get_ledger().items, states=[ItemState.FAILED], limit=None)
    rows = table_for_prefect({"item": i.id, "service": i.service, "key": i.source_key, "kind": i.error_kind or "-",
                              "since": i.updated_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M"), "tries": i.attempts,
                              "reason (and what to do)": (i.last_error or "")[:300]} for i in items)
    await acreate_table_artifact(key="dead-letters", table=rows or [{"item": "-", "reason (and what to do)":
                                                                      "no dead letters"}],
                                 description="Failed work items; replay with the replay-dead-letters "
                                             "deployment or `hub replay` after the fix")
    return len(rows)
