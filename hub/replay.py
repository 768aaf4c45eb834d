"""Replay dead letters after a fix: put failed items back and start their service again.

Replay is idempotent: an item that has meanwhile completed (or is not failed) is skipped,
and every step of every service finds its own earlier writes by external key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hub.dispatch import start_deployment_run
from hub.ledger import ItemState, Ledger, WorkItem

__all__ = ["ReplayResult", "replay_items", "REPLAY_ROUTES"]


@dataclass(frozen=True)
class _Route:
    deployment: str
    per_item: bool  # True: one run per item; False: the service's batch run picks up pending items

    def parameters(self, item: WorkItem) -> dict[str, Any]:
        if not self.per_item:
            return {}
        if item.service == "onboarding":
            return {"employee_id": item.source_key}
        return {"submission_id": int(item.source_key)}


REPLAY_ROUTES: dict[str, _Route] = {
    "onboarding": _Route("onboarding/onboarding", per_item=True),
    "fritak": _Route("fritak-case/fritak-case", per_item=True),
    "laptop": _Route("laptop-orders/laptop-orders", per_item=False),
    "rooms": _Route("room-bookings/room-bookings", per_item=False),
    "rooms-cancel": _Route("room-bookings/room-bookings", per_item=False),
}


@dataclass(frozen=True)
class ReplayResult:
    item_id: int
    service: str
    source_key: str
    outcome: str  # replayed | skipped: <why>
    flow_run_id: str | None = None


async def replay_items(ledger: Ledger, item_ids: list[int]) -> list[ReplayResult]:
    results: list[ReplayResult] = []
    batch_runs: dict[str, str] = {}
    for item_id in item_ids:
        try:
            item = await asyncio.to_thread(ledger.item, item_id)
        except KeyError:
            results.append(ReplayResult(item_id, "?", "?", "skipped: no such item"))
            continue
        route = REPLAY_ROUTES.get(item.service)
        if item.state != ItemState.FAILED:
            results.append(ReplayResult(item_id, item.service, item.source_key,
                                        f"skipped: it is {item.state}, not failed"))
            continue
        if route is None:
            results.append(ReplayResult(item_id, item.service, item.source_key,
                                        "skipped: no replay route for this service"))
            continue
        await asyncio.to_thread(ledger.reset_for_replay, item_id)
        replays = int((await asyncio.to_thread(ledger.item, item_id)).data.get("replays", 1))
        if route.per_item:
            run_id = await start_deployment_run(route.deployment, route.parameters(item),
                                                key=f"replay:{item.service}:{item.source_key}:{replays}")
            await asyncio.to_thread(ledger.set_flow_run, item_id, run_id)
        else:
            if route.deployment not in batch_runs:
                batch_runs[route.deployment] = await start_deployment_run(
                    route.deployment, {}, key=f"replay:{route.deployment}:{item_id}:{replays}")
            run_id = batch_runs[route.deployment]
        results.append(ReplayResult(item_id, item.service, item.source_key, "replayed", run_id))
    return results
