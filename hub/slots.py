"""Global concurrency slots for a block of a flow run: Prefect's limits, lent from block to block.

``global_slots(NAMES)`` holds one slot of each named global limit (Prefect's global
concurrency limits, declared by the services and sized in settings) for a block, as a lease
(:mod:`hub.limits`). Prefect is the one authority on how many are held across processes.

What this module adds is the hand-off inside a process. Taking a slot from Prefect and giving
it back costs two API calls and two database commits, ~350 ms on an idle server, and a
denied request sleeps for Prefect's ``Retry-After`` before it asks again (measured: 750 ms
per hand-off with four blocks waiting for a one-slot limit). For the laptop allocation, a
one-slot limit around ~0.7 s of RT work, that halved the batch's throughput. So a lease taken
from Prefect is held by a task of its own (its *lender*), which lends it to the blocks of
this process that wait for the same limits, one after another, and gives it back to Prefect
when none is waiting — or, at the end of a block, once it has been out for
:data:`LEND_SECONDS`, so that other processes get their turn.

- One lease is being asked of Prefect at a time per set of names and event loop (Prefect
  serialises a process's requests for the same names anyway); when it is granted and more
  blocks wait, the next is asked for, so a limit of two slots fills up — but never more
  leases than the limit has slots (read once per process): a request that cannot be granted
  only polls Prefect. A lease granted when nobody waits any more goes back at once.
- A request Prefect answers 5xx or not at all (its SQLite database locked under a burst, a
  restart) is asked again with back-off; a 4xx fails every waiting block at once.
- A block waits at most ``wait`` seconds (``HUB_SLOT_WAIT_SECONDS``), then gets
  :class:`SlotsUnavailable` (transient: the step is retried; nothing is lost). A request
  nobody waits for any more is cancelled (Prefect gives back a lease granted after that).
- The last block a lease serves goes on only once Prefect has the lease back, so a flow run
  that ends right after its last block leaves nothing held. A process that dies holds its
  leases until they expire (about a minute), as before.
- Blocks are lent leases of exactly the names they asked for (``["ticketing"]`` and
  ``["ticketing", "ticketing-asset-allocation"]`` are leases of their own).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from hub.errors import TransientError
from hub.limits import SLOT_LEASE_SECONDS, slot_wait_seconds
from hub.privacy import mask

__all__ = ["global_slots", "SlotsUnavailable", "LEND_SECONDS", "SLOT_RETRY_DELAYS"]

log = logging.getLogger("hub.flow")

# A lease lent for this long goes back to Prefect at the end of its block (other processes
# wait for the same slots; Prefect hands them out in no set order). The cost: one give-back
# and take, ~0.4 s, per 10 s of work.
LEND_SECONDS = 10.0
# Between attempts at slots Prefect failed to hand out (5xx, no answer): doubling, capped; the
# waiting blocks' own deadlines bound it all.
SLOT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class SlotsUnavailable(TransientError):
    default_hint = ("Prefect could not hand out the global concurrency slot (its API was busy or down); "
                    "the step is retried.")


def _worth_another_try(exc: BaseException) -> bool:
    """A slot request that failed because Prefect was busy or away (a 5xx, a transport error),
    not because of what was asked (a 4xx: a bad lease, a refused limit)."""
    import httpx

    cause = exc.__cause__
    if isinstance(cause, httpx.HTTPStatusError):
        return cause.response.status_code >= 500
    return cause is not None


@dataclass
class _Loan:
    """A lease lent to one block: the block sets ``done`` at its end and waits for
    ``returned`` — set at once when the lease goes on to the next block, after Prefect has it
    back when it is the last (a process that ends right after its last block must not leave
    the lease held until it expires)."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    returned: asyncio.Event = field(default_factory=asyncio.Event)


Turn = asyncio.Future[_Loan]  # a waiting block; its result: the loan


@dataclass
class _Limits:
    """This process's leases of one set of limits, in one event loop."""

    names: tuple[str, ...]
    lease: float
    waiting: collections.deque[Turn] = field(default_factory=collections.deque)
    asking: asyncio.Task[None] | None = None  # the lender whose lease Prefect has not granted yet
    held: int = 0  # leases granted and not yet given back
    size: int | None = None  # the smallest of the limits' slots; None: not known (yet)
    sized: bool = False
    last_error: str | None = None

    def wait_for_a_turn(self) -> Turn:
        turn: Turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        self._ask_if_needed()
        return turn

    def give_up(self, turn: Turn) -> None:
        """The block behind ``turn`` waits no more (timed out, cancelled): a lease lent to it
        in the meantime goes on to the next block, and a request nobody needs is cancelled."""
        if turn.done() and not turn.cancelled() and turn.exception() is None:
            turn.result().done.set()
        turn.cancel()
        with contextlib.suppress(ValueError):
            self.waiting.remove(turn)
        if not self._still_waiting() and self.asking is not None:
            self.asking.cancel()

    def _still_waiting(self) -> bool:
        while self.waiting and self.waiting[0].done():
            self.waiting.popleft()
        return bool(self.waiting)

    def _ask_if_needed(self) -> None:
        if self.asking is None and (self.size is None or self.held < self.size) and self._still_waiting():
            self.asking = asyncio.get_running_loop().create_task(self._lend(), name=f"lend {self.names}")

    async def _lend(self) -> None:
        """Take one lease from Prefect, lend it to waiting blocks in turn, give it back."""
        me = asyncio.current_task()
        try:
            async with contextlib.AsyncExitStack() as held:
                try:
                    await self._learn_size()
                    await self._take(held)
                except Exception as exc:  # refused (4xx): every waiting block fails the same way
                    self._refuse(exc)
                    return
                self.held += 1
                held.callback(self._given_back)
                self.asking = None
                since, loan = time.monotonic(), None
                try:
                    while time.monotonic() - since < LEND_SECONDS and self._still_waiting():
                        if loan is not None:
                            loan.returned.set()  # it goes on to the next block
                        loan = _Loan()
                        self.waiting.popleft().set_result(loan)
                        self._ask_if_needed()  # more blocks wait: the next lease is asked for meanwhile
                        await loan.done.wait()
                    await held.aclose()  # back to Prefect before the last block goes on
                finally:
                    if loan is not None:
                        loan.returned.set()
        except asyncio.CancelledError:
            pass  # nobody waits for this lease any more; Prefect gives it back if it comes
        except Exception as exc:  # giving it back failed: the lease expires by itself
            log.warning("could not give the global slot(s) %s back to Prefect (%s); the lease expires "
                        "within %g s", list(self.names), mask(str(exc))[:160], self.lease)
        finally:
            if self.asking is me:
                self.asking = None
            self._ask_if_needed()

    def _given_back(self) -> None:
        self.held -= 1

    async def _learn_size(self) -> None:
        """How many slots the limits have (the smallest), once; unknown if Prefect cannot say."""
        if self.sized:
            return
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        try:
            async with get_client() as client:
                limits = [await client.read_global_concurrency_limit_by_name(name) for name in self.names]
            self.size = min(limit.limit for limit in limits)
        except ObjectNotFound:  # an unknown limit: Prefect lets the block go without a slot
            self.size = None
        except Exception:  # Prefect busy or away: asked again by the next lease
            return
        self.sized = True

    def _refuse(self, exc: Exception) -> None:
        for turn in self.waiting:
            if not turn.done():
                turn.set_exception(exc)
        self.waiting.clear()

    async def _take(self, held: contextlib.AsyncExitStack) -> None:
        from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency

        for delay in itertools.chain(SLOT_RETRY_DELAYS, itertools.repeat(SLOT_RETRY_DELAYS[-1])):
            try:
                await held.enter_async_context(concurrency(list(self.names), occupy=1, lease_duration=self.lease))
                self.last_error = None
                return
            except ConcurrencySlotAcquisitionError as exc:
                if not _worth_another_try(exc):
                    raise
                if self.last_error is None:
                    log.warning("Prefect could not hand out the global slot(s) %s (%s); asking again",
                                list(self.names), mask(str(exc))[:160])
                self.last_error = mask(str(exc))[:160]
                await asyncio.sleep(delay)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[tuple[str, ...], float], _Limits]] = (
    weakref.WeakKeyDictionary())


def _limits(names: tuple[str, ...], lease: float) -> _Limits:
    here = _by_loop.setdefault(asyncio.get_running_loop(), {})
    return here.setdefault((names, lease), _Limits(names, lease))


@contextlib.asynccontextmanager
async def global_slots(names: str | list[str], *, lease: float = SLOT_LEASE_SECONDS,
                       wait: float | None = None) -> AsyncIterator[None]:
    """Hold one slot of each named global limit for the block, as a lease (see the module).

    Not getting them within ``wait`` seconds (``HUB_SLOT_WAIT_SECONDS``) — the slots staying
    busy, or Prefect answering 5xx or not at all — is transient: the step is retried, not a
    crash that dead-letters the item, nor a run that waits for ever. A refusal (4xx) is
    transient at once. Errors from the block itself pass through unchanged.
    """
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

    wanted = tuple(sorted({names} if isinstance(names, str) else set(names)))
    wait = slot_wait_seconds() if wait is None else wait
    limits = _limits(wanted, lease=lease)
    turn = limits.wait_for_a_turn()
    try:
        # One deadline for the whole wait, lent or granted.
        async with asyncio.timeout(wait):
            loan = await turn
    except ConcurrencySlotAcquisitionError as exc:  # refused: the lender set it on every waiting turn
        raise SlotsUnavailable(f"could not take the global slot(s) {names!r} from Prefect: "
                               f"{mask(str(exc))[:200]}") from exc
    except TimeoutError as exc:
        limits.give_up(turn)
        last = f" (Prefect's last answer: {limits.last_error})" if limits.last_error else ""
        raise SlotsUnavailable(f"waited {wait:g} s for the global slot(s) {names!r} without getting them{last}",
                               hint="Other runs hold them, or Prefect does not answer slot requests; the "
                                    "step is retried. If this repeats, look for runs holding the slots "
                                    "(hub status) and for Prefect server errors.") from exc
    except BaseException:
        limits.give_up(turn)
        raise
    try:
        yield
    finally:
        loan.done.set()
        await loan.returned.wait()
