"""A batch stops taking items once it is told to (``run_batch(stop=...)``): a peer every item
needs is not answering, and the items not yet taken stay as they were for the next run."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.flowkit import Run, run_batch
from hub.ledger import ItemState
from tests.flows.conftest import Fakes


async def test_a_batch_told_to_stop_takes_no_further_item_and_leaves_them_pending(hub: Fakes) -> None:
    items = [hub.ledger.ensure_item("rooms", f"stop-{n}", title=f"request {n}") for n in range(5)]
    stop = asyncio.Event()
    handled: list[str] = []

    async def handle(run: Run) -> str:
        handled.append(run.item.source_key)
        if len(handled) == 2:
            stop.set()  # e.g. the peer did not answer this one
        return "done"

    rows = await run_batch(items, ports=Any, handle=handle, ledger=hub.ledger, parallel=1, stop=stop)  # type: ignore[arg-type]

    assert handled == ["stop-0", "stop-1"]
    assert [(r["item"], r["state"]) for r in rows] == [("stop-0", ItemState.DONE), ("stop-1", ItemState.DONE)]
    after = [hub.ledger.get_item("rooms", f"stop-{n}") for n in range(5)]
    assert [i.state if i else None for i in after] == [ItemState.DONE] * 2 + [ItemState.PENDING] * 3
    assert all(i is not None and i.attempts == 0 and i.lease_owner is None for i in after[2:])
