"""Named leases in the ledger: one holder at a time, across processes, workers and hosts.

For what one run must do alone though several runs of different services may want it at
once — route one person's change, create one person's personnel file (personalmappe), claim
one laptop (:func:`asset_claims`). A holder that dies lets its lease run out (``ttl``); a
waiter that waits too long gets a :class:`~hub.errors.TransientError`, so its item is retried
like any other transient failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from time import monotonic

from hub.errors import TransientError
from hub.ledger import Ledger

__all__ = ["held", "taken", "asset_claims", "LEASE_TTL", "LEASE_WAIT"]

LEASE_TTL = timedelta(minutes=3)  # the work takes seconds; a dead holder's lease ends by itself
LEASE_WAIT = timedelta(minutes=4)  # then the waiter's item is a transient failure, retried later


@asynccontextmanager
async def held(ledger: Ledger, name: str, *, what: str, hint: str, ttl: timedelta = LEASE_TTL,
               wait: timedelta = LEASE_WAIT, poll: float = 0.25) -> AsyncIterator[None]:
    """Hold lease ``name`` for the block; ``what`` names the work for the error a waiter
    gets after ``wait`` (``"another change of employee 10005 was still being routed"``)."""
    holder = str(uuid.uuid4())
    deadline = monotonic() + wait.total_seconds()
    while not await asyncio.to_thread(ledger.take_lease, name, holder, ttl=ttl):
        if monotonic() > deadline:
            raise TransientError(f"{what} after {wait.total_seconds():.0f} s", system="hub", hint=hint)
        await asyncio.sleep(poll)
    try:
        yield
    finally:
        await asyncio.to_thread(ledger.release_lease, name, holder)


@asynccontextmanager
async def taken(ledger: Ledger, name: str, *, ttl: timedelta = LEASE_TTL) -> AsyncIterator[bool]:
    """Lease ``name`` for the block if nobody holds it, without waiting: True inside (given
    back after), False when another holder has it."""
    holder = str(uuid.uuid4())
    took = await asyncio.to_thread(ledger.take_lease, name, holder, ttl=ttl)
    try:
        yield took
    finally:
        if took:
            await asyncio.to_thread(ledger.release_lease, name, holder)


def asset_claims(ledger: Ledger, catalog: str) -> Callable[[str], AbstractAsyncContextManager[bool]]:
    """The guard an allocation claims each asset of ``catalog`` inside
    (:data:`hub.ports.ticketing.AssetGuard`): a ledger lease per asset, so allocations in any
    process run side by side and never claim one asset at once. It replaced a one-slot global
    limit around every allocation, whose hand-offs between processes left the slot free
    ~0.5 s at a time while hires queued for it."""
    return lambda asset_id: taken(ledger, f"asset:{catalog}:{asset_id}")
