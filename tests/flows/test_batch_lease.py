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
from hub.ledger import ItemState, Ledger, WorkItem
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


async def test_a_run_knows_its_item_s_references_without_asking_the_ledger_again(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The references are loaded with the item when it is claimed, and the run's own are kept
    as it records them: an earlier run's mail is found (not sent twice), this run's too."""
    item = hub.ledger.ensure_item("rooms", "refs-known", title="refs")
    hub.ledger.add_ref(item.id, "confirmation_mail", system="mail", kind="message", ref="<earlier@hub>")
    asked: list[str] = []
    monkeypatch.setattr(hub.ledger, "get_ref", lambda item_id, name: asked.append(name))
    seen: list[str | None] = []

    async def handle(run: Run) -> str:
        seen.append(run.ref("confirmation_mail"))
        seen.append(run.ref("booking"))
        await run.remember("booking", system="calendar", kind="event", ref="ref-1")
        seen.append(run.ref("booking"))
        return "booked"

    rows = await run_batch([item], ports=Any, handle=handle, ledger=hub.ledger)  # type: ignore[arg-type]

    assert rows[0]["state"] == ItemState.DONE and seen == ["<earlier@hub>", None, "ref-1"] and asked == []
    assert Ledger.loaded_refs(hub.ledger.item(item.id)) == {"confirmation_mail": "<earlier@hub>", "booking": "ref-1"}
    with hub.ledger.session() as s:  # an item loaded without its references: the run asks the ledger
        bare = s.get(WorkItem, item.id)
    assert bare is not None and Ledger.loaded_refs(bare) is None


async def test_an_item_another_run_took_further_since_the_batch_listed_it_is_left_alone(hub: Fakes) -> None:
    """The race the small chaos run found: laptop-orders lists its due orders, another run
    reserves one (and IT delivers it) before this batch's turn comes; handled again, it would
    be reserved a second laptop. Looked at again when its turn comes, it is skipped."""
    from flows.laptop_order import AWAITING_ASSET, AWAITING_DELIVERY, _due

    taken, due = (hub.ledger.ensure_item("laptop", key, title=key) for key in ("race-taken", "race-due"))
    hub.ledger.start_item(due.id, "flow-0")
    hub.ledger.finish_item(due.id, ItemState.WAITING, error="no free laptop in stock", error_kind="waiting")
    hub.ledger.update_data(due.id, stage=AWAITING_ASSET)
    listed = [hub.ledger.item(taken.id), hub.ledger.item(due.id)]  # the batch's list: both due
    assert all(_due(i) for i in listed)
    # Meanwhile another run reserves the first order; it waits for IT to deliver.
    hub.ledger.start_item(taken.id, "flow-other")
    hub.ledger.add_ref(taken.id, "asset", system="ticketing", kind="asset", ref="LT-1")
    hub.ledger.update_data(taken.id, stage=AWAITING_DELIVERY)
    hub.ledger.finish_item(taken.id, ItemState.WAITING, error="IT to deliver LT-1", error_kind="waiting")
    handled: list[str] = []

    async def handle(run: Run) -> str:
        handled.append(run.item.source_key)
        await run.wait_for("no free laptop in stock", stage=AWAITING_ASSET)
        return "waiting for stock"

    rows = await run_batch(listed, ports=Any, handle=handle, ledger=hub.ledger, due=_due)  # type: ignore[arg-type]

    assert handled == ["race-due"]
    assert rows[0]["outcome"].startswith("skipped") and rows[0]["state"] == ItemState.WAITING
    after = hub.ledger.item(taken.id)
    assert (after.state, after.data["stage"], after.attempts, after.lease_owner) == (
        ItemState.WAITING, AWAITING_DELIVERY, 1, None)
    assert after.last_error == "IT to deliver LT-1" and after.flow_run_id == "flow-other"
