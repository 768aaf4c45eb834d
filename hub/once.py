"""Exactly-once creates over a network that loses answers: find, create once, confirm.

A create (``POST``) whose answer is lost — a reset, a 502 or a cut-short body after the
peer committed the write — may or may not have landed. Sending it again blindly makes a
second record. So a create is sent through a client that never retries by itself
(:attr:`hub.http.RetryPolicy.max_attempts` = 1, see :func:`no_retry`), and this module
decides what happens between attempts::

    find()        → there already: return it, nothing is written
    create()      → sent once; on success return it (optionally confirmed by find())
    TransientError→ find() again: landed after all → return that record;
                    not there → wait (back-off, Retry-After) and create again, bounded
                    by the policy's attempts and total time

``find`` must look the record up by its external key (the source system's id), never by
anything the peer assigns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hub.errors import ConfigError, TransientError
from hub.http import RetryPolicy

__all__ = ["ensure_by_key", "create_once", "no_retry"]

log = logging.getLogger("hub.once")

T = TypeVar("T")


def no_retry(policy: RetryPolicy) -> RetryPolicy:
    """The policy for a client that sends creates: the same timeouts, one attempt."""
    return dataclasses.replace(policy, max_attempts=1)


async def create_once(create: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]], *,
                      policy: RetryPolicy, system: str, what: str) -> T:
    """``create()`` once per attempt; after a transient failure, what ``find()`` sees if it landed."""
    started = time.monotonic()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await create()
        except TransientError as exc:
            landed = await find()
            if landed is not None:
                log.info("%s: %s landed although its answer was lost (%s)", system, what, exc)
                return landed
            wait = max(policy.backoff(attempt), float(getattr(exc, "retry_after", None) or 0))
            if attempt == policy.max_attempts or time.monotonic() - started + wait > policy.max_total_seconds:
                raise
            log.warning("%s: %s failed (%s) and did not land; trying again in %.1fs", system, what, exc, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


async def ensure_by_key(find: Callable[[], Awaitable[T | None]], create: Callable[[], Awaitable[T]], *,
                        policy: RetryPolicy, system: str, what: str, confirm: bool = False) -> T:
    """The record ``find()`` returns, else the one ``create()`` makes — exactly one, even when
    an answer is lost. With ``confirm``, a fresh create must be found by its key afterwards:
    a peer that drops or cannot search the key would get a second record on every replay."""
    found = await find()
    if found is not None:
        return found
    created = await create_once(create, find, policy=policy, system=system, what=what)
    if confirm and await find() is None:
        raise ConfigError(f"{system} accepted {what} but a lookup by its external key does not find it; "
                          "every replay would create another one", system=system,
                          hint=f"Check that {system} stores and can search the hub's external key field, "
                               "then remove the extra record before replaying.")
    return created
