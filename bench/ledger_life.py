"""What a room request's life costs the ledger: transactions, wall time and CPU per item (issue 12).

``python -m bench.ledger_life [--items 1000] [--rounds 2] [--backend postgresql|sqlite|both]``

In the backlog bench the room batch's process was the hub's largest cost (539 of its 1,191
CPU-s at the issue's load), and a third of that process's time was the ledger (py-spy). This
bench replays only the ledger side of one booked room request — claimed and started, the
request read, booked, the booking remembered, confirmed by e-mail, done — ``--items`` times,
one item after another, on a throwaway PostgreSQL cluster (127.0.0.1) and on a SQLite file,
and prints per item the ledger's transactions (counted at commit), the wall time and this
process's CPU. Two ways, taking turns per round so the machine's load hits both alike:

- **kept** (now): through :func:`hub.flowkit.batch_item` and the :class:`~hub.flowkit.Run`,
  which keeps a step's end and a note on the item (``run.note``) and makes them with its next
  write that must be made at once (a step's start, a reference, the item's end);
- **each** (the baseline, the flow kit before this bench): the same claim, lease and end, and
  every write between its own transaction, off the event loop, in the same order;
- **pinged**: kept writes on a ledger whose pool pings each connection as it is taken, as
  SQLAlchemy's ``pool_pre_ping`` did for the ledger before it looked at a busy pool's
  connections without a round trip (``hub.ledger.store._check_at_checkout``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.kills import stop_on_sigterm
from hub.ledger import ItemState, Ledger, StepState, WorkItem
from hub.ledger.models import utcnow

SERVICE = "bench-rooms"  # and the way and round: a service of its own per measure


async def life_kept(ledger: Ledger, item: WorkItem) -> None:
    """As :func:`flows.rooms_steps.handle_booking` writes to the ledger, through the flow kit."""
    from hub.flowkit import batch_item

    async with batch_item(item, ports=None, ledger=ledger) as run:  # type: ignore[arg-type]
        assert run is not None
        async with run.step("read_request"):
            pass
        run.note(reference=f"R{item.id}", booker="booker@oslomet.no", start="s", end="e")
        async with run.step("book_room"):
            await run.remember("booking", system="calendar", kind="event", ref=f"R{item.id}", key=f"R{item.id}")
            run.note(room="room-1", outcome="booked")
        async with run.step("confirmation_mail"):
            await run.remember("confirmation_mail", system="mail", kind="message", ref=f"<m{item.id}>")


async def life_each(ledger: Ledger, item: WorkItem) -> None:
    """The same writes, each its own transaction, as the flow kit made them before the run kept
    any: the same claim, lease and end (:func:`hub.flowkit.batch_item`), the writes between
    made directly, off the event loop (a reference on it, as ``Run.remember`` did)."""
    from hub.flowkit import batch_item

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return asyncio.to_thread(fn, *args, **kwargs)

    async with batch_item(item, ports=None, ledger=ledger) as run:  # type: ignore[arg-type]
        assert run is not None
        await call(ledger.start_step, item.id, "read_request")
        await call(ledger.end_step, item.id, "read_request", StepState.DONE)
        await call(ledger.update_data, item.id, reference=f"R{item.id}", booker="booker@oslomet.no", start="s",
                   end="e")
        await call(ledger.start_step, item.id, "book_room")
        ledger.add_ref(item.id, "booking", system="calendar", kind="event", ref=f"R{item.id}",
                       external_key=f"R{item.id}")
        await call(ledger.update_data, item.id, room="room-1", outcome="booked")
        await call(ledger.end_step, item.id, "book_room", StepState.DONE)
        await call(ledger.start_step, item.id, "confirmation_mail")
        ledger.add_ref(item.id, "confirmation_mail", system="mail", kind="message", ref=f"<m{item.id}>")
        await call(ledger.end_step, item.id, "confirmation_mail", StepState.DONE)


@contextlib.contextmanager
def counting_commits(ledger: Ledger) -> Iterator[list[int]]:
    """``count[0]``: the ledger's transactions committed inside the block (tests/flows/test_kept_writes too)."""
    count = [0]

    def commit(_conn: Any) -> None:
        count[0] += 1
    event.listen(ledger.engine, "commit", commit)
    try:
        yield count
    finally:
        event.remove(ledger.engine, "commit", commit)


def pinging_at_every_checkout(ledger: Ledger) -> Ledger:
    """``ledger`` with the ping ``pool_pre_ping`` made as each connection is taken (the dialect's
    own, as SQLAlchemy's pre-ping calls it)."""
    dialect = ledger.engine.dialect
    event.listen(ledger.engine, "checkout", lambda dbapi_conn, _record, _proxy: dialect.do_ping(dbapi_conn))
    return ledger


LIVES = {"each": life_each, "pinged": life_kept, "kept": life_kept}
LABELS = {"each": "each write its own (older)", "pinged": "kept, pinged at checkout (before)",
          "kept": "kept, checked at checkout (now)"}


def measure(ledger: Ledger, way: str, items: int, round_no: int) -> tuple[float, float, float]:
    """(transactions, ms wall, ms CPU) per item of ``items`` new items through ``way``."""
    life = LIVES[way]
    service = f"{SERVICE}-{way}-{round_no}"
    ledger.add_items(service, [(str(i), f"request {i}", utcnow()) for i in range(items)])
    todo = ledger.items(service=service, limit=None)

    async def all_of_them() -> None:
        for item in todo:
            await life(ledger, item)

    with counting_commits(ledger) as commits:
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(all_of_them())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = ledger.items(service=service, limit=None)
    assert len(done) == items and all(item.state == ItemState.DONE for item in done), "an item did not end done"
    return commits[0] / items, wall * 1000 / items, cpu * 1000 / items


def run_backend(name: str, url: str, items: int, rounds: int) -> None:
    ledger = Ledger(url)
    ledgers = {"each": ledger, "pinged": pinging_at_every_checkout(Ledger(url, migrate=False)), "kept": ledger}
    figures: dict[str, list[tuple[float, float, float]]] = {way: [] for way in LIVES}
    for way in LIVES:  # warm up: imports, the pool, the statement cache
        measure(ledgers[way], way, 50, -1)
    order = list(LIVES)
    for round_no in range(rounds):  # each way first in turn, so the machine's load hits all alike
        for way in order[round_no % 3:] + order[:round_no % 3]:
            figures[way].append(measure(ledgers[way], way, items, round_no))
    for each in {id(one): one for one in ledgers.values()}.values():
        each.dispose()
    print(f"\n{name}: {items:,} items × {rounds} rounds, one after another (medians of the rounds)")
    print(f"{'way':<36}{'transactions/item':>18}{'ms wall/item':>14}{'ms CPU/item':>13}")
    median = {way: tuple(statistics.median(f[i] for f in figures[way]) for i in range(3)) for way in LIVES}
    for way, label in LABELS.items():
        txn, wall, cpu = median[way]
        print(f"{label:<36}{txn:>18.1f}{wall:>14.2f}{cpu:>13.2f}")
    for way in ("each", "pinged"):
        print(f"now ÷ {LABELS[way]}: CPU per item {median['kept'][2] / median[way][2]:.2f}, "
              f"wall time per item {median['kept'][1] / median[way][1]:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_life", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    args = parser.parse_args(argv)
    stop_on_sigterm()  # the throwaway PostgreSQL cluster is stopped as on Ctrl-C
    if args.backend in ("postgresql", "both"):
        from devtools.pgcluster import throwaway_cluster

        with throwaway_cluster("ledger_life") as server:
            run_backend("PostgreSQL (Debian's, a throwaway cluster)", f"postgresql+psycopg://{server}/ledger_life",
                        args.items, args.rounds)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="ledger-life-") as home:
            run_backend("SQLite (WAL)", f"sqlite:///{Path(home) / 'ledger.db'}", args.items, args.rounds)


if __name__ == "__main__":
    main()
