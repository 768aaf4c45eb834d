"""What every service flow stands on: its work item in the ledger, its steps, its errors.

A flow opens its work item with :func:`work_item` and runs its steps inside
``run.step(name)``. The ledger then holds, per item and per step, the state, the attempts,
the timestamps and the last error; the Prefect UI shows the same steps as task runs (in a
run that works many items side by side, :func:`steps_without_task_runs`, the ledger alone).

- An item already ``done`` is not redone: the flow returns at once (exactly once).
- Two runs for the same item never work at the same time: the second waits for the
  first's lease (the ledger's ``claim``), then sees the result. A live run renews its
  lease every third of ``HUB_ITEM_LEASE_SECONDS`` (default 60 s); a run that dies stops
  renewing, and its item is *stuck* once the lease expires (see :mod:`hub.recovery`).
- A :class:`~hub.errors.PermanentError` marks the item ``failed`` — a dead letter with a
  reason a person can act on; the Prefect run fails with the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.exceptions import Pause, TerminationSignal
from prefect.tasks import Task

from hub.errors import HubError, TransientError
from hub.ledger import ItemState, Ledger, Op, StepState, WorkItem
from hub.limits import SLOT_LEASE_SECONDS
from hub.privacy import mask
from hub.progress import Progress
from hub.recovery import item_lease
from hub.settings import Settings, get_settings
from hub.slots import SlotsUnavailable, global_slots
from hub.wiring import Connectors, connect, get_ledger, step_ports

__all__ = ["Run", "Attempt", "Span", "work_item", "steps_without_task_runs", "each_side_by_side", "burst_ports", "batch_item", "run_batch", "run_pages", "due_pages", "Progress", "Tally", "batch_parallel", "burst_parallel", "verdicts", "turn_down", "transient_only", "step_task", "global_slots", "ItemBusy",
           "SlotsUnavailable"]

log = logging.getLogger("hub.flow")


class ItemBusy(TransientError):
    default_hint = "Another run is working on this item; it will be picked up when that one ends."


def transient_only(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Prefect ``retry_condition_fn``: retry a step only when its error is transient.

    Prefect calls this inside its event loop for async tasks, where ``state.result()``
    returns a coroutine instead of raising, so the error is read from the state itself
    (``get_state_exception`` forced synchronous), which works for sync and async tasks alike.
    """
    from prefect.states import get_state_exception

    if not (state.is_failed() or state.is_crashed()):
        return False
    try:
        error = get_state_exception(state, _sync=True)  # type: ignore[call-arg]
    except Exception:  # an unreadable state is no reason to retry blindly
        log.warning("could not read the error of a failed task state; not retrying", exc_info=True)
        return False
    return isinstance(error, TransientError)


P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


# A step's retries: three more tries, 1, 5 and 20 s apart, when its error is transient.
STEP_RETRY_DELAYS = (1.0, 5.0, 20.0)

# Set by steps_without_task_runs: steps called in this context run as plain calls.
_PLAIN_STEPS: contextvars.ContextVar[bool] = contextvars.ContextVar("hub_plain_steps", default=False)


# Set by each_side_by_side: the ports a burst's members share, with the service they are for.
_BURST_PORTS: contextvars.ContextVar[tuple[str, Connectors] | None] = contextvars.ContextVar(
    "hub_burst_ports", default=None)


def burst_ports(service: str) -> Connectors | None:
    """The ports a burst's members of ``service`` share (:func:`each_side_by_side`), or None
    outside one: a member's own lookups use them instead of building a client of their own."""
    shared = _BURST_PORTS.get()
    return shared[1] if shared is not None and shared[0] == service else None


@contextlib.contextmanager
def steps_without_task_runs() -> Iterator[None]:
    """Within this block, a step (:func:`step_task`) is a plain call: no Prefect task run, the
    same retries (:data:`STEP_RETRY_DELAYS`, transient errors only), and the ledger records it as
    ever (``run.step``). For a run that works many items side by side (the hires of a burst):
    each step's task run cost Prefect three events, a state row and a log line, about 30 events
    per hire, and Prefect's services spent more CPU on them than the peers did on the work."""
    token = _PLAIN_STEPS.set(True)
    try:
        yield
    finally:
        _PLAIN_STEPS.reset(token)


class StepTask(Task[P, R]):
    """A Prefect task that runs as a plain call inside :func:`steps_without_task_runs`."""

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None,  # type: ignore[override]
                 **kwargs: Any) -> Any:
        if _PLAIN_STEPS.get() and not return_state and wait_for is None:
            return _plainly(self.fn, args, kwargs)
        return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)  # type: ignore[arg-type]


async def tried_again(call: Callable[[], Awaitable[T]], delays: Iterable[float], *,
                      when: Callable[[Exception], bool], what: str) -> T:
    """``call()``, again after each of ``delays`` while it fails with an error ``when`` accepts;
    the last error is raised. Each retry is logged with ``what`` (``"step archive"``)."""
    for delay in (*delays, None):
        try:
            return await call()
        except Exception as exc:
            if delay is None or not when(exc):
                raise
            log.warning("%s: %s; trying again in %g s", what, mask(str(exc))[:200], delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _transient(exc: Exception) -> bool:
    return isinstance(exc, TransientError)


async def _plainly(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)``, tried again like the step's task run: after each of
    :data:`STEP_RETRY_DELAYS` while it fails on a transient error."""
    return await tried_again(lambda: fn(*args, **kwargs), STEP_RETRY_DELAYS, when=_transient,
                             what=f"step {getattr(fn, '__name__', fn)}")


def step_task(name: str, *, ports: Iterable[str] = (), persist_result: bool | None = None
              ) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Task[P, Coroutine[Any, Any, T]]]:
    """A business step as a Prefect task: retried three times (1, 5 and 20 s apart) when its
    error is transient (:func:`transient_only`), never cached: it finds its own earlier writes.
    Inside :func:`steps_without_task_runs` it is a plain call, retried alike.

    ``ports`` are the ports the step uses (``"hr"``, ``"archive"``...): within the step,
    ``run.ports`` hands out those and refuses any other (:func:`hub.wiring.step_ports`), so
    the declaration is what the step touches, and a test of the step shows it.
    """
    used = tuple(ports)

    def decorate(fn: Callable[P, Coroutine[Any, Any, T]]) -> Task[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def body(*args: P.args, **kwargs: P.kwargs) -> T:
            with step_ports(name, used):
                return await fn(*args, **kwargs)

        return StepTask(body, name=name, retries=len(STEP_RETRY_DELAYS), retry_delay_seconds=list(STEP_RETRY_DELAYS),
                        retry_condition_fn=transient_only, cache_policy=NO_CACHE, persist_result=persist_result,
                        log_prints=False)

    return decorate


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


@dataclass(frozen=True)
class Attempt:
    """A step as it is entered: ``async with run.step("book_room") as attempt``.

    ``retried``: an earlier attempt of this step was started, in an earlier run or earlier in
    this one, so its effects may exist: look for them before making them again. On a first
    attempt there is nothing to look for, and a backlog's requests skip the look (a room
    request's six calendar reads, one per room, were over half its calls).

    ``recorded()``: wait until this attempt's start is in the ledger. Call it before the
    step's first effect whose absence a later attempt would infer from ``retried`` being
    False: a run that dies after the effect then leaves the start behind, and the next
    attempt looks."""

    retried: bool
    recorded: Callable[[], Awaitable[None]]


class Run:
    """One flow run's handle on its work item.

    A plain class on purpose: Prefect walks dataclass task arguments looking for futures.
    """

    # ``run.slots(NAMES)``: a global slot is a lease, back within about a minute if this
    # process dies (see hub.limits).
    slot_lease: float = SLOT_LEASE_SECONDS

    def __init__(self, *, ledger: Ledger, item: WorkItem, settings: Settings, ports: Connectors) -> None:
        self.ledger = ledger
        self.item = item
        self.settings = settings
        self.ports = ports
        self.already_done = False
        self.waiting_reason: str | None = None
        self.notes: list[str] = []
        self.outcome: tuple[str, str | None] | None = None  # (state, error) as recorded at its end
        # The item's references as loaded with it, kept up to date by remember(): the run holds
        # the item's lease, so nothing else records one meanwhile (None: not loaded, ask the ledger).
        self._refs = Ledger.loaded_refs(item)
        # Writes that need not be made at once: a step's end, a note on the item. They are made
        # with the run's next write that must be (a step's start precedes the step's effects,
        # a reference records one, the item's end), in its transaction: a room request's life
        # is 7 ledger transactions instead of 12. A run that dies first loses them; what they
        # say is redone: its step is shown running, and the item is stuck, then re-driven.
        self._later: list[Op] = []
        # The last write started and not waited for (a step's start, :meth:`_soon`).
        self._writing: asyncio.Task[None] | None = None
        # The steps started before, in earlier runs (as loaded with the item; None: not loaded,
        # every step counts as retried) and in this run (:class:`Attempt`).
        self._tried = Ledger.loaded_step_names(item)

    def _now(self, op: Op | None = None) -> Any:
        """Make the kept writes, and ``op``, in one transaction; ``op``'s result."""
        ops = [*self._later, *([op] if op else [])]
        result = self.ledger.apply(ops) if ops else None
        del self._later[:len(ops) - (1 if op else 0)]
        return result

    async def _at_once(self, op: Op) -> Any:
        """:meth:`_now`, off the event loop, after the write started before (:meth:`_settled`)."""
        await self._settled()
        return await asyncio.to_thread(self._now, op)

    def _soon(self, op: Op) -> None:
        """Make the kept writes and ``op`` in one transaction, started now and not waited for:
        the run goes on meanwhile. Writes stay in order: the next one waits for this one, and
        every write the run waits for (a reference, the item's end), or a read of the ledger,
        waits for it first (:meth:`_settled`). A run that dies before it commits loses it, as
        it loses a kept write."""
        ops, previous = [*self._later, op], self._writing
        self._later.clear()

        async def write() -> None:
            if previous is not None:
                await previous  # its failure is this one's: the writes after it are not made
            await asyncio.to_thread(self.ledger.apply, ops)

        self._writing = asyncio.get_running_loop().create_task(write(), name=f"ledger {self.item.source_key}")
        self._writing.add_done_callback(_seen)

    async def _settled(self, *, raising: bool = True) -> None:
        """Wait for the writes started and not waited for. One that failed raises here, once,
        or, not ``raising`` (the item's end is recorded all the same), is logged."""
        writing, self._writing = self._writing, None
        if writing is None:
            return
        try:
            await writing
        except Exception as exc:
            if raising:
                raise
            log.warning("%s %s: a ledger write made in the background failed (%s); the item's end is "
                        "recorded without it", self.item.service, self.item.source_key, _describe(exc)[:200])

    @property
    def flow_run_id(self) -> str | None:
        """The Prefect flow run this is (None outside one)."""
        return _flow_run_id()

    def slots(self, names: str | list[str]) -> contextlib.AbstractAsyncContextManager[None]:
        """The global limits ``names`` for a block of this run (:func:`global_slots`)."""
        return global_slots(names, lease=self.slot_lease)

    # Set by run_batch: the batch's turnstile and this item's place in the batch.
    _turn: tuple[_Turnstile, int] | None = None

    @contextlib.asynccontextmanager
    async def in_order(self, contested: Hashable | None = None) -> AsyncIterator[None]:
        """The part of an item that must happen in the batch's order — first come, first
        served, where items compete for the same thing (the last free room, the last laptop
        in stock). Items of a batch run side by side (:func:`run_batch`), but their
        ``in_order`` blocks run one at a time, in the order the batch was given.

        ``contested`` names what the block competes for (a laptop model; a :class:`Span` of
        time, which competes with the spans it overlaps): the block then waits only for
        earlier items that compete for the same thing, or have not yet said what they compete
        for. ``None`` competes with everything. Outside a batch this is a no-op."""
        if self._turn is None:
            yield
            return
        turnstile, index = self._turn
        await turnstile.wait_for_turn(index, contested)
        try:
            yield
        finally:
            await turnstile.passed(index)

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[Attempt]:
        """Record one step: running (at once) → done, or failed with its reason (both with the
        run's next write that is made at once, at the latest the item's end). Gives the
        :class:`Attempt`: whether the step was tried before, and a wait for its start.

        The start is written as the step begins but not waited for (:meth:`_soon`): the step's
        first calls go out while the ledger commits it, and the step's first write the run
        waits for (a reference) comes after it. A room request waited for three of these, 5-6 ms
        each on a busy worker."""
        retried = self._tried is None or name in self._tried
        if self._tried is not None:
            self._tried.add(name)
        self._soon(self.ledger.op_start_step(self.item.id, name))
        try:
            yield Attempt(retried=retried, recorded=self._settled)
        except BaseException as exc:
            self._later.append(self.ledger.op_end_step(self.item.id, name, StepState.FAILED, error=_describe(exc)))
            raise
        self._later.append(self.ledger.op_end_step(self.item.id, name, StepState.DONE))

    def note(self, **data: Any) -> None:
        """Keep ``data`` on the item (:meth:`Ledger.update_data`), written with the run's next
        write that is made at once. For what the run can find out again if it dies first."""
        self._later.append(self.ledger.op_update_data(self.item.id, **data))

    async def step_done(self, name: str) -> bool:
        """Whether step ``name`` of this item is done (the kept writes made first), read off
        the event loop."""
        def read() -> bool:
            self._now()
            step = self.ledger.step(self.item.id, name)
            return step is not None and step.state == StepState.DONE
        await self._settled()
        return await asyncio.to_thread(read)

    def ref(self, name: str) -> str | None:
        if self._refs is not None:
            return self._refs.get(name)
        found = self.ledger.get_ref(self.item.id, name)
        return found.ref if found else None

    async def remember(self, name: str, *, system: str, kind: str, ref: str, url: str | None = None,
                       key: str | None = None) -> None:
        """Record a written record (at once, off the event loop: the other items of a batch or
        burst go on meanwhile); ``key`` is the external key it can be found by again."""
        await self._at_once(self.ledger.op_add_ref(self.item.id, name, system=system, kind=kind, ref=ref, url=url,
                                         external_key=key))
        if self._refs is not None:
            self._refs[name] = ref

    async def wait_for(self, reason: str, **data: object) -> None:
        """End this run with the item ``waiting`` (not failed) for something outside the hub;
        ``data`` (e.g. ``stage=...``) is kept on the item for whoever checks it next."""
        self.waiting_reason = reason
        if data:  # at once: whoever checks next (a resumed run too) may read it before the item's end
            await self._at_once(self.ledger.op_update_data(self.item.id, **data))

    async def manual_step(self, note: str) -> None:
        """A person has to do something the service could not (counts against automation)."""
        await asyncio.to_thread(self.ledger.count_manual_step, self.item.id)
        self.notes.append(note)


def _seen(task: asyncio.Task[None]) -> None:
    """A background write's failure is raised by the run that waits for it; one the run never
    waits for (the run was cancelled) is not "never retrieved"."""
    if not task.cancelled():
        task.exception()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HubError):
        return str(exc)
    return mask(f"unexpected {exc.__class__.__name__}: {exc}")


async def _claim(ledger: Ledger, item: WorkItem, owner: str, wait: float, lease: timedelta) -> WorkItem:
    deadline = asyncio.get_running_loop().time() + wait
    while not await asyncio.to_thread(ledger.claim, item.id, owner, lease):
        if asyncio.get_running_loop().time() > deadline:
            raise ItemBusy(f"work item {item.service}/{item.source_key} is held by another run")
        await asyncio.sleep(0.5)
    return await asyncio.to_thread(ledger.item, item.id)


class _Hold:
    """A run's lease on its item, renewed every third of the lease while the run works. If the
    process dies, renewal stops and the item is stuck once the lease expires — then
    ``redrive-stuck`` starts it again. The run's end gives the lease up with its outcome (one
    transaction: :meth:`Ledger.finish_item` ``release=``), or :func:`_holding` does."""

    def __init__(self, ledger: Ledger, item: WorkItem, owner: str, lease: timedelta) -> None:
        self.ledger, self.item, self.owner, self.lease = ledger, item, owner, lease
        self.released = False
        self._renewer = asyncio.create_task(self._renew(), name=f"lease {item.service}/{item.source_key}")

    async def _renew(self) -> None:
        item = self.item
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                kept = await asyncio.to_thread(self.ledger.renew, item.id, self.owner, self.lease)
            except Exception as exc:  # the ledger is briefly unavailable: try again next time
                log.warning("could not renew the lease on %s %s: %s", item.service, item.source_key,
                            mask(str(exc))[:200])
                continue
            if not kept:
                log.error("%s %s: this run lost its lease (it was not renewed in time) and another run "
                          "may have taken the item over", item.service, item.source_key)
                return

    async def stop_renewing(self) -> None:
        self._renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewer


@contextlib.asynccontextmanager
async def _holding(ledger: Ledger, item: WorkItem, owner: str, lease: timedelta) -> AsyncIterator[_Hold]:
    """Hold ``owner``'s lease on the item while the body runs (:class:`_Hold`); give it up at
    the end unless the run's end did."""
    hold = _Hold(ledger, item, owner, lease)
    try:
        yield hold
    finally:
        await hold.stop_renewing()
        if not hold.released:
            await asyncio.to_thread(ledger.release, item.id, owner)


async def _declared_dead() -> bool:
    """This flow run is already Crashed or Cancelled in Prefect (False outside a run, or when
    Prefect cannot say)."""
    run_id = _flow_run_id()
    if run_id is None:
        return False
    from prefect.client.orchestration import get_client

    try:
        async with get_client() as client:
            state = (await client.read_flow_run(uuid.UUID(run_id))).state
    except Exception:  # Prefect unreachable: record the crash as before
        return False
    return state is not None and (state.is_crashed() or state.is_cancelled())


def _told_to_stop(exc: BaseException) -> bool:
    """The error is how this process being told to stop (SIGTERM: a supervisor cleaning up
    after a runner or worker died, a shutdown) surfaced. Prefect's task engine can turn its
    TerminationSignal into another error while recording the crash: a signal that lands while
    a task run starts gives ``ValueError('Task run is not set')`` (seen in the small chaos run)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TerminationSignal):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@contextlib.asynccontextmanager
async def _lifecycle(run: Run, hold: _Hold, *, suppress: bool, started: bool = False) -> AsyncIterator[Run]:
    """Start the item (unless ``started``: :meth:`Ledger.claim_and_start` did), run the body,
    record how it ended (done, waiting or failed) and give up ``hold``'s lease with it."""
    ledger, item = run.ledger, run.item
    if item.state == ItemState.DONE:
        run.already_done = True
        log.info("%s %s is already done; nothing to do", item.service, item.source_key)
        yield run
        return
    if not started:
        await asyncio.to_thread(ledger.start_item, item.id, _flow_run_id(),
                                count_attempt=item.state != ItemState.WAITING)

    async def finish(state: str, error: str | None = None, error_kind: str | None = None) -> None:
        await hold.stop_renewing()  # no renewal after the lease is given up
        await run._settled(raising=False)  # failing already: a failed write of its own is not the news
        run.outcome = await run._at_once(ledger.op_finish_item(item.id, state, error=error, error_kind=error_kind,
                                                               release=hold.owner))
        hold.released = True

    try:
        yield run
        await run._settled()  # a write of the run that failed in the background fails the item
    except Pause:
        # Suspended (e.g. waiting for a person's input): the process exits, the item waits.
        await finish(ItemState.WAITING, run.waiting_reason or "suspended", "waiting")
        raise
    except HubError as exc:
        await finish(ItemState.FAILED, str(exc), exc.kind)
        log.error("%s %s failed: %s", item.service, item.source_key, exc)
        if not suppress:
            raise
    except Exception as exc:
        if _told_to_stop(exc) or await _declared_dead():
            # This process was told to stop, or Prefect ended this run (Crashed: its heartbeat
            # or start came too late on a busy host) while its process went on and then refused
            # it (e.g. "cannot be suspended"). Not a dead letter: the item is left running
            # without a lease, and redrive-stuck starts it again like any item whose run died.
            log.warning("%s %s: this flow run was stopped, or ended by Prefect, while it still ran (%s); the "
                        "item is left to redrive-stuck", item.service, item.source_key, _describe(exc)[:200])
            if not suppress:
                raise
            return
        await finish(ItemState.FAILED, _describe(exc), "crash")
        log.exception("%s %s crashed", item.service, item.source_key)
        if not suppress:
            raise
    else:
        if run.waiting_reason:
            await finish(ItemState.WAITING, run.waiting_reason, "waiting")
        else:
            await finish(ItemState.DONE)


@contextlib.asynccontextmanager
async def work_item(service: str, source_key: str, *, title: str,
                    requested_at: datetime | None = None,
                    wait_for_lease: float = 120.0) -> AsyncIterator[Run]:
    """One flow run, one work item: claim it, connect the ports, record the outcome."""
    settings = get_settings()
    ledger = get_ledger(settings)
    item = await asyncio.to_thread(ledger.ensure_item, service, source_key, title=title,
                                   requested_at=requested_at)
    owner = _flow_run_id() or f"local-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    lease = item_lease()
    item = await _claim(ledger, item, owner, wait_for_lease, lease)
    async with _holding(ledger, item, owner, lease) as hold, contextlib.AsyncExitStack() as own:
        ports = burst_ports(service)
        if ports is None:  # a run of its own (not a burst's member): its own clients, closed with it
            ports = await own.enter_async_context(connect(settings, service=service))
        async with _lifecycle(Run(ledger=ledger, item=item, settings=settings, ports=ports), hold,
                              suppress=False) as run:
            yield run


@contextlib.asynccontextmanager
async def batch_item(item: WorkItem, ports: Connectors, *, ledger: Ledger | None = None,
                     settings: Settings | None = None, due: Callable[[WorkItem], bool] | None = None
                     ) -> AsyncIterator[Run | None]:
    """One item of a batch: like :func:`work_item`, but a failure is recorded and the batch
    goes on, and an item another run holds is skipped (``None``), as is one that ``due`` says
    is no longer the batch's, looked at as it is when its turn comes."""
    settings = settings or get_settings()
    ledger = ledger or get_ledger(settings)
    owner = f"{_flow_run_id() or 'local'}-{uuid.uuid4().hex[:6]}"
    lease = item_lease()
    fresh = await asyncio.to_thread(ledger.claim_and_start, item.id, owner, lease, _flow_run_id(), due=due)
    if fresh is None:
        yield None
        return
    async with (_holding(ledger, fresh, owner, lease) as hold,
                _lifecycle(Run(ledger=ledger, item=fresh, settings=settings, ports=ports), hold,
                           suppress=True, started=True) as run):
        yield run


@dataclass(frozen=True)
class Span:
    """What a :meth:`Run.in_order` block competes for when it is a stretch of time (a room
    request's hours): two spans collide only if they overlap, so requests for different hours
    of one day do not wait for each other; a span and anything else do not collide."""

    start: datetime
    end: datetime

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def _collide(theirs: object, mine: object) -> bool:
    if isinstance(theirs, Span) and isinstance(mine, Span):
        return theirs.overlaps(mine)
    return theirs == mine


class _Turnstile:
    """Lets the items of a batch through their :meth:`Run.in_order` blocks in the batch's
    order: item ``i`` passes once every earlier item has passed its block or has ended, or has
    said it competes for something else."""

    _ANY = object()  # competes with everything

    def __init__(self) -> None:
        self._next = 0  # every item before this one has passed
        self._passed: set[int] = set()
        self._contested: dict[int, object] = {}  # index → what its block competes for
        self._changed = asyncio.Condition()

    def _clear(self, index: int, contested: object) -> bool:
        for earlier in range(self._next, index):
            if earlier in self._passed:
                continue
            theirs = self._contested.get(earlier)
            if theirs is None or theirs is self._ANY or contested is self._ANY or _collide(theirs, contested):
                return False  # it may take what this item wants: it goes first
        return True

    async def wait_for_turn(self, index: int, contested: Hashable | None = None) -> None:
        mine = self._ANY if contested is None else contested
        async with self._changed:
            self._contested[index] = mine
            self._changed.notify_all()  # later items waiting on this one may now go
            await self._changed.wait_for(lambda: self._clear(index, mine))

    async def passed(self, index: int) -> None:
        async with self._changed:
            if index >= self._next:  # an item passes twice (its block, then its end): count it once
                self._passed.add(index)
            while self._next in self._passed:
                self._passed.discard(self._next)
                self._contested.pop(self._next, None)
                self._next += 1
            self._changed.notify_all()


def batch_parallel() -> int:
    """How many items of one batch run side by side (``HUB_BATCH_PARALLEL``, default 4).

    Under faults an item spends most of its time waiting — for a timeout, a ``Retry-After``,
    a backoff — so items in a row left a batch of a few hundred orders hours behind. Global
    limits (``run.slots``) still bound what reaches each system."""
    return _at_least_one("HUB_BATCH_PARALLEL", 4, "item")


def burst_parallel() -> int:
    """How many members of one burst run side by side (``HUB_BURST_PARALLEL``, default 12).

    More than a batch's: the members would otherwise each have a run of their own, up to the
    deployment's limit of runs at once, and a burst's run was found to hold back what those
    runs together did. A hire spends most of its time in the archive, the HR
    read and the mail, none of which bounds its callers, and waits for the ticketing system's
    two write slots in the rest; with four hires side by side, the 29 hires of a burst in one
    run kept those slots busy about half the time (the standard mixed backlog on the
    production shape: 0.51 of the bare client, which works 24 at once). The global limits
    (``run.slots``) still bound what reaches each system."""
    return _at_least_one("HUB_BURST_PARALLEL", 12, "member")


def _at_least_one(variable: str, default: int, what: str) -> int:
    value = int(os.environ.get(variable, str(default)))
    if value < 1:
        raise ValueError(f"{variable}={value}: at least one {what} must run")
    return value


V = TypeVar("V")


async def verdicts(items: Iterable[WorkItem], judge: Callable[[WorkItem], Awaitable[V | None]], *,
                   parallel: int = 8) -> dict[int, V]:
    """``judge`` every item side by side (``parallel`` at a time), claiming nothing and
    recording nothing: the items it has a verdict on (not None), by item id.

    A batch reads its new items this way before any of them takes a global slot: an invalid
    request is turned down at once (:func:`turn_down`) instead of queueing for a worker behind
    valid ones that wait for the ticketing system. Under hostile load most new items were
    invalid, and a laptop batch of 200 took most of an hour."""
    gate, found = asyncio.Semaphore(parallel), dict[int, V]()

    async def one(item: WorkItem) -> None:
        async with gate:
            verdict = await judge(item)
        if verdict is not None:
            found[item.id] = verdict

    await asyncio.gather(*(one(item) for item in items))
    return found


async def each_side_by_side(burst: list[dict[str, str]], handle: Callable[[dict[str, str]], Awaitable[object]], *,
                            key: str, service: str, what: str, done: str) -> State:
    """``handle`` every member of a burst (each its own work item, named in the log by its
    ``key``), :func:`burst_parallel` at a time: one that fails is a dead letter of its own, with
    its reason, and the others go on. The run's state says how many were ``done`` (``"50 hires
    onboarded"``), or how many failed and what to do. The members' steps are plain calls
    (:func:`steps_without_task_runs`), recorded in the ledger, not task runs: the router's one
    step per change was 200 task runs for a burst of 200 hires.

    The members' work items of ``service`` share one set of ports (:func:`burst_ports`), as a
    batch's items do: one client per system for the run, its connections and what it learnt
    (the archive's relations, found by following its links) reused, instead of a new client per
    member for every system it touches."""
    from prefect.logging import get_run_logger
    from prefect.states import Completed, Failed

    bound, failed = asyncio.Semaphore(burst_parallel()), list[str]()

    async def one(member: dict[str, str]) -> None:
        async with bound:
            try:
                with steps_without_task_runs():
                    await handle(member)
            except Exception as exc:  # recorded on its item (a dead letter with the reason)
                failed.append(member.get(key, "?"))
                get_run_logger().warning("%s %s: not %s: %s", service, member.get(key, "?"), done,
                                         mask(str(exc))[:300])

    async with connect(get_settings(), service=service) as ports:
        shared = _BURST_PORTS.set((service, ports))
        try:
            async with asyncio.TaskGroup() as group:  # each task copies the context, the ports with it
                for member in burst:
                    group.create_task(one(member))
        finally:
            _BURST_PORTS.reset(shared)
    if failed:
        return Failed(message=f"{len(failed)} of {len(burst)} {what} not {done} (each a failed item with its reason: "
                              f"hub items --service {service} --state failed; hub replay to try again); the "
                              f"others are {done}")
    return Completed(message=f"{len(burst)} {what} {done}")


def turn_down(step: str, why: Callable[[Run], HubError]) -> Callable[[Run], Awaitable[str]]:
    """A :func:`run_batch` handler that fails each item with its verdict, recorded as ``step``
    failed (a dead letter with the reason)."""

    async def handle(run: Run) -> str:
        async with run.step(step):
            raise why(run)

    return handle


# A batch item that fails on a transient error is tried again within the run, like a step
# task (step_task): later, it waits for the next scheduled run or an automatic retry minutes on.
BATCH_RETRY_DELAYS = (1.0, 5.0)


async def _retrying(handle: Callable[[Run], Awaitable[str]], run: Run) -> str:
    """``handle(run)``, again after each of :data:`BATCH_RETRY_DELAYS` while it fails on a
    transient error. Handlers find their own earlier writes (by external key), so trying again
    writes nothing twice. A slot that could not be had is not tried again here: that wait was
    long already (``HUB_SLOT_WAIT_SECONDS``)."""
    return await tried_again(lambda: handle(run), BATCH_RETRY_DELAYS,
                             when=lambda exc: _transient(exc) and not isinstance(exc, SlotsUnavailable),
                             what=f"{run.item.service} {run.item.source_key}")


async def run_batch(items: Iterable[WorkItem], ports: Connectors, handle: Callable[[Run], Awaitable[str]], *,
                    ledger: Ledger | None = None, settings: Settings | None = None,
                    key_label: str = "item", parallel: int | None = None,
                    stop: asyncio.Event | None = None, due: Callable[[WorkItem], bool] | None = None,
                    progress: Progress | None = None) -> list[dict[str, Any]]:
    """Each item through ``handle`` inside :func:`batch_item`, ``parallel`` at a time
    (:func:`batch_parallel`). Items start in the order given, and the parts of ``handle``
    inside ``run.in_order()`` run in that order too. Returns one row per item taken, in that
    order, for a run's table artifact: its key, its state now, and ``handle``'s outcome — or,
    for an item that failed, the reason. Once ``stop`` is set (a peer every item needs is not
    answering) no further item is taken: those are left as they were, with no row. ``due``:
    whether an item is still the batch's when its turn comes (the items were listed before; a
    laptop order another run reserved, and IT delivered, meanwhile must not be reserved again);
    one that is not is skipped like an item another run holds. ``progress`` is told of each
    item as it ends (the run's bar in the Prefect UI)."""
    settings = settings or get_settings()
    ledger = ledger or get_ledger(settings)
    todo = list(items)
    rows: list[dict[str, Any]] = [{} for _ in todo]
    turnstile = _Turnstile()
    queue = iter(enumerate(todo))  # shared by the workers: items start in the order given

    async def one(index: int, item: WorkItem, handled: asyncio.Event) -> dict[str, Any]:
        outcome = "skipped: another run holds it or took it further"
        async with batch_item(item, ports, ledger=ledger, settings=settings, due=due) as run:
            try:
                if run is not None:
                    run._turn = (turnstile, index)
                    outcome = await _retrying(handle, run)
            finally:
                handled.set()  # its place goes to the next item while its end is written
        # How it ended, as recorded; an item skipped or done already is read.
        state, error = run.outcome if run and run.outcome else await asyncio.to_thread(ledger.outcome, item.id)
        return {"service": item.service, key_label: item.source_key, "state": state,
                "outcome": outcome if state != ItemState.FAILED else (error or "")[:120]}

    async def ending(index: int, item: WorkItem, handled: asyncio.Event) -> None:
        try:
            rows[index] = await one(index, item, handled)
            if progress is not None:
                progress.ended(rows[index])
        finally:
            handled.set()
            await turnstile.passed(index)  # an item that ended never holds up the ones after it

    async def worker(group: asyncio.TaskGroup) -> None:
        """Items one after another, each from its claim to the end of ``handle``: the item's
        end (its outcome written, its lease given up) goes on beside the next item's claim.
        Waited for in turn, a backlog of room requests had 3.7 items in flight of 4."""
        for index, item in queue:
            if stop is not None and stop.is_set():
                await turnstile.passed(index)
                continue
            handled = asyncio.Event()
            group.create_task(ending(index, item, handled))
            await handled.wait()

    async with asyncio.TaskGroup() as group:
        for _ in range(min(parallel or batch_parallel(), len(todo))):
            group.create_task(worker(group))
    return [row for row in rows if row]


# A page of a backlog, and the rows of a run's table artifact: what a batch holds at once.
PAGE = 500
TABLE_ROWS = 200


@dataclass
class Tally:
    """What a batch did, in a size that does not grow with the backlog: every item counted,
    the first :data:`TABLE_ROWS` rows kept for the run's table artifact."""

    handled: int = 0
    failed: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rows: list[dict[str, Any]]) -> Tally:
        """A batch's rows (:func:`run_batch`)."""
        return self.merge(Tally(len(rows), sum(row.get("state") == ItemState.FAILED for row in rows), rows))

    def merge(self, other: Tally) -> Tally:
        self.handled, self.failed = self.handled + other.handled, self.failed + other.failed
        self.rows += other.rows[:max(0, TABLE_ROWS - len(self.rows))]
        return self

    def table(self) -> list[dict[str, Any]]:
        """The rows kept, and a last row saying how many were left out (the ledger has them all)."""
        left = self.handled - len(self.rows)
        where = " or ".join(f"`hub items --service {name}`" for name in sorted({r["service"] for r in self.rows}))
        more = [{"outcome": f"{left} more item(s) handled in this run, not shown here: "
                            f"{where or '`hub items`'} lists them"}] if left > 0 else []
        return self.rows + more


async def due_pages(service: str, *, retry_below: int, ledger: Ledger | None = None, unstarted: bool = False,
                    page: int | None = None) -> AsyncIterator[list[WorkItem]]:
    """``service``'s due items (:meth:`Ledger.due_items`), oldest first, a page at a time: a
    backlog of 50,000 is held a page at a time, not whole (read whole, a worker's peak RSS grew
    from 521 to 659 MiB between 10,000 and 50,000 room requests waiting; ``bench/worker_memory``).
    The next page is read after the one before was handled,
    so an item that failed in this run is behind the mark and waits for the next run."""
    ledger = ledger or get_ledger()
    after = None
    while items := await asyncio.to_thread(ledger.due_items, service, retry_below=retry_below, after=after,
                                           unstarted=unstarted, limit=page or PAGE):
        yield items
        after = (items[-1].requested_at, items[-1].id)


async def run_pages(service: str, ports: Connectors, handle: Callable[[Run], Awaitable[str]], *, retry_below: int,
                    ledger: Ledger | None = None, **batch: Any) -> Tally:
    """:func:`run_batch` over ``service``'s due items, a page at a time (:func:`due_pages`),
    with the run's progress in the Prefect UI (:class:`~hub.progress.Progress`)."""
    ledger = ledger or get_ledger()
    tally = Tally()
    total = await asyncio.to_thread(ledger.count_due, service, retry_below=retry_below)
    async with Progress(service, total) as progress:
        async for items in due_pages(service, retry_below=retry_below, ledger=ledger):
            tally.add(await run_batch(items, ports, handle, ledger=ledger, progress=progress, **batch))
    return tally
