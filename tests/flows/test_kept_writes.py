"""A run keeps the ledger writes that need not be made at once (a step's end, ``run.note``) and
makes them with its next write that must be (a step's start, a reference, the item's end), in
one transaction: a room request's life is 7 ledger transactions, not 12. Nothing is lost on the
way, the order holds, and a failure is recorded with its step. A step's start is written as
the step begins, but the step does not wait for it; the run's next write does."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from bench.ledger_life import counting_commits
from hub.errors import InvalidInput
from hub.flowkit import Run, run_batch
from hub.ledger import ItemState, Ledger, StepState
from tests.flows.conftest import Fakes


async def test_a_room_request_s_life_is_seven_transactions_and_loses_nothing(hub: Fakes) -> None:
    item = hub.ledger.ensure_item("rooms", "kept-1", title="kept")
    seen: dict[str, Any] = {}

    async def handle(run: Run) -> str:  # the writes of flows.rooms_steps.handle_booking, booked
        async with run.step("read_request"):
            pass
        run.note(reference="R1", booker="a@oslomet.no")
        async with run.step("book_room"):
            await run.remember("booking", system="calendar", kind="event", ref="R1", key="R1")
            run.note(room="room-1", outcome="booked")
        # a reference is made at once, with what was kept before it (this read is a transaction too)
        seen["at the booking"] = hub.ledger.item(run.item.id)
        seen["reads"] = 1
        async with run.step("confirmation_mail"):
            await run.remember("confirmation_mail", system="mail", kind="message", ref="<m1@hub>")
        return "booked"

    with counting_commits(hub.ledger) as count:
        rows = await run_batch([item], ports=Any, handle=handle, ledger=hub.ledger)  # type: ignore[arg-type]

    assert rows[0]["state"] == ItemState.DONE
    # claim+start, 3 step starts, 2 references, the end: each end and note rides with one of them
    assert count[0] - seen["reads"] == 7
    after = hub.ledger.item(item.id)
    assert after.data == {"reference": "R1", "booker": "a@oslomet.no", "room": "room-1", "outcome": "booked"}
    assert {s.name: (s.state, s.attempts) for s in after.steps} == {
        "read_request": (StepState.DONE, 1), "book_room": (StepState.DONE, 1), "confirmation_mail": (StepState.DONE, 1)}
    assert all(s.finished_at is not None and s.finished_at >= s.started_at for s in after.steps)
    assert Ledger.loaded_refs(after) == {"booking": "R1", "confirmation_mail": "<m1@hub>"}
    early = seen["at the booking"]
    assert early.data == {"reference": "R1", "booker": "a@oslomet.no"}  # the note after it is still kept
    assert {s.name: s.state for s in early.steps} == {"read_request": StepState.DONE, "book_room": StepState.RUNNING}


async def test_a_failed_step_is_recorded_with_the_item_s_failure(hub: Fakes) -> None:
    item = hub.ledger.ensure_item("rooms", "kept-2", title="kept")

    async def handle(run: Run) -> str:
        run.note(reference="R2")
        async with run.step("read_request"):
            raise InvalidInput("room request kept-2 is not valid: no such room")

    rows = await run_batch([item], ports=Any, handle=handle, ledger=hub.ledger)  # type: ignore[arg-type]

    after = hub.ledger.item(item.id)
    assert rows[0]["state"] == after.state == ItemState.FAILED and "no such room" in (after.last_error or "")
    assert after.data == {"reference": "R2"}
    [step] = after.steps
    assert step.state == StepState.FAILED and "no such room" in (step.last_error or "")


async def test_step_done_sees_a_step_ended_in_this_run(hub: Fakes) -> None:
    """``step_done`` reads the ledger: the run's kept writes are made first."""
    item = hub.ledger.ensure_item("rooms", "kept-3", title="kept")
    seen: list[bool] = []

    async def handle(run: Run) -> str:
        async with run.step("email_manager"):
            pass
        seen.append(await run.step_done("email_manager"))
        return "done"

    await run_batch([item], ports=Any, handle=handle, ledger=hub.ledger)  # type: ignore[arg-type]
    assert seen == [True]


async def test_a_step_s_calls_go_out_while_its_start_is_committed_and_the_next_write_waits_for_it(
        hub: Fakes) -> None:
    """Another connection holds the ledger's write lock while a step begins: the step's body
    runs before its start is in the ledger, and the reference after it is written only once the
    start is (in that order), with nothing lost."""
    item = hub.ledger.ensure_item("rooms", "soon-1", title="soon")
    database = hub.ledger.engine.url.database
    assert database is not None
    seen: dict[str, Any] = {}

    def steps_in_the_ledger() -> list[tuple[str, str]]:
        with sqlite3.connect(database) as reader:  # a reader is not held up by the writer's lock
            return list(reader.execute("select name, state from work_item_steps where work_item_id = ?", (item.id,)))

    async def handle(run: Run) -> str:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the write lock: the step's start waits for it
        try:
            async with run.step("book_room"):
                await asyncio.sleep(0.2)  # the start's write is under way meanwhile, and waits
                seen["while the lock was held"] = steps_in_the_ledger()
                seen["the start written"] = run._writing is not None and run._writing.done()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await run.remember("booking", system="calendar", kind="event", ref="R9", key="R9")
        seen["at the reference"] = steps_in_the_ledger()
        return "booked"

    rows = await run_batch([item], ports=Any, handle=handle, ledger=hub.ledger)  # type: ignore[arg-type]

    assert rows[0]["state"] == ItemState.DONE
    assert seen["while the lock was held"] == [] and seen["the start written"] is False
    assert seen["at the reference"] == [("book_room", StepState.DONE)]  # its end, kept, went with the reference
    after = hub.ledger.item(item.id)
    assert [(s.name, s.state, s.attempts) for s in after.steps] == [("book_room", StepState.DONE, 1)]
    assert Ledger.loaded_refs(after) == {"booking": "R9"}
