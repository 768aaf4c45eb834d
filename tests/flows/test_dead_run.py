"""A flow run Prefect has already ended (Crashed) while its process still runs.

On a loaded host a run's heartbeat or start can come too late; the zombie detection (or
redrive-stuck) then marks it Crashed, and the process goes on until Prefect refuses it
something — a fritak case cannot suspend: "Run is already in terminal state CRASHED". The
small chaos run inside the full suite turned that into a dead letter of kind ``crash``. The
item belongs to the re-drive instead: left running, without a lease.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect import flow, get_client
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import Crashed

from hub.flowkit import work_item
from hub.ledger import ItemState
from tests.flows.conftest import Fakes


@flow(name="declared-dead")
async def _declared_dead_while_running(key: str) -> None:
    async with work_item("fritak", key, title="a case whose run Prefect ended"):
        async with get_client() as client:  # what the zombie detection does to a silent run
            await client.set_flow_run_state(UUID(str(flow_run.id)), Crashed(message="no heartbeat"), force=True)
        raise RuntimeError("Flow run cannot be suspended: Run is already in terminal state CRASHED.")


@flow(name="told-to-stop")
async def _told_to_stop_while_a_task_starts(key: str) -> None:
    async with work_item("fritak", key, title="a case whose process got SIGTERM"):
        try:
            raise TerminationSignal(signal=15)
        except TerminationSignal:
            # What Prefect's task engine turned the signal into while it recorded the crash.
            raise ValueError("Task run is not set") from None


@flow(name="plain-crash")
async def _crashes(key: str) -> None:
    async with work_item("fritak", key, title="a case that hits a bug"):
        raise RuntimeError("a bug")


async def test_an_item_whose_run_prefect_ended_is_left_to_the_redrive_not_dead_lettered(hub: Fakes) -> None:
    with pytest.raises(RuntimeError):
        await _declared_dead_while_running("4000001")

    item = hub.ledger.get_item("fritak", "4000001")
    assert item is not None and item.state == ItemState.RUNNING and item.error_kind is None
    assert item.lease_owner is None  # released: stuck at once, so redrive-stuck starts it again
    assert hub.ledger.is_stuck(item)


async def test_an_item_whose_process_was_told_to_stop_is_left_to_the_redrive(hub: Fakes) -> None:
    """The small chaos run: the runner was killed, its supervisor sent SIGTERM to the flow-run
    processes it left behind, and one of them surfaced it as ``ValueError('Task run is not set')``."""
    with pytest.raises(ValueError, match="Task run is not set"):
        await _told_to_stop_while_a_task_starts("4000003")

    item = hub.ledger.get_item("fritak", "4000003")
    assert item is not None and item.state == ItemState.RUNNING and item.error_kind is None
    assert item.lease_owner is None and hub.ledger.is_stuck(item)


async def test_a_crash_in_a_live_run_is_still_a_dead_letter(hub: Fakes) -> None:
    with pytest.raises(RuntimeError):
        await _crashes("4000002")

    item = hub.ledger.get_item("fritak", "4000002")
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "crash"
