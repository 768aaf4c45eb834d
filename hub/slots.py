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
- Leases are taken, renewed and given back with Prefect's client and API, the calls of
  Prefect's own ``concurrency()``. A lease request Prefect answers 5xx or not at all (its
  SQLite database busy under a burst, a restart) is asked again here, 50 ms later at first;
  Prefect's client would wait 2, 4, 8, 16 and 32 s (:mod:`hub.prefect_api`). A 423 (the slots are taken) waits
  Prefect's ``Retry-After``; a 4xx fails every waiting block at once. Unlike
  ``concurrency()``, no acquired/released events are emitted for a lease.
- A block waits at most ``wait`` seconds (``HUB_SLOT_WAIT_SECONDS``), then gets
  :class:`SlotsUnavailable` (transient: the step is retried; nothing is lost). A request
  nobody waits for any more is cancelled (Prefect gives back a lease granted after that).
- The last block a lease serves goes on only once Prefect has the lease back, so a flow run
  that ends right after its last block leaves nothing held. A process that dies holds its
  leases until they expire (about a minute), as before.
- Blocks are lent leases of exactly the names they asked for (``["ticketing"]`` and
  ``["ticketing", "calendar"]`` are leases of their own).
- With ``HUB_SLOT_TRACE`` set to a file, each block appends one JSON line when it ends: the
  names, the process, and when it asked, got the slots and ended (Unix times). No item, no
  person. ``bench.backlog`` reads it to say how busy a limit was and how long each block held
  it (:mod:`bench.slot_trace`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from hub.errors import TransientError
from hub.limits import SLOT_LEASE_SECONDS, slot_wait_seconds
from hub.prefect_api import busy_pause, send_once
from hub.privacy import mask

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient

__all__ = ["global_slots", "SlotsUnavailable", "LEND_SECONDS", "SLOT_RETRY_LONGEST", "SLOT_TRACE"]

log = logging.getLogger("hub.flow")

# A lease lent for this long goes back to Prefect at the end of its block (other processes
# wait for the same slots; Prefect hands them out in no set order). The cost: one give-back
# and take, ~0.4 s, per 10 s of work.
LEND_SECONDS = 10.0
# The longest pause between attempts at slots Prefect failed to hand out (5xx, no answer); they
# start at 50 ms (hub.prefect_api.busy_pause). Under a burst of 30 onboardings 3 of 4 slot
# requests got an instant 503 from the SQLite server: with Prefect's client waiting 2, 4, 8,
# 16 and 32 s between tries, RT's two write slots stood idle ~85 % of the time while steps
# slept (measured); doubling up to 4 s still left steps waiting up to 28 s. A server that is
# down is asked about once a second per waiting lease. The waiting blocks' own deadlines
# bound it all.
SLOT_RETRY_LONGEST = 1.0
# A lease request failing this long is worth a warning (a busy SQLite server fails most
# first requests for a moment under a burst: not worth one).
WARN_AFTER_SECONDS = 10.0
# A file each block appends its hold to (one JSON line), when set: for benchmarks and diagnosis.
SLOT_TRACE = "HUB_SLOT_TRACE"


class SlotsUnavailable(TransientError):
    default_hint = ("Prefect could not hand out the global concurrency slot (its API was busy or down); "
                    "the step is retried.")


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
                    self._refuse(exc if isinstance(exc, SlotsUnavailable) else SlotsUnavailable(
                        f"could not take the global slot(s) {list(self.names)!r} from Prefect: "
                        f"{type(exc).__name__} {mask(str(exc))[:160]}"))
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
        """One lease of the limits from Prefect, held by ``held``: renewed while it is open,
        given back when it closes. Unknown limits: nothing is held (Prefect lets a block go)."""
        from prefect.client.orchestration import get_client

        client = get_client()
        await client.__aenter__()
        try:
            lease_id = await self._ask(client)
        except asyncio.CancelledError:
            raise  # the client went to :func:`_finish_asking` with the request in flight
        except BaseException as exc:
            await client.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        held.push_async_exit(client.__aexit__)
        if lease_id is None:
            return
        held.push_async_callback(_give_back, client, lease_id)
        renewing = asyncio.get_running_loop().create_task(_renew(client, lease_id, self.names, self.lease),
                                                          name=f"renew {self.names}")
        held.callback(renewing.cancel)

    async def _ask(self, client: PrefectClient) -> UUID | None:
        """Ask Prefect for one lease until it grants it: a 423 (the slots are taken) sleeps
        Prefect's ``Retry-After``; a 5xx or no answer is asked again soon (:data:`SLOT_RETRY_LONGEST`);
        a 4xx refuses it (:class:`SlotsUnavailable`). Cancelled (nobody waits any more), the
        request in flight is finished in the background and a lease it gets is given back."""
        import httpx

        failures, failing_since, warned = 0, None, False
        while True:
            request = asyncio.ensure_future(_request_lease(client, self.names, self.lease))
            try:
                response = await asyncio.shield(request)
            except asyncio.CancelledError:
                _finish_asking(request, client)
                raise
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if status == 423:
                    failures, failing_since = 0, None
                    await _sleep_or_close(float(exc.response.headers.get("Retry-After", "1")), client)
                    continue
                error = f"{status} {exc.response.reason_phrase}: {mask(exc.response.text)[:120]}"
                if status < 500:
                    raise SlotsUnavailable(f"could not take the global slot(s) {list(self.names)!r} from "
                                           f"Prefect: {error}") from exc
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__} {mask(str(exc))[:120]}"
            else:
                self.last_error = None
                if response is None:
                    log.warning("the global limit(s) %s do not exist in Prefect: the block runs without a slot",
                                list(self.names))
                return response
            self.last_error, now = error, time.monotonic()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= WARN_AFTER_SECONDS and not warned:
                log.warning("Prefect has failed to hand out the global slot(s) %s for %.0f s (%s); asking again",
                            list(self.names), now - failing_since, error)
                warned = True
            await _sleep_or_close(busy_pause(failures, longest=SLOT_RETRY_LONGEST), client)
            failures += 1


async def _request_lease(client: PrefectClient, names: tuple[str, ...], lease: float) -> UUID | None:
    """One request for a lease (:func:`hub.prefect_api.send_once`): its id, or None when none
    of the limits exists."""
    from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse

    response = await send_once(client, "POST", "/v2/concurrency_limits/increment-with-lease", json={
        "names": list(names), "slots": 1, "mode": "concurrency", "lease_duration": lease})
    granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
    return granted.lease_id if granted.limits else None


async def _sleep_or_close(seconds: float, client: PrefectClient) -> None:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _finish_asking(None, client)
        raise


_finishing: set[asyncio.Task[None]] = set()  # kept alive until they end


def _finish_asking(request: asyncio.Future[UUID | None] | None, client: PrefectClient) -> None:
    """The lender was cancelled: let the request in flight end, give back a lease it got
    (nobody will use it; held, it would block the limit until it expired), close the client."""

    async def finish() -> None:
        try:
            if request is not None:
                with contextlib.suppress(Exception):
                    lease_id = await request
                    if lease_id is not None:
                        await _give_back(client, lease_id)
        finally:
            await client.__aexit__(None, None, None)

    task = asyncio.get_running_loop().create_task(finish(), name="finish a slot request nobody waits for")
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)


async def _give_back(client: PrefectClient, lease_id: UUID) -> None:
    """Give a lease back (Prefect's client, with its retries); one Prefect no longer knows is back."""
    import httpx

    try:
        await client.release_concurrency_slots_with_lease(lease_id)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise


async def _renew(client: PrefectClient, lease_id: UUID, names: tuple[str, ...], lease: float) -> None:
    """Renew a held lease at 3/4 of its duration while it is held (cancelled when it is given
    back), as Prefect's ``concurrency()`` does. A failed renewal is tried again at the next
    turn; a lease Prefect no longer knows is lost (the holder goes on; the slot may be given
    to another meanwhile)."""
    import httpx

    while True:
        await asyncio.sleep(lease * 0.75)
        try:
            await client.renew_concurrency_lease(lease_id, lease)
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            gone = isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (404, 410)
            log.warning("could not renew the lease of the global slot(s) %s (%s); %s", list(names),
                        mask(str(exc))[:160], "it is lost" if gone else "it may expire")
            if gone:
                return


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
    wanted = tuple(sorted({names} if isinstance(names, str) else set(names)))
    asked = time.time()
    wait = slot_wait_seconds() if wait is None else wait
    limits = _limits(wanted, lease=lease)
    turn = limits.wait_for_a_turn()
    try:
        # One deadline for the whole wait, lent or granted.
        async with asyncio.timeout(wait):
            loan = await turn
    except SlotsUnavailable:  # refused: the lender set it on every waiting turn
        raise
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
    got = time.time()
    try:
        yield
    finally:
        _trace(wanted, asked, got)
        loan.done.set()
        await loan.returned.wait()


def _trace(names: tuple[str, ...], asked: float, got: float) -> None:
    """Append the block's hold to ``HUB_SLOT_TRACE``, if set (one line, one write: blocks of
    several processes append to one file)."""
    path = os.environ.get(SLOT_TRACE)
    if not path:
        return
    line = json.dumps({"names": list(names), "pid": os.getpid(), "asked": asked, "got": got, "end": time.time()})
    try:
        with open(path, "a", encoding="utf-8") as trace:
            trace.write(line + "\n")
    except OSError as exc:  # a diagnosis must never fail the step it watches
        log.warning("could not append to the slot trace %s (%s)", path, exc)
