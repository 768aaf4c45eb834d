"""A burst's members share one set of ports (hub.flowkit.each_side_by_side): one client per
system for the run, as a batch's items share theirs, not a new client per member."""

from __future__ import annotations

import asyncio

import pytest

from hub.flowkit import burst_parallel, burst_ports, each_side_by_side, work_item
from hub.ledger import ItemState
from hub.wiring import Connectors
from tests.flows.conftest import Fakes


async def test_a_bursts_members_share_the_runs_ports_and_others_keep_their_own(hub: Fakes) -> None:
    used: dict[str, Connectors] = {}

    async def onboard(member: dict[str, str]) -> None:
        key = member["employee_id"]
        async with work_item("onboarding", key, title=f"Onboarding {key}") as run:
            used[key] = run.ports
            assert burst_ports("onboarding") is run.ports
        if key == "3":  # another service's item inside the burst: ports of its own
            async with work_item("mover", key, title=f"Mover {key}") as other:
                used["mover"] = other.ports
                assert burst_ports("mover") is None

    state = await each_side_by_side([{"employee_id": k} for k in ("1", "2", "3")], onboard, key="employee_id",
                                    service="onboarding", what="hires", done="onboarded")

    assert state.is_completed(), state.message
    assert used["1"] is used["2"] is used["3"]
    assert used["mover"] is not used["1"]
    assert all(hub.ledger.get_item("onboarding", k).state == ItemState.DONE for k in ("1", "2", "3"))
    assert burst_ports("onboarding") is None  # the burst is over: nothing shared any more

    async with work_item("onboarding", "4", title="Onboarding 4") as alone:  # a run of its own
        assert burst_ports("onboarding") is None
        assert alone.ports is not used["1"]


async def test_a_burst_works_burst_parallel_members_side_by_side_not_a_batchs_few(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BATCH_PARALLEL", "2")
    monkeypatch.setenv("HUB_BURST_PARALLEL", "5")
    now = most = 0
    all_in = asyncio.Event()

    async def member(_: dict[str, str]) -> None:
        nonlocal now, most
        now += 1
        most = max(most, now)
        if most == 5:
            all_in.set()
        try:
            await asyncio.wait_for(all_in.wait(), 2)  # held until five are in at once (or 2 s)
        finally:
            now -= 1

    state = await each_side_by_side([{"employee_id": str(n)} for n in range(12)], member, key="employee_id",
                                    service="onboarding", what="hires", done="onboarded")

    assert state.is_completed(), state.message
    assert most == 5  # the burst's bound, not the batch's 2, and never more
    assert burst_parallel() == 5
