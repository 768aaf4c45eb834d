"""The backlog bench's ceiling onboards a hire with the same writes as the onboarding flow,
and with no ledger and no Prefect (``bench/backlog.py``: the hires' RT work is in the ceiling
too, so laptop orders are measured against a ceiling that shares RT as the hub does)."""

from __future__ import annotations

import asyncio

from bench.backlog import BareRun, _handler
from hub.settings import get_settings
from tests.flows.conftest import Fakes
from tests.flows.test_onboarding import LAPTOP_MODEL, _staff


async def test_the_ceiling_onboards_a_hire_with_the_flows_writes_and_nothing_in_the_ledger(hub: Fakes) -> None:
    _staff(hub)
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)
    slots = {"ticketing": asyncio.Semaphore(2), "ticketing-asset-allocation": asyncio.Semaphore(1)}

    async with _handler("onboarding") as (handle, ports):
        assert await handle(BareRun("onboarding", "10001", ports, get_settings(), slots)) == "onboarded"

    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == "dfo:ansatt:10001"
    assert [e.entry.external_id for e in stored.entries] == ["onboarding:10001:velkomstbrev"]
    assert sorted(t.queue for t in hub.ticketing.tickets.values()) == ["Equipment", "User accounts"]
    (laptop,) = await hub.ticketing.find_assets("Laptops", held_by="kari.nordmann@oslomet.no")
    assert laptop.name == "LT-0002"
    (mail,) = hub.mail.sent
    assert mail.to == ("mona.leder@oslomet.no",)
    assert hub.ledger.get_item("onboarding", "10001") is None  # the ceiling keeps no ledger
