"""A batch item's lease: renewed while its handler works, given up with its outcome in one
transaction (:meth:`Ledger.finish_item` ``release=``), never renewed after that, and the row
of the batch is the outcome as recorded."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from hub.errors import InvalidInput
from hub.flowkit import Run, run_batch
from hub.ledger import ItemState
from tests.flows.conftest import Fakes


async def test_a_slow_item_keeps_its_lease_and_gives_it_up_with_its_outcome(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HUB_ITEM_LEASE_SECONDS", "5")  # renewed every ~1.7 s
    slow, bad = (hub.ledger.ensure_item("rooms", key, title=key) for key in ("lease-slow", "lease-bad"))
    renewals: list[str] = []
    renew = hub.ledger.renew

    def counted(item_id: int, owner: str, lease: Any) -> bool:
        kept = renew(item_id, owner, lease)
        renewals.append(f"{item_id}:{kept}")
        return kept

    monkeypatch.setattr(hub.ledger, "renew", counted)

    async def handle(run: Run) -> str:
        if run.item.source_key == "lease-bad":
            raise InvalidInput("room request lease-bad: fødselsnummer 15076500565 in the comment")
        held = hub.ledger.item(run.item.id)
        assert held.lease_owner and held.state == ItemState.RUNNING and held.attempts == 1
        await asyncio.sleep(4)
        return "booked"

    with caplog.at_level(logging.WARNING):
        rows = await run_batch([slow, bad], ports=Any, handle=handle, ledger=hub.ledger, parallel=2)  # type: ignore[arg-type]
        await asyncio.sleep(2)  # a renewal that outlived the run would come now

    assert [(r["item"], r["state"]) for r in rows] == [("lease-slow", ItemState.DONE), ("lease-bad", ItemState.FAILED)]
    assert rows[0]["outcome"] == "booked"
    assert "15076500565" not in rows[1]["outcome"] and "fødselsnummer" in rows[1]["outcome"]
    assert renewals and all(r == f"{slow.id}:True" for r in renewals)  # renewed while it worked, always kept
    assert "lost its lease" not in caplog.text
    for key in ("lease-slow", "lease-bad"):
        after = hub.ledger.get_item("rooms", key)
        assert after is not None and after.lease_owner is None and after.lease_until is None
