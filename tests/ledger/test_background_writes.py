"""Ledger writes a run does not wait for.

A step's start is written in the background (:meth:`hub.flowkit.Run._soon`): when that write
fails, the run's next write raises it, nothing after it is written out of order, and the item
still ends recorded, failed with the reason, its lease given up. The fault is real: the
ledger's PostgreSQL backend making the write is terminated while it waits for a lock.

A batch's item ends (its outcome written, its lease given up) beside the next item's claim:
with the first item's row locked by another connection, the second is handled meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from hub.flowkit import Run, run_batch
from hub.ledger import ItemState, Ledger


@pytest.fixture
def pg_ledger(postgres_url: str) -> Iterator[Ledger]:
    ledger = Ledger(postgres_url)
    yield ledger
    from hub.ledger.models import Base

    with ledger.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    ledger.dispose()


def _terminate_the_waiting_write(dsn: str, deadline: float) -> str:
    """Terminate the backend waiting for a lock to write a step (the run's background write)."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute("select pid, query from pg_stat_activity where wait_event_type = 'Lock' "
                                "and query ilike '%work_item_steps%'").fetchone()
            if row:
                admin.execute("select pg_terminate_backend(%s)", (row[0],))
                return str(row[1])
            time.sleep(0.05)
    raise AssertionError("no write to work_item_steps waited for the lock")


async def test_a_failed_background_write_fails_the_item_with_its_reason_and_nothing_after_it_is_written(
        pg_ledger: Ledger, postgres_url: str) -> None:
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    item = pg_ledger.ensure_item("rooms", "bg-1", title="background")
    effects: list[str] = []

    async def handle(run: Run) -> str:
        with psycopg.connect(dsn) as blocker:
            blocker.execute("lock table work_item_steps in exclusive mode")  # the start's insert waits
            async with asyncio.timeout(15), run.step("book_room"):  # a start waited for would wait for ever
                killed = await asyncio.to_thread(_terminate_the_waiting_write, dsn, time.monotonic() + 10)
                effects.append("booked")  # the step's call went out while its start was being written
            blocker.rollback()
        assert "work_item_steps" in killed
        await run.remember("booking", system="calendar", kind="event", ref="R1", key="R1")
        effects.append("remembered")  # not reached: the reference waits for the start, and it failed
        return "booked"

    rows = await run_batch([item], ports=Any, handle=handle, ledger=pg_ledger)  # type: ignore[arg-type]

    assert effects == ["booked"]
    after = pg_ledger.item(item.id)
    assert rows[0]["state"] == after.state == ItemState.FAILED
    assert "terminat" in (after.last_error or "").lower()  # "terminating connection due to administrator command"
    assert after.steps == [] and Ledger.loaded_refs(after) == {}  # nothing written after the failed start
    assert after.lease_owner is None  # given up with the item's end


async def test_the_next_item_is_claimed_and_handled_while_the_one_before_s_end_is_written(
        pg_ledger: Ledger, postgres_url: str) -> None:
    """One item at a time (``parallel=1``): another connection holds the first item's row, so
    its end (the outcome, the lease given up) waits; the second item is claimed and handled
    meanwhile, and both end recorded once the row is free."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    first = pg_ledger.ensure_item("rooms", "end-1", title="first")
    second = pg_ledger.ensure_item("rooms", "end-2", title="second")
    seen: dict[str, Any] = {}
    blocker = psycopg.connect(dsn)

    async def handle(run: Run) -> str:
        if run.item.id == first.id:  # its end will wait for this row lock (not its steps' key checks)
            blocker.execute("select 1 from work_items where id = %s for no key update", (first.id,))
            return "first"
        seen["the first while the second was handled"] = pg_ledger.item(first.id).state
        if not blocker.closed:
            blocker.rollback()
        return "second"

    # Waited for in turn, the first's end would wait for the lock for ever: it goes after 10 s.
    release = asyncio.get_running_loop().call_later(10, blocker.close)
    try:
        rows = await run_batch([first, second], ports=Any, handle=handle, ledger=pg_ledger,  # type: ignore[arg-type]
                               parallel=1)
    finally:
        release.cancel()
        blocker.close()

    assert seen["the first while the second was handled"] == ItemState.RUNNING
    assert [(r["outcome"], r["state"]) for r in rows] == [("first", ItemState.DONE), ("second", ItemState.DONE)]
    assert [(i.state, i.lease_owner) for i in map(pg_ledger.item, (first.id, second.id))] == [
        (ItemState.DONE, None), (ItemState.DONE, None)]
