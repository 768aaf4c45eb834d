"""Global concurrency limits shared by every flow run, and how long a slot is leased.

The services declare their limits (:class:`hub.services.Limit`); the runner upserts them at
start-up (:meth:`hub.services.Catalog.limits`); steps take slots with
``concurrency(NAMES, occupy=1, lease_duration=SLOT_LEASE_SECONDS)``. A slot is a *lease*:
the holder renews it while it lives (Prefect renews at 3/4 of the lease), and a holder that
dies (``kill -9``) loses it when the lease expires, plus at most one pass of Prefect's
repossessor service (every 15 s by default). So a crash stalls a service for about a
minute, not until a person frees the slot.
"""

from __future__ import annotations

import os

__all__ = ["SLOT_LEASE_SECONDS", "MIN_SLOT_LEASE_SECONDS", "slot_wait_seconds"]


# Prefect 3.9's server refuses a lease shorter than 60 s (concurrency_limits_v2, ge=60).
MIN_SLOT_LEASE_SECONDS = 60.0


def _slot_lease() -> float:
    value = float(os.environ.get("HUB_SLOT_LEASE_SECONDS", "60"))
    if value < MIN_SLOT_LEASE_SECONDS:
        raise ValueError(f"HUB_SLOT_LEASE_SECONDS={value:g}: Prefect accepts no lease shorter than "
                         f"{MIN_SLOT_LEASE_SECONDS:g} s")
    return value


# A live holder renews its lease however slow RT is; a dead holder's slot is back within
# about a minute (lease + one repossessor pass).
SLOT_LEASE_SECONDS: float = _slot_lease()


def slot_wait_seconds() -> float:
    """How long a step waits for its global slots before it gives up (a transient error: the
    step is retried, the item is not lost). Without a bound, a slot request Prefect never
    answers — seen under chaos: a run waiting on a slot nobody held, silent for 20 minutes —
    holds the run, its deployment's concurrency slot and every item behind it."""
    value = float(os.environ.get("HUB_SLOT_WAIT_SECONDS", "180"))
    if value <= 0:
        raise ValueError(f"HUB_SLOT_WAIT_SECONDS={value:g}: a step must wait some time for its slots")
    return value
