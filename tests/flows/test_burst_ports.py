"""A burst's members share one set of ports (hub.flowkit.each_side_by_side): one client per
system for the run, as a batch's items share theirs, not a new client per member."""

from __future__ import annotations

from hub.flowkit import burst_ports, each_side_by_side, work_item
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
