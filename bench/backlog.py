"""Drain a backlog through the whole pipeline (issue 12): the hub against its ceiling and a naive baseline.

Starts its own stack (``--stack embedded``: :class:`devtools.stack.Stack`; ``--stack scaled
--workers N``: :class:`devtools.scaled.ScaledStack`) with the schedules paused, so each phase
starts the deployments itself, as an operator draining a backlog would (and during the hub
phase starts them again as their schedules would: :class:`Schedules`). Three phases (four with fritak), each
against the same sandboxes, Radicale, SMTP sink and Request Tracker, each on its own
submissions (and its own days of the room calendars, so no phase finds the rooms another
filled), by default in the order below. Each phase leaves RT and Radicale bigger (its tickets,
laptops and bookings), and a later phase pays for that history: on one stack the phase run
first is flattered (hub ÷ ceiling 1.09 with the hub first, 0.52 with it last, at the issue's
load). So each phase runs on a new stack of its own, the fair measure (the default since
2026-12-05; ``--one-stack`` runs them all on one, with one start-up);
``--order`` sets the order (a phase run before the hub's has its submissions marked as
collected, :func:`collected_elsewhere`, so the hub's intakes leave them alone):

1. **hub** — form submissions (rooms, laptop orders, fritak) are made first; then the hires
   are announced through the intake (signed) while ``room-bookings``, ``laptop-orders`` and
   ``fritak-intake`` are started once. A service's items/s is its items over the time until
   the last of them reached where the service goes by itself: a room booked (or alternatives
   offered), a laptop reserved, a fritak case archived and waiting for the case handler, an
   onboarding done — or a dead letter.
2. **naive** — the same kinds and numbers of items, one Prefect task per item (the hub's own
   handler and ledger in each task), from a flow run in this process, as many at once as a
   hub batch runs (``HUB_BATCH_PARALLEL``; hires: the onboarding deployment's limit of runs
   times ``HUB_BURST_PARALLEL``, since a burst's hires go to runs of many). The hires are here too, each one task running the onboarding's steps (registered
   in HR, no event), as in the ceiling: without them the laptop orders had RT to themselves
   and their naive figure was the fastest of the three phases (1.97/s against a ceiling of 0.78).
   With ``--naive-one-at-a-time N``, also the same tasks one after the other, on N new items of
   each service: as batches were walked before issue 12 (a drain at one item's latency). An
   extra figure beside the target's, which is judged against the naive baseline above.
3. **ceiling** — the same again with no Prefect and no ledger: the hub's connector clients
   (thin async httpx clients: the same HTTP calls, by construction) driven by the service's
   handler from a plain asyncio loop, as many at once, with the global limits (RT's two
   write slots) as asyncio semaphores of the same size. The physical limit on this machine.
   The hires are onboarded here too (registered in HR, the onboarding's steps called from the
   loop, as many at once as in the naive phase), since in the hub phase their
   tickets and laptops take RT's write slots the laptop orders wait for.

4. **ceiling with case runs** (fritak alone in the run) — the ceiling again, on new applications, with
   each case's run also created in Prefect as the intake creates it (in bulk, already
   suspended, with the case handler's form), then deleted. Not the target's measure (the
   ceiling has no Prefect): it says how much of the hub's gap is the case runs themselves,
   which the product makes on purpose (the decision is given in Prefect's UI), and how much
   is the rest of the hub.

Fritak has no naive phase: the intake archives each case and creates its run already waiting
for the decision. Before (to 2026-12-05) a case was a flow run of its own up to the decision,
which is what a naive fritak would be; it reached 0.13 of the ceiling (docs/benchmarks.md).

Afterwards the case handler decides every fritak case and IT hands over every reserved laptop
(:class:`bench.chaos_workload.People`), ``laptop-delivery`` runs, and the invariants of the
chaos bench are checked on the hub's and the naive phase's items: every item done or a dead
letter with a reason, reconciliation 0 missing and 0 duplicates; and (the bench's own stack
only) no flow run failed, the hub's own runs such as ``redrive-stuck`` included.

Also printed: the peak RSS of the worker processes (the runner or each worker, with its flow-run
processes) during the hub phase, the Prefect events stored in the run's window versus the
events the server logged as dropped (and the naive phase's task runs expected versus stored),
and the time from an HR event to the onboarding code running (p50/p95).

``--kill-worker`` (``--stack scaled`` only): once about a third of the hub phase's items are
through (``--kill-at``), one worker — the one whose flow runs have the most items running — is killed
with ``kill -9``, its whole process group (its fork server and its flow-run processes), as a
host dying would, and is not started again (the bench's stack has no supervisor). The other
workers must finish its items: its runs are found dead by their missing heartbeats and marked
Crashed by the zombie automation, ``redrive-stuck`` starts their items again, global slots are
leases nobody renews. The stack then runs with the short recovery windows of the chaos bench
(:data:`bench.kills.SHORT_WINDOWS`: a dead run found after 40 s). Printed: which worker, when,
the runs it held and what became of them and of their items; and one more invariant: no item
stuck, no concurrency slot held, no zombie run.

    .venv/bin/python -m bench.backlog --small                     # a few hundred items
    .venv/bin/python -m bench.backlog                             # the full size (see --help), ~30 min
    .venv/bin/python -m bench.backlog --stack scaled --workers 3  # the production shape
    .venv/bin/python -m bench.backlog --order ceiling,naive,hub   # each phase on a stack of its own (the default)
    .venv/bin/python -m bench.backlog --one-stack                 # all phases on one stack (flatters the first)
    .venv/bin/python -m bench.backlog --small --stack scaled --workers 3 --kill-worker --no-compare
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.chaos_invariants import Verdict, active_runs, items_settled, nothing_held, reconciliation
from bench.chaos_workload import LAPTOP_MODELS, People, Sent, Workload
from bench.cpu import ROLE_NOTES, ROLES, Cores, CoreSplit, PhaseCpu, phase_cpu, snapshot
from bench.slot_trace import Hold, Occupancy, occupancy
from bench.slot_trace import read as read_holds
from bench.stats import percentile
from devtools.stack import Stack, StackPorts
from hub.errors import HubError
from hub.privacy import mask
from hub.slots import SLOT_TRACE
from sandbox.nettskjema.forms import FRITAK_FORM_ID, LAPTOP_FORM_ID, ROOMS_FORM_ID

__all__ = ["Sizes", "FULL", "SMALL", "Rate", "Report", "run_backlog", "ratio_line", "percentile", "main"]

# Issue 12: at least 10,000 form submissions (rooms, fritak, laptop orders) and 1,000 hires.
# RT creates a few tickets per second: laptop orders and hires (RT-bound) are the smaller part.
TARGET_FORMS, TARGET_HIRES = 10_000, 1_000
# Days ahead of the room requests per phase (bookable 0–14 days ahead): each phase books days
# no other phase touches. The seed and tests/e2e/test_rooms use days 3 and 5–10.
DAYS = {"hub": (2, 3, 4, 5), "naive": (6, 7, 8, 9), "ceiling": (10, 11, 12, 13), "naive1": (14, 15, 16, 17)}
SERVICES = ("rooms", "laptop", "fritak", "onboarding")
DEPLOYMENTS = {"rooms": "room-bookings/room-bookings", "laptop": "laptop-orders/laptop-orders",
               "fritak": "fritak-intake/fritak-intake"}
FORM_IDS = {"rooms": ROOMS_FORM_ID, "laptop": LAPTOP_FORM_ID, "fritak": FRITAK_FORM_ID}
KIND = {"rooms": "rooms", "laptop": "laptop", "fritak": "fritak", "onboarding": "hire"}
HIRE_MODEL = "thinkpad-t14"  # HUB_LAPTOP_MODEL's default: the hires' standard laptop
# The phases' order (--order). On one stack a phase run later pays for the history the earlier
# ones left in RT and Radicale; so by default each phase has a new stack (--one-stack: not).
ORDER = ("hub", "naive", "ceiling")


@dataclass(frozen=True)
class Sizes:
    rooms: int
    fritak: int
    laptops: int
    hires: int

    @property
    def forms(self) -> int:
        return self.rooms + self.fritak + self.laptops

    def of(self, service: str) -> int:
        return {"rooms": self.rooms, "fritak": self.fritak, "laptop": self.laptops, "onboarding": self.hires}[service]

    def shortfall(self) -> list[str]:
        """What keeps these sizes below the issue's load (empty: they meet it)."""
        missing = []
        if self.forms < TARGET_FORMS:
            missing.append(f"{self.forms:,} form submissions < {TARGET_FORMS:,}")
        if self.hires < TARGET_HIRES:
            missing.append(f"{self.hires:,} hires < {TARGET_HIRES:,}")
        return missing


FULL = Sizes(rooms=9_000, fritak=500, laptops=500, hires=1_000)
SMALL = Sizes(rooms=240, fritak=10, laptops=6, hires=6)


@dataclass
class Rate:
    service: str
    items: int
    seconds: float
    reached: int = 0  # items that got where the service goes by itself in time

    @property
    def per_second(self) -> float:
        return self.reached / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Report:
    sizes: Sizes
    hub: dict[str, Rate] = field(default_factory=dict)
    naive: dict[str, Rate] = field(default_factory=dict)
    naive_one: dict[str, Rate] = field(default_factory=dict)  # --naive-one-at-a-time: the naive tasks in a row
    ceiling: dict[str, Rate] = field(default_factory=dict)
    ceiling_case_runs: dict[str, Rate] = field(default_factory=dict)  # fritak: the ceiling asking Prefect too
    rss_peak_mib: dict[str, float] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    hr_to_code: list[float] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mine: set[tuple[str, str]] = field(default_factory=set)  # (service, key) of the hub's and naive items
    hire_emails: list[str] = field(default_factory=list)
    kill: dict[str, Any] = field(default_factory=dict)  # --kill-worker: what was killed, what became of it
    order: tuple[str, ...] = ()  # the phases, in the order they ran
    fresh_stacks: bool = False  # each phase on a stack of its own (the default; not with --one-stack)
    cpu: dict[str, PhaseCpu] = field(default_factory=dict)  # phase → CPU-seconds by role (bench.cpu)
    slots: dict[str, Occupancy] = field(default_factory=dict)  # phase → how RT's write slots were used
    split: Cores | None = None  # --split-cores: the peers' cores and the others'


def say(message: str) -> None:
    print(f"[backlog {time.strftime('%H:%M:%S')}] {message}", flush=True)


def together(rates: dict[str, Rate]) -> Rate:
    """Every service of a phase as one: all items over the longest service's time."""
    return Rate("all", items=sum(r.items for r in rates.values()),
                seconds=max((r.seconds for r in rates.values()), default=0.0),
                reached=sum(r.reached for r in rates.values()))


def ratio_line(name: str, hub: float, other: float, target: float) -> str:
    """``hub ÷ other`` against its target, said plainly when missed (never a fixed figure)."""
    if other <= 0 or hub <= 0:
        return f"{name}: not measured"
    ratio = hub / other
    verdict = "met" if ratio >= target else "MISSED"
    return f"{name}: {ratio:.2f} (target ≥ {target:g}: {verdict})"


# ---- submitting ----------------------------------------------------------------------------------

def submit_all(workload: Workload, plan: list[str], what: str, threads: int = 4) -> list[Sent]:
    """Send every input of ``plan`` (kinds), ``threads`` at once, saying how far it got."""
    sent: list[Sent] = []
    failed: Counter[str] = Counter()
    last = time.monotonic()

    def one(kind: str) -> None:
        try:
            sent.append(workload.send(kind))
        except Exception as exc:  # counted and said: a lost input shows up in the invariants
            failed[f"{kind}: {exc.__class__.__name__}"] += 1

    with ThreadPoolExecutor(threads) as pool:
        for done, _ in enumerate(pool.map(one, plan), 1):
            if time.monotonic() - last > 10:
                last = time.monotonic()
                say(f"{what}: {done:,}/{len(plan):,} sent")
    if failed:
        say(f"{what}: NOT SENT {dict(failed)}")
    return sent


def plan_of(sizes: Sizes, services: Iterable[str]) -> list[str]:
    """The kinds to send, interleaved (a few of each at a time, as people would)."""
    counts = {KIND[s]: sizes.of(s) for s in services}
    plan: list[str] = []
    while any(counts.values()):
        for kind in list(counts):
            if counts[kind]:
                plan.append(kind)
                counts[kind] -= 1
    return plan


def stock_for(sent: list[Sent], hires: int) -> dict[str, int]:
    """The laptops (RT model name → count) the orders in ``sent`` and ``hires`` hires take."""
    wanted: Counter[str] = Counter(LAPTOP_MODELS[s.detail["model"]] for s in sent if s.kind == "laptop")
    if hires:
        wanted[LAPTOP_MODELS[HIRE_MODEL]] += hires
    return dict(wanted)


# ---- where an item counts as through ------------------------------------------------------------

def reached(item: Any) -> bool:
    """The item got as far as its service goes by itself (or is a dead letter)."""
    from hub.ledger import ItemState

    if item.state in (ItemState.DONE, ItemState.FAILED):
        return item.state == ItemState.DONE or item.error_kind != "transient" or item.attempts >= 5
    if item.state == ItemState.WAITING:  # a reserved laptop, a case waiting for its handler
        data = item.data or {}
        if item.service == "fritak":  # its case run suspended, asking for a decision
            return bool(data.get("decision_runs"))
        return data.get("stage") == "awaiting_delivery"
    return False


def light_items(ledger: Any, service: str, *, ended: bool = False) -> list[Any]:
    """The items of ``service`` (``ended``: only those that may have reached their end,
    :func:`reached`) with only what it reads: one plain query, no steps or references, and an
    item's data only while it waits (polled every 3 s while the hub works: the bench must not
    load the ledger it measures).
    With every item's data, the poll cost the bench 8 CPU-s of a 3,000 room requests' hub
    phase (the notes of a request that got alternatives list them), beside the hub it measures
    on the same cores; the ceiling's phase has no such poll."""
    from types import SimpleNamespace

    from sqlalchemy import case, select

    from hub.ledger import ItemState
    from hub.ledger.models import WorkItem

    columns = (WorkItem.service, WorkItem.source_key, WorkItem.state, WorkItem.error_kind, WorkItem.attempts,
               case((WorkItem.state == ItemState.WAITING, WorkItem.data)))
    query = select(*columns).where(WorkItem.service == service)
    if ended:
        query = query.where(WorkItem.state.in_((ItemState.DONE, ItemState.FAILED, ItemState.WAITING)))
    with ledger.session() as session:
        rows = session.execute(query).all()
    return [SimpleNamespace(service=r[0], source_key=r[1], state=r[2], error_kind=r[3], attempts=r[4], data=r[5])
            for r in rows]


def wait_reached(ledger: Any, keys: dict[str, set[str]], started: dict[str, float], what: str,
                 timeout: float, sample: Callable[[], None] | None = None,
                 watch: Callable[[dict[str, Rate]], None] | None = None) -> dict[str, Rate]:
    """Poll the ledger until every item of ``keys`` (service → source keys) reached its end;
    the time of each service is from ``started[service]`` to its last item. ``watch`` sees
    the counts after each poll."""
    rates = {s: Rate(s, len(k), 0.0) for s, k in keys.items() if k}
    ends: dict[str, float] = {}
    deadline, last = time.monotonic() + timeout, 0.0
    while True:
        now = time.monotonic()
        for service, rate in rates.items():
            if service in ends:
                continue
            rate.reached = sum(reached(i) for i in light_items(ledger, service, ended=True)
                               if i.source_key in keys[service])
            if rate.reached == rate.items:
                ends[service] = now
        if sample:
            sample()
        if watch:
            watch(rates)
        if len(ends) == len(rates) or now > deadline:
            break
        if now - last > 10:
            last = now
            say(f"{what}: " + ", ".join(f"{s} {r.reached:,}/{r.items:,}" for s, r in rates.items()))
        time.sleep(3.0)
    for service, rate in rates.items():
        rate.seconds = ends.get(service, time.monotonic()) - started[service]
        if service not in ends:
            say(f"{what}: {service} NOT through after {timeout:.0f} s ({rate.reached:,}/{rate.items:,})")
    return rates


# ---- the worker processes' memory ----------------------------------------------------------------

class RssSampler:
    """Peak resident memory of each worker (the runner or worker-N) with its flow-run processes."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, float] = {}

    def __call__(self) -> None:
        from sandbox.procs import descendants

        for name, proc in list(self.stack.procs.items()):
            if name != "runner" and not name.startswith("worker-"):
                continue
            pids = [proc.pid] + [p.pid for p in descendants(proc.pid)]
            total = sum(_rss_kib(pid) for pid in pids) / 1024
            self.peak[name] = max(self.peak.get(name, 0.0), total)


def _parts(stack: Stack) -> dict[str, int]:
    """The stack's parts for :mod:`bench.cpu`: name → pid."""
    return {name: proc.pid for name, proc in stack.procs.items()}


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


# ---- killing a worker (--kill-worker) ------------------------------------------------------------

class WorkerKiller:
    """Called after each poll of the hub phase: once ``at`` (a fraction) of its items are
    through, ``kill -9`` the worker whose flow runs have the most items running, with its
    process group (:func:`bench.kills.kill_worker_group`), once. A moment when no worker has
    an item running is skipped: the kill is meant to take work with it."""

    def __init__(self, stack: Stack, ledger: Any, at: float) -> None:
        self.stack, self.ledger, self.at = stack, ledger, at
        self.started = time.monotonic()
        self.record: dict[str, Any] = {}

    def __call__(self, rates: dict[str, Rate]) -> None:
        from bench.kills import flow_run_processes, kill_worker_group, runs_held

        total = sum(r.items for r in rates.values())
        through = sum(r.reached for r in rates.values())
        if self.record or not total or through < self.at * total:
            return
        workers = [n for n in self.stack.procs if n.startswith("worker-") and self.stack.procs[n].alive()]
        if len(workers) < 2:
            self.record = {"skipped": f"only {len(workers)} worker(s) alive: nobody would finish its items"}
            return
        held = {n: runs_held(self.stack, {p.pid for p in flow_run_processes(self.stack.procs[n])}) for n in workers}
        running = Counter(self._claimed().values())  # flow run id → items it has running
        items = {n: sum(running[r["id"]] for r in held[n]) for n in workers}
        name = max(workers, key=lambda n: (items[n], len(held[n])))
        if not items[name]:
            return  # no worker has an item running just now: look again after the next poll
        killed = kill_worker_group(self.stack, name)
        killed["t"] = killed["at"] - (time.time() - (time.monotonic() - self.started))
        killed["through"] = f"{through:,}/{total:,}"
        run_ids = {r["id"] for r in killed["runs"]}
        # The items its runs left running, read after the kill (read before it, an item its run
        # finished in the last moment counted as one the others had to finish).
        killed["items"] = sorted(key for key, run_id in self._claimed().items() if run_id in run_ids)
        self.record = killed
        say(f"kill -9 {name} and its process group (pid {killed['pid']}, {len(killed['pids'])} processes) at "
            f"t={killed['t']:.0f} s, {killed['through']} items through: it held {len(killed['runs'])} flow run(s) "
            f"({', '.join(r['name'] for r in killed['runs'])}) with {len(killed['items'])} item(s) running; "
            f"not restarted")

    def _claimed(self) -> dict[str, str]:
        """``service/key`` → flow run id of every item running now."""
        from hub.ledger import ItemState

        return {f"{i.service}/{i.source_key}": i.flow_run_id or ""
                for i in self.ledger.items(states=[ItemState.RUNNING], limit=None)}


def kill_outcome(stack: Stack, ledger: Any, killed: dict[str, Any]) -> None:
    """What became of the killed worker's runs (their Prefect state now) and of the items they
    had running (their state, re-drives and the run that finished them)."""
    runs = []
    for run in killed.get("runs", []):
        response = httpx.get(f"{stack.prefect_api}/flow_runs/{run['id']}", timeout=30)
        state = response.json().get("state") or {} if response.status_code == 200 else {}
        since = state.get("timestamp")
        runs.append({**run, "state_after": state.get("name") or f"HTTP {response.status_code}",
                     # seconds from the kill to the run's last state (Crashed: found dead)
                     "after_kill_s": round(datetime.fromisoformat(since).timestamp() - killed["at"], 1)
                     if since else None})
    killed["runs"] = runs
    killed["zombie_after_s"] = stack.env().get("HUB_ZOMBIE_AFTER_SECONDS", "90 (default)")
    items = []
    for key in killed.get("items", []):
        service, source_key = key.split("/", 1)
        item = ledger.get_item(service, source_key)
        if item is None:
            items.append({"item": key, "state": "missing"})
            continue
        items.append({"item": key, "state": str(item.state.value if hasattr(item.state, "value") else item.state),
                      "redrives": int((item.data or {}).get("redrives", 0)), "error_kind": item.error_kind,
                      "finished_by_other_run": item.flow_run_id not in {r["id"] for r in runs}})
    killed["item_outcomes"] = items
    alive = [n for n in stack.procs if n.startswith("worker-") and stack.procs[n].alive()]
    killed["worker_alive_after"] = killed.get("worker") in alive
    killed["workers_alive_after"] = alive


# ---- the three phases ----------------------------------------------------------------------------

class Schedules:
    """The schedules the bench pauses, kept by the bench during the hub phase as Prefect would
    keep them: ``redrive-stuck`` every two minutes (stuck items re-driven, transient dead letters
    retried, ``HUB_RETRY_TRANSIENT_AFTER``; its other start, on every Crashed run, misses an
    item whose run died while it suspended), and each form service's intake every minute while
    its items are not through. An intake started while the last one still works is cancelled by
    Prefect (the deployments run one at a time), as each minute in production; one that finds
    the last one gone picks up what it left, as after a failure or a ``left`` count (a fritak
    intake that Prefect did not answer in time, seen at the issue's full load)."""

    def __init__(self, every: dict[str, tuple[float, str | None]]) -> None:
        self.every = every  # deployment → (seconds, the service whose items it waits for, or None)
        self.starts: dict[str, list[float]] = {name: [] for name in every}  # time.time() of each start
        self.last: dict[str, float] = {}
        self._starting: dict[str, threading.Thread] = {}

    @classmethod
    def of(cls, sizes: Sizes, *, intakes: bool, redrive: bool) -> Schedules:
        every: dict[str, tuple[float, str | None]] = {
            DEPLOYMENTS[s]: (60.0, s) for s in DEPLOYMENTS if intakes and sizes.of(s)}
        if redrive:
            every["redrive-stuck/redrive-stuck"] = (120.0, None)
        return cls(every)

    def __call__(self, rates: dict[str, Rate]) -> None:
        """Start what is due, each in the background: the ledger poll that times the services goes
        on while the Prefect server is slow to accept a start (on SQLite under the full backlog it
        answered 503 for minutes, and a service finishing meanwhile was timed when the start got
        through)."""
        now = time.monotonic()
        for name, (seconds, service) in self.every.items():
            self.last.setdefault(name, now)  # the phase itself started each deployment once
            rate = rates.get(service) if service else None
            if now - self.last[name] < seconds or (rate is not None and rate.reached >= rate.items):
                continue
            if (starting := self._starting.get(name)) is not None and starting.is_alive():
                continue
            self.last[name] = now
            self._starting[name] = threading.Thread(target=self._start, args=(name,), name=f"schedule {name}",
                                                    daemon=True)
            self._starting[name].start()

    def _start(self, name: str) -> None:
        try:
            start_deployment(name)
        except Exception as exc:  # the next start is a minute or two away; the bench goes on
            say(f"{name} not started: {exc}")
            return
        self.starts[name].append(time.time())

    def since(self, when: float, name: str = "redrive-stuck/redrive-stuck") -> int:
        return sum(start >= when for start in self.starts.get(name, []))

    def started(self) -> dict[str, int]:
        return {name: len(times) for name, times in self.starts.items() if times}


def start_deployment(name: str, *, patience: float = 600.0, attempt_seconds: float = 30.0) -> None:
    """Start one run of ``name``, as an operator would, trying again while the Prefect server
    answers 5xx or takes longer than ``attempt_seconds`` (SQLite's single writer answers 503
    under a burst, and Prefect's client retries a 503 by itself for minutes): once, by its
    idempotency key."""
    import uuid

    from prefect.exceptions import PrefectHTTPStatusError

    from hub.runs import start_deployment_run

    key = f"backlog:{name}:{uuid.uuid4()}"

    async def start() -> None:
        deadline = time.monotonic() + patience
        while True:
            try:
                await asyncio.wait_for(start_deployment_run(name, {}, key=key), attempt_seconds)
                return
            except (PrefectHTTPStatusError, TimeoutError) as exc:
                status = exc.response.status_code if isinstance(exc, PrefectHTTPStatusError) else None
                if (status is not None and status < 500) or time.monotonic() > deadline:
                    raise
                said = f"answered {status}" if status else f"did not answer in {attempt_seconds:.0f} s"
                say(f"starting {name}: the Prefect server {said}; trying again in 5 s")
                await asyncio.sleep(5)

    asyncio.run(start())


def hub_phase(stack: Stack, ledger: Any, people: People, sizes: Sizes, rng: random.Random, report: Report, *,
              offset: int, prefix: str, room_days: tuple[int, ...], laptop_models: tuple[str, ...],
              timeout: float, killer: WorkerKiller | None = None,
              schedule: Schedules | None = None) -> None:
    forms = [s for s in ("rooms", "laptop", "fritak") if sizes.of(s)]
    # Laptop orders go to the phase's hires in turn: two deliveries for one person in one batch
    # would race to create the same personnel file (see the report of this bench).
    workload = Workload(stack, rng, offset=offset, prefix=prefix, room_days=room_days, laptop_models=laptop_models,
                        orderers_in_turn=True)
    sampler = RssSampler(stack)
    cpu_before, since = snapshot(_parts(stack)), time.time()
    started: dict[str, float] = {}
    hires: list[Sent] = []
    keys: dict[str, set[str]] = {}
    if sizes.hires:  # first: HR must know the people the laptop orders are for
        say(f"IT stocks {people.restock({LAPTOP_MODELS[HIRE_MODEL]: sizes.hires})} laptops in RT for the hires")
        say(f"hub phase: announcing {sizes.hires:,} hires through the intake (onboarding starts at once)")
        started["onboarding"] = time.monotonic()
        hires = submit_all(workload, ["hire"] * sizes.hires, "hub phase, hires")
        keys["onboarding"] = {h.key for h in hires if h.answer.startswith("2")}
        lost = [h for h in hires if not h.answer.startswith("2")]
        if lost:
            report.notes.append(f"{len(lost)} hire event(s) not accepted by the intake: "
                                f"{Counter(h.answer for h in lost)}")
        if sizes.laptops > len(hires):
            report.notes.append(f"{sizes.laptops} laptop orders for {len(hires)} hires: some people order twice")
    say(f"hub phase: submitting {sizes.rooms:,} room requests, {sizes.laptops:,} laptop orders, "
        f"{sizes.fritak:,} fritak applications")
    sent = submit_all(workload, plan_of(sizes, forms), "hub phase, forms")
    stock = stock_for(sent, 0)
    if stock:
        say(f"IT stocks {people.restock(stock)} laptops in RT for the orders ({stock})")
    for service in forms:
        started[service] = time.monotonic()
        start_deployment(DEPLOYMENTS[service])
    say(f"started {', '.join(DEPLOYMENTS[s] for s in forms)}")
    keys.update({s: {x.key for x in sent if x.service == s} for s in forms})
    if killer is not None:
        killer.started = min(started.values())
    watchers = [w for w in (schedule, killer) if w is not None]

    def watch(rates: dict[str, Rate]) -> None:
        for watcher in watchers:
            watcher(rates)

    report.hub = wait_reached(ledger, keys, started, "hub phase", timeout, sample=sampler, watch=watch)
    if schedule is not None and schedule.started():
        report.notes.append(f"started by the bench as their schedules would, during the hub phase: {schedule.started()}")
    report.cpu["hub"] = phase_cpu(cpu_before, snapshot(_parts(stack)), items=sum(r.reached for r in report.hub.values()))
    note_slots(report, "hub", read_holds(slot_trace_of(stack), since))
    if killer is not None:
        report.kill = killer.record or {"skipped": "the hub phase ended before a worker held a run past the mark"}
        if schedule is not None and killer.record.get("at"):
            report.kill["scheduled_redrives"] = schedule.since(killer.record["at"])
    for service, rate in report.hub.items():
        rate.items = sizes.of(service)  # what was meant to go through, not only what was accepted
    report.rss_peak_mib = sampler.peak
    report.mine |= {(x.service, x.key) for x in sent + hires}
    report.hire_emails = [h.detail["email"] for h in hires if h.answer.startswith("2")]
    report.hr_to_code = hr_to_code(ledger, keys.get("onboarding", set()))
    people.courses.update({x.key: x.detail.get("courses", []) for x in sent if x.kind == "fritak"})
    workload.client.close()
    report.notes.append(f"hub phase inputs: {dict(Counter(x.kind for x in sent + hires))}")


def hr_to_code(ledger: Any, employee_ids: set[str]) -> list[float]:
    """Seconds from the intake receiving each hire's HR event to its onboarding code running."""
    received: dict[str, datetime] = {}
    for event in ledger.events(limit=max(1000, 4 * len(employee_ids))):
        if event.subject_id in employee_ids and event.kind.endswith("ansatte"):
            received[event.subject_id] = min(event.received_at, received.get(event.subject_id, event.received_at))
    values = []
    for employee_id, at in received.items():
        item = ledger.get_item("onboarding", employee_id)
        if item is not None and item.started_at is not None:
            values.append((item.started_at - at).total_seconds())
    return values


def compare_services(sizes: Sizes) -> list[str]:
    return [s for s in ("rooms", "laptop", "fritak") if sizes.of(s)]


def ceiling_services(sizes: Sizes) -> list[str]:
    """The ceiling's services: the forms', and the hires' onboarding (the same RT, archive and mail)."""
    return compare_services(sizes) + (["onboarding"] if sizes.hires else [])


def submit_for(stack: Stack, people: People, rng: random.Random, sizes: Sizes, services: list[str], *, what: str,
               offset: int, prefix: str, room_days: tuple[int, ...], laptop_models: tuple[str, ...],
               feide: list[str]) -> list[Sent]:
    workload = Workload(stack, rng, offset=offset, prefix=prefix, room_days=room_days, laptop_models=laptop_models,
                        orderers_in_turn=True, announce_hires=False)
    workload.hires = list(feide)  # laptop orders for people HR knows
    sent = submit_all(workload, plan_of(sizes, services), f"{what}, forms")
    workload.client.close()
    stock = stock_for(sent, sum(s.kind == "hire" for s in sent))
    if stock:
        say(f"{what}: IT stocks {people.restock(stock)} laptops in RT ({stock})")
    return sent


def collected_elsewhere(ledger: Any, sent: list[Sent]) -> None:
    """Move each form's mark (:func:`flows.forms_poll.cursor_name`) past ``sent``: a phase run
    before the hub's leaves its submissions in the forms, and the hub's intakes must not
    collect them as the hub's own (they are the naive phase's items, or the ceiling's)."""
    from flows.forms_poll import cursor_name

    highest: dict[int, int] = {}
    for s in sent:
        if s.service in FORM_IDS:
            form = FORM_IDS[s.service]
            highest[form] = max(highest.get(form, 0), int(s.key))
    for form, submission_id in highest.items():
        if submission_id > int(ledger.get_cursor(cursor_name(form)) or 0):
            ledger.set_cursor(cursor_name(form), str(submission_id))


def parse_order(text: str) -> tuple[str, ...]:
    """``--order``: the phases by name, comma-separated; any may be left out (a run without one
    measures no ratio to it; without the hub's, only with a stack per phase, not ``--one-stack``)."""
    order = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in order if name not in ORDER]
    if not order or unknown or len(set(order)) != len(order):
        raise argparse.ArgumentTypeError(
            f"{text!r}: name one or more of {', '.join(ORDER)}, each at most once (for example ceiling,naive,hub)")
    return order


def naive_phase(stack: Stack, ledger: Any, sent: list[Sent], report: Report, timeout: float, *,
                one_at_a_time: bool = False) -> None:
    """One Prefect task per item: the hub's handler and ledger inside each task, as many at once
    as the hub works on; ``one_at_a_time``: each service's tasks in a row, as batches were walked
    before issue 12 (an extra figure, not the target's measure)."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from hub.flowkit import batch_item

    items: dict[str, list[Any]] = {}
    for s in sent:
        if s.service == "fritak":
            continue  # no naive phase: the scheduled fritak-intake would collect its submissions too
        item = ledger.ensure_item(s.service, s.key, title=f"{s.service} submission {s.key} (naive baseline)")
        items.setdefault(s.service, []).append(item)
    report.mine |= {(s.service, s.key) for s in sent if s.service != "fritak"}
    if not items:
        say("naive phase: no items (fritak has no naive phase)")
        return
    rates: dict[str, Rate] = {}

    @task(name="one item", cache_policy=NO_CACHE, persist_result=False)
    async def one_item(item_id: int, service: str) -> str:
        async with _handler(service) as (handle, ports):
            async with batch_item(ledger.item(item_id), ports, ledger=ledger) as run:
                return "skipped" if run is None else await handle(run)

    @flow(name="backlog-naive-baseline", log_prints=False)
    async def naive() -> str:
        from prefect.runtime import flow_run

        async def service_items(service: str, todo: list[Any]) -> None:
            started, queue = time.monotonic(), iter(todo)

            async def worker() -> None:
                for item in queue:
                    with contextlib.suppress(Exception):  # the item's own failure is in the ledger
                        await one_item(item.id, service)

            at_once = 1 if one_at_a_time else _at_once(service)
            await asyncio.gather(*(worker() for _ in range(min(at_once, len(todo)))))
            rates[service] = Rate(service, len(todo), time.monotonic() - started)

        await asyncio.wait_for(asyncio.gather(*(service_items(s, t) for s, t in items.items())), timeout)
        return str(flow_run.id)

    say(f"naive phase{', one at a time' if one_at_a_time else ''}: "
        f"{', '.join(f'{len(t):,} {s}' for s, t in items.items())}, one Prefect task each")
    cpu_before, since = snapshot(_parts(stack)), time.time()
    run_id = asyncio.run(naive())
    cpu_after = snapshot(_parts(stack))
    if not one_at_a_time:
        note_slots(report, "naive", read_holds(slot_trace_of(stack), since))
    for service, rate in rates.items():
        keys = {i.source_key for i in items[service]}
        rate.reached = sum(reached(i) for i in light_items(ledger, service, ended=True) if i.source_key in keys)
    if one_at_a_time:
        report.naive_one = rates
        report.cpu["naive1"] = phase_cpu(cpu_before, cpu_after, items=sum(r.reached for r in rates.values()))
        return
    report.naive = rates
    report.cpu["naive"] = phase_cpu(cpu_before, cpu_after, items=sum(r.reached for r in rates.values()))
    report.events["naive task runs expected"] = sum(len(t) for t in items.values())
    report.events["naive task runs stored"] = _task_runs_of(stack, run_id)


@contextlib.asynccontextmanager
async def _handler(service: str, asker: _BareCaseRuns | None = None
                   ) -> AsyncIterator[tuple[Callable[[Any], Any], Any]]:
    """The hub's handler of one item of ``service`` and the ports it needs; a fritak case is
    also asked for its case run by ``asker``, if given."""
    from hub.settings import OSLO, get_settings
    from hub.wiring import connect

    settings = get_settings()
    async with connect(settings, service=service) as ports:
        if service == "rooms":
            from flows.rooms_steps import handle_booking

            rooms = await ports.calendar.list_rooms()
            yield (lambda run: handle_booking(run, rooms, datetime.now(OSLO))), ports
        elif service == "laptop":
            from flows.laptop_order import handle_order

            yield handle_order, ports
        elif service == "onboarding":
            yield _onboard, ports
        else:
            from flows.fritak_steps import archive_application, decision_form, read_fritak_application

            async def fritak(run: Any) -> str:  # up to the decision point: read, archive
                application = await read_fritak_application.fn(run, int(run.item.source_key))
                case, entry = await archive_application.fn(run, application)
                if asker is not None:
                    asker.ask(run.item, decision_form(application, case, entry))
                return "archived"

            yield fritak, ports


async def _onboard(run: Any) -> str:
    """The onboarding flow's steps in its order (:mod:`flows.onboarding`), without Prefect or ledger;
    the summary artifact is Prefect's, not a peer's, and is left out."""
    from flows import onboarding_steps as steps

    employee = await steps.fetch_employee.fn(run, run.item.source_key)
    hire = await steps.validate_hire.fn(run, employee)
    case_file = await steps.ensure_personnel_file.fn(run, hire)
    await steps.journal_welcome_letter.fn(run, hire, case_file)
    tickets = await steps.ensure_onboarding_tickets.fn(run, hire)
    laptop = await steps.allocate_laptop.fn(run, hire, tickets)
    await steps.email_manager.fn(run, hire, case_file, tickets, laptop)
    return "onboarded"


class _BareCaseRuns:
    """The fritak ceiling's own case runs, created as the intake creates them
    (:class:`flows.fritak._CaseRuns`): already suspended with the case handler's form, those
    asked for while a request is on its way together in the next bulk request; no ledger."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids: dict[str, Any] = {}
        self.created: list[str] = []
        self.refused: dict[str, str] = {}
        from hub.runs import Coalesced

        self._runs: Coalesced[tuple[Any, Any]] = Coalesced(self._create, name="ceiling case runs")

    def ask(self, item: Any, form: Any) -> None:
        self._runs.add((item, form))

    async def _create(self, chunk: list[tuple[Any, Any]]) -> None:
        from flows.fritak_steps import DECISION_KEY
        from hub.runs import start_waiting_for_inputs
        from hub.services import catalog

        case_runs = catalog().rerun_for("fritak")
        assert case_runs is not None
        wanted = {f"fritak:{item.source_key}:ceiling": (case_runs.parameters(item), form) for item, form in chunk}
        started, refused = await start_waiting_for_inputs(case_runs.deployment, wanted, pause_key=DECISION_KEY,
                                                          client=self.client, ids=self.ids)
        self.created += [str(run_id) for run_id in started.values()]
        self.refused.update(refused)

    async def drain(self) -> None:
        await self._runs.drain()


def _at_once(service: str) -> int:
    """Items of ``service`` the hub works on at once: a batch's parallelism, or for onboarding
    (a burst's hires go to runs of many, each working a burst's parallelism of them) its
    deployment's limit of such runs times that."""
    from hub.flowkit import batch_parallel, burst_parallel

    if service == "onboarding":
        from deployments.catalog import CATALOG

        (spec,) = [d for d in CATALOG.deployments() if d.full_name == "onboarding/onboarding"]
        assert spec.concurrency is not None
        return int(spec.concurrency.limit) * burst_parallel()
    return batch_parallel()


def _task_runs_of(stack: Stack, flow_run_id: str) -> int:
    response = httpx.post(f"{stack.prefect_api}/task_runs/count", timeout=60,
                          json={"flow_runs": {"id": {"any_": [flow_run_id]}}})
    response.raise_for_status()
    return int(response.json())


class BareRun:
    """What a handler needs of :class:`hub.flowkit.Run`, with no ledger and no Prefect: steps,
    references and waiting reasons live in this object; global limits are asyncio semaphores
    of the limits' sizes; ``in_order`` is the batch's order kept by nobody (items run freely).
    It has every public name a Run has (tests/unit/test_bench_bare_run.py): a handler that used
    one it lacked broke every item of the ceiling, once unseen (``run.note``, 2026-12-05)."""

    flow_run_id: str | None = None  # no flow run
    slot_lease: float = 0.0  # the slots are this process's semaphores: nothing to lease

    def __init__(self, service: str, key: str, ports: Any, settings: Any, slots: dict[str, asyncio.Semaphore],
                 *, holds: list[Hold] | None = None) -> None:
        self.item = _BareItem(service, key)
        self.ports, self.settings, self._slots = ports, settings, slots
        self._holds = holds  # each block's hold is added here, as hub.slots traces the hub's
        self.ledger = _NoLedger(self.item)
        self.refs: dict[str, str] = {}
        self.notes: list[str] = []
        self.waiting_reason: str | None = None
        self.already_done = False

    async def step_done(self, name: str) -> bool:
        return False

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[Any]:
        """Each item once, nothing before it: every attempt is a first (as the hub's for a new item)."""
        from hub.flowkit import Attempt

        yield Attempt(retried=False, recorded=_nothing)

    @contextlib.asynccontextmanager
    async def in_order(self, contested: Any = None) -> AsyncIterator[None]:
        yield

    @contextlib.asynccontextmanager
    async def slots(self, names: str | list[str]) -> AsyncIterator[None]:
        wanted = [names] if isinstance(names, str) else names
        asked = time.time()
        async with contextlib.AsyncExitStack() as held:
            for name in wanted:
                await held.enter_async_context(self._slots.setdefault(name, asyncio.Semaphore(1)))
            got = time.time()
            try:
                yield
            finally:
                if self._holds is not None:
                    self._holds.append(Hold(tuple(sorted(set(wanted))), 0, asked, got, time.time()))

    def note(self, **data: Any) -> None:
        self.item.data.update(data)

    def ref(self, name: str) -> str | None:
        return self.refs.get(name)

    async def remember(self, name: str, *, ref: str, **_: Any) -> None:
        self.refs[name] = ref

    async def wait_for(self, reason: str, **data: Any) -> None:
        self.waiting_reason = reason
        self.item.data.update(data)

    async def manual_step(self, note: str) -> None:
        pass


async def _nothing() -> None:
    pass


@dataclass
class _BareItem:
    service: str
    source_key: str
    id: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _NoLedger:
    def __init__(self, item: _BareItem) -> None:
        self._item = item

    def update_data(self, item_id: int, **values: Any) -> None:
        self._item.data.update(values)

    def item(self, item_id: int) -> _BareItem:
        return self._item

    def get_item(self, service: str, key: str) -> None:
        return None

    def take_lease(self, name: str, holder: str, **_: Any) -> bool:
        """Held in this process only, as the ledger's would be across processes: the bare
        client's allocations claim each laptop under one, as the hub's do."""
        with _LEASES_LOCK:
            if _LEASES.setdefault(name, holder) != holder:
                return False
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with _LEASES_LOCK:
            if _LEASES.get(name) == holder:
                del _LEASES[name]


_LEASES: dict[str, str] = {}  # the bare client's leases: name → holder
_LEASES_LOCK = threading.Lock()


def ceiling_phase(stack: Stack, sent: list[Sent], report: Report, timeout: float, *, case_runs: bool = False) -> None:
    """The bare connectors driven from a plain asyncio loop. ``case_runs`` (fritak only): each
    case also gets its run in Prefect, waiting for the decision as the intake makes it, to show
    what of the hub's gap is Prefect's case runs; those runs are deleted afterwards."""
    from prefect.client.orchestration import get_client

    from hub.services import catalog
    from hub.settings import get_settings

    settings = get_settings()
    slots = {name: asyncio.Semaphore(size) for name, size in catalog().limits(settings.limits).items()}
    holds: list[Hold] = []  # the bare client's blocks, as the hub's are traced (bench.slot_trace)
    by_service: dict[str, list[str]] = {}
    for s in sent:
        by_service.setdefault(s.service, []).append(s.key)
    rates: dict[str, Rate] = {}
    outcomes: Counter[str] = Counter()
    crashed: Counter[str] = Counter()  # service → items the bare client itself failed on (not counted as through)
    first_error: dict[str, str] = {}  # per kind of failure: the first one's message, to act on

    created: list[str] = []

    async def service_items(service: str, keys: list[str]) -> None:
        async with contextlib.AsyncExitStack() as held:
            asker = _BareCaseRuns(await held.enter_async_context(get_client())) if case_runs else None
            handle, ports = await held.enter_async_context(_handler(service, asker))
            started, queue = time.monotonic(), iter(keys)
            done = 0

            async def worker() -> None:
                nonlocal done
                for key in queue:
                    try:
                        await handle(BareRun(service, key, ports, settings, slots, holds=holds))
                        outcomes[f"{service} handled"] += 1
                        done += 1
                    except HubError as exc:  # the hub would dead-letter it: it got through
                        outcomes[f"{service} {exc.__class__.__name__}"] += 1
                        first_error.setdefault(f"{service} {exc.__class__.__name__}", mask(str(exc))[:300])
                        done += 1
                    except Exception as exc:  # the bare client broke: the item did not get through
                        crashed[service] += 1
                        first_error.setdefault(f"{service} {exc.__class__.__name__}", mask(str(exc))[:300])
                    progress[service] = done + crashed[service]

            await asyncio.gather(*(worker() for _ in range(min(_at_once(service), len(keys)))))
            if asker is not None:  # through once its run waits for the decision
                await asker.drain()
                created.extend(asker.created)
                done -= len(asker.refused)
                for key, why in asker.refused.items():
                    first_error.setdefault("fritak case run refused", f"{key}: {mask(why)[:300]}")
            rates[service] = Rate(service, len(keys), time.monotonic() - started, reached=done)

    progress: dict[str, int] = {}  # service → items handled so far, said every 30 s (a phase takes minutes)

    async def say_progress() -> None:
        while True:
            await asyncio.sleep(30)
            say(f"{phase}: " + ", ".join(f"{s} {progress.get(s, 0):,}/{len(k):,}" for s, k in by_service.items()))

    async def all_services() -> None:
        saying = asyncio.create_task(say_progress())
        try:
            await asyncio.wait_for(asyncio.gather(*(service_items(s, k) for s, k in by_service.items())), timeout)
        finally:
            saying.cancel()

    phase = "ceiling with case runs" if case_runs else "ceiling"
    say(f"ceiling phase{' with case runs' if case_runs else ''}: {', '.join(f'{len(k):,} {s}' for s, k in by_service.items())}, bare connectors, "
        + ("and each case's run created waiting in Prefect, no ledger" if case_runs else "no Prefect, no ledger"))
    cpu_before = snapshot(_parts(stack))
    asyncio.run(all_services())
    if case_runs:
        report.ceiling_case_runs = rates
        report.cpu["c+runs"] = phase_cpu(cpu_before, snapshot(_parts(stack)), items=sum(r.reached for r in rates.values()))
        asyncio.run(_delete_runs(created))
        say(f"{phase}: {len(created)} case runs created, and deleted again")
    else:
        report.ceiling = rates
        report.cpu["ceiling"] = phase_cpu(cpu_before, snapshot(_parts(stack)),
                                          items=sum(r.reached for r in rates.values()))
        note_slots(report, "ceiling", holds)
    report.notes.append(f"{phase} outcomes: {dict(outcomes)}")
    report.notes.extend(f"{phase}: first {kind}: {message}" for kind, message in first_error.items())
    report.verdicts.append(Verdict(
        f"the {phase} went through every item (handled, or an error the hub would dead-letter)", not crashed,
        {f"{service} crashed": n for service, n in crashed.items()},
        [f"{kind}: {message}" for kind, message in first_error.items() if kind.split(" ", 1)[0] in crashed]))


async def _delete_runs(ids: list[str]) -> None:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    async with get_client() as client:
        for run_id in ids:
            await client.delete_flow_run(UUID(run_id))


# ---- afterwards ----------------------------------------------------------------------------------

def finish(stack: Stack, ledger: Any, people: People, report: Report, timeout: float) -> None:
    """The case handler decides, IT hands over; wait until every item is done or a dead letter."""
    from hub.ledger import ItemState

    deadline, last, delivered_run = time.monotonic() + timeout, 0.0, 0
    only_mine = OnlyItems(ledger, report.mine)  # never another test's case or laptop on a shared stack
    while time.monotonic() < deadline:
        people.act(only_mine)
        if len(people.delivered) > delivered_run:
            delivered_run = len(people.delivered)
            start_deployment("laptop-delivery/laptop-delivery")
        items = [i for service in sorted({m[0] for m in report.mine}) for i in light_items(ledger, service)
                 if (i.service, i.source_key) in report.mine]
        open_ = Counter(f"{i.service} {i.state}" for i in items if i.state not in (ItemState.DONE, ItemState.FAILED))
        if not open_:
            return
        if time.monotonic() - last > 10:
            last = time.monotonic()
            say(f"afterwards: cases decided {people.done['fritak decided']}, laptops handed over "
                f"{people.done['laptop handed over']}; open: {dict(open_)}")
        time.sleep(3)
    report.notes.append(f"items still open after {timeout:.0f} s of deciding and delivering")


class OnlyItems:
    """The ledger as :class:`People` sees it: only ``keys`` (service, source key) among its items."""

    def __init__(self, ledger: Any, keys: set[tuple[str, str]]) -> None:
        self._ledger, self._keys = ledger, keys

    def items(self, **filters: Any) -> list[Any]:
        return [i for i in self._ledger.items(**filters) if (i.service, i.source_key) in self._keys]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def events_of(stack: Stack, since: datetime, report: Report) -> None:
    """Prefect events stored in the run's window, and the messages the server logged as dropped."""
    response = httpx.post(f"{stack.prefect_api}/events/count-by/event", timeout=120, json={
        "filter": {"occurred": {"since": since.isoformat(), "until": datetime.now(UTC).isoformat()}}})
    if response.status_code == 200:
        rows = response.json()
        report.events["stored"] = sum(int(row.get("count", 0)) for row in rows)
        # A run refused a deployment slot is sent back and offered again: each time a poll, a
        # refused state and an event (in a work pool a queued deployment's runs wait in a work
        # queue of their own, so few are: deployments/pool.py).
        report.events["runs sent back for a deployment slot"] = sum(
            int(row.get("count", 0)) for row in rows if row.get("value") == "prefect.flow-run.AwaitingConcurrencySlot")
    else:
        report.notes.append(f"events could not be counted: HTTP {response.status_code}")
    dropped = 0
    for path in stack.logs.glob("prefect*.log"):
        dropped += len(re.findall(rb"dropping message|queue is full", path.read_bytes(), flags=re.IGNORECASE))
    report.events["dropped (server log)"] = dropped
    if "stored" in report.events:
        report.events["emitted"] = report.events["stored"] + dropped


def check(ledger: Any, report: Report, stack: Stack | None = None) -> None:
    """Every item done or a dead letter with a reason, reconciliation; with ``stack`` (after a
    worker was killed) also: no item stuck, no concurrency slot held, no zombie run."""
    expected = set(report.mine)
    report.verdicts += [items_settled(ledger, [], expected, only=expected), reconciliation(ledger)]
    if stack is not None:
        report.verdicts.append(nothing_held_here(stack, ledger, report))


def no_run_failed(stack: Stack, since: datetime) -> Verdict:
    """No flow run of the stack failed since ``since``: the hub's own runs too (``redrive-stuck``
    failed every pass at the issue's load, unseen by the other invariants, until 2026-12-05).
    Only on a stack of the bench's own: a shared stack's other tests fail runs on purpose."""
    from hub.prefect_api import READ_LIMIT

    runs = httpx.post(f"{stack.prefect_api}/flow_runs/filter", timeout=60, json={
        "limit": READ_LIMIT, "flow_runs": {"state": {"type": {"any_": ["FAILED"]}},
                                    "start_time": {"after_": since.isoformat()}}}).json()
    findings = [f"{r.get('name')} ({r.get('id')}): {mask(str((r.get('state') or {}).get('message')))[:300]}"
                for r in runs]
    return Verdict("no flow run failed", not runs, {"failed": len(runs)} if runs else {}, findings)


PAUSED = "runs paused (waiting for a person)"


def nothing_held_here(stack: Stack, ledger: Any, report: Report) -> Verdict:
    """:func:`bench.chaos_invariants.nothing_held`, except for the fritak cases of the sandbox's
    seeded applications: ``fritak-intake`` collects them with the bench's, and their runs wait
    for a case handler, rightly — the bench's handler decides only the bench's cases."""
    verdict = nothing_held(stack, ledger)
    seeded = [r for r in active_runs(stack) if r["state_type"] == "PAUSED"
              and ("fritak", str((r.get("parameters") or {}).get("submission_id"))) not in report.mine]
    if seeded and verdict.counts.get(PAUSED):
        ids = {r["id"] for r in seeded}
        verdict.counts[PAUSED] -= len(ids)
        if verdict.counts[PAUSED] <= 0:
            del verdict.counts[PAUSED]
        verdict.findings = [f for f in verdict.findings if not any(i in f for i in ids)]
        verdict.held = not verdict.counts
        report.notes.append(f"{len(ids)} fritak case(s) of the sandbox's seeded applications wait for a case "
                            f"handler ({', '.join(sorted(r['name'] for r in seeded))}): not the bench's, not "
                            f"decided, not counted as held")
    return verdict


# ---- the whole run -------------------------------------------------------------------------------

def run_backlog(stack: Stack, sizes: Sizes, *, compare: bool = True, seed: int = 12, offset: int = 50_000,
                prefix: str = "backlog", timeout: float = 1800.0, laptop_models: tuple[str, ...] = (),
                days: dict[str, tuple[int, ...]] | None = None, kill_worker: bool = False,
                kill_at: float = 1 / 3, redrive_schedule: bool = False, naive_one: int = 0,
                order: tuple[str, ...] = ORDER, own_stack: bool = False) -> Report:
    """The backlog on a started ``stack`` whose schedules are paused. ``compare``: also the naive
    baseline and the ceiling (they leave submissions in the forms that no scheduled poll may
    collect later: only on a stack of the bench's own). ``kill_worker``: see :class:`WorkerKiller`.
    The hub phase keeps the intakes' schedules with ``compare`` (every minute while their items
    are not through; a shared stack's other tests must not find runs of them afterwards) and,
    with ``redrive_schedule`` (always with ``kill_worker``), ``redrive-stuck``'s (every two
    minutes): :class:`Schedules`. ``own_stack``: the stack is the bench's alone, so also no flow
    run may have failed (:func:`no_run_failed`)."""
    from hub.wiring import get_ledger

    phase_days = days or DAYS
    report = Report(sizes)
    since = datetime.now(UTC)
    ledger = get_ledger()
    rng = random.Random(seed)
    people = People(stack, {})
    killer = WorkerKiller(stack, ledger, kill_at) if kill_worker else None
    schedule = Schedules.of(sizes, intakes=compare, redrive=redrive_schedule or kill_worker)
    order = order if compare and ceiling_services(sizes) else ("hub",)
    report.order = order

    def submit(sized: Sizes, services: list[str], what: str, plus: int, days_of: str) -> list[Sent]:
        """A compare phase's submissions. Laptop orders go to people HR knows: the hub
        phase's hires once it has run, else the phase's own hires (registered in HR as
        they are sent), as in the hub phase; and a phase run before the hub's marks its
        submissions as collected, so the hub's intakes leave them alone."""
        sent = submit_for(stack, people, rng, sized, services, what=what, offset=offset + plus, prefix=prefix,
                          room_days=phase_days[days_of], laptop_models=laptop_models,
                          feide=report.hire_emails)
        if not report.hub:
            collected_elsewhere(ledger, sent)
        return sent

    try:
        for phase in order:
            if phase == "hub":
                hub_phase(stack, ledger, people, sizes, rng, report, offset=offset, prefix=prefix,
                          room_days=phase_days["hub"], laptop_models=laptop_models, timeout=timeout, killer=killer,
                          schedule=schedule)
                continue
            if phase == "naive":
                without_fritak = [s for s in ceiling_services(sizes) if s != "fritak"]
                naive_phase(stack, ledger, submit(sizes, without_fritak, "naive phase", 100_000, "naive"), report,
                            timeout)
                if naive_one:  # the same tasks in a row, on a sample: their rate is one item's latency
                    sample = Sizes(rooms=min(sizes.rooms, naive_one), fritak=0, laptops=min(sizes.laptops, naive_one),
                                   hires=min(sizes.hires, naive_one))
                    one_sent = submit(sample, [s for s in ceiling_services(sample) if s != "fritak"],
                                      "naive phase, one at a time", 400_000, "naive1")
                    naive_phase(stack, ledger, one_sent, report, timeout, one_at_a_time=True)
                continue
            ceiling_phase(stack, submit(sizes, ceiling_services(sizes), "ceiling phase", 200_000, "ceiling"), report,
                          timeout)
            # What of the gap is Prefect's case runs: the ceiling asking for them too. Only for fritak
            # alone: beside other services, the ceiling shared the cores with them, this phase would not.
            if sizes.fritak and not (sizes.rooms or sizes.laptops or sizes.hires):
                ceiling_phase(stack, submit(sizes, ["fritak"], "ceiling phase with case runs", 300_000, "ceiling"),
                              report, timeout, case_runs=True)
        finish(stack, ledger, people, report, timeout)
        events_of(stack, since, report)
        if kill_worker and report.kill.get("runs"):
            kill_outcome(stack, ledger, report.kill)
        check(ledger, report, stack if kill_worker else None)
        if own_stack:
            report.verdicts.append(no_run_failed(stack, since))
    finally:
        people.close()
    return report


def print_report(report: Report, shape: str) -> bool:
    """The table, then the targets and invariants; True when every invariant holds."""
    s = report.sizes
    print(f"\n== Backlog on {shape} ==")
    print(f"sizes: rooms {s.rooms:,}, fritak {s.fritak:,} (up to the decision point), laptop orders {s.laptops:,}, "
          f"hires {s.hires:,}; form submissions {s.forms:,} per phase")
    if s.shortfall():
        print(f"NOTE: below the issue's load ({'; '.join(s.shortfall())}): figures of a smaller run")
    if report.fresh_stacks:
        print(f"phases in this order: {' → '.join(report.order)}, each on a new stack of its own (the same software "
              f"and settings, empty): no phase met another's history in RT, Radicale, Prefect or the ledger")
    elif len(report.order) > 1:
        later = report.order[report.order.index("hub") + 1:]
        print(f"phases in this order: {' → '.join(report.order)}. Each leaves RT bigger (its tickets and laptops) "
              f"for the phases after it, so "
              + ("the history of the phases before it counts against the hub (without --one-stack each phase "
                 "has a stack of its own)"
                 if not later else
                 f"the {' and the '.join(later)} met a bigger RT than the hub did (the hub's ratio to "
                 f"{'them' if len(later) > 1 else 'it'} is flattered; without --one-stack each phase has a stack "
                 f"of its own)"))
    print(f"{'service':<11} {'items':>7} {'hub/s':>8} {'ceiling/s':>10} {'naive/s':>8} {'hub÷ceiling':>12} "
          f"{'hub÷naive':>10}")
    misses: list[str] = []
    met: list[str] = []
    for service in SERVICES:
        hub = report.hub.get(service)
        if hub is None:
            continue
        ceiling, naive = report.ceiling.get(service), report.naive.get(service)
        c = ceiling.per_second if ceiling else 0.0
        n = naive.per_second if naive else 0.0
        r_c = f"{hub.per_second / c:.2f}" if c else "n/a"
        r_n = f"{hub.per_second / n:.2f}" if n else "n/a"
        print(f"{service:<11} {hub.items:>7,} {hub.per_second:>8.2f} {(f'{c:.2f}' if c else 'n/a'):>10} "
              f"{(f'{n:.2f}' if n else 'n/a'):>8} {r_c:>12} {r_n:>10}"
              + (f"   ({hub.reached:,} of {hub.items:,} through)" if hub.reached < hub.items else ""))
        if c:
            (misses if hub.per_second / c < 0.8 else met).append(
                f"{service}: hub ÷ ceiling {hub.per_second / c:.2f} {'<' if hub.per_second / c < 0.8 else '≥'} 0.8")
        if naive and service != "fritak":
            r = hub.per_second / naive.per_second
            (misses if r < 3 else met).append(f"{service}: hub ÷ one-task-per-item {r:.2f} {'<' if r < 3 else '≥'} 3")
    if len(report.hub) > 1 and report.ceiling:
        hub_all, ceiling_all, naive_all = (together(rates) for rates in (report.hub, report.ceiling, report.naive))
        c, n = ceiling_all.per_second, naive_all.per_second
        print(f"{'all':<11} {hub_all.items:>7,} {hub_all.per_second:>8.2f} {c:>10.2f} {(f'{n:.2f}' if n else 'n/a'):>8} "
              f"{hub_all.per_second / c:>12.2f} {(f'{hub_all.per_second / n:.2f}' if n else 'n/a'):>10}")
        (misses if hub_all.per_second / c < 0.8 else met).append(
            f"all services together: hub ÷ ceiling {hub_all.per_second / c:.2f} "
            f"{'<' if hub_all.per_second / c < 0.8 else '≥'} 0.8")
        print("all: every item of the phase over the phase's time. The services share RT's slots, and each phase "
              "shares them out its own way (the ceiling and the naive baseline first come first served, the hub a "
              "slot lent within a run for up to 10 s): a service's own figure there says how the slots were shared "
              "as much as how fast it went")
    for service, one in report.naive_one.items():
        hub = report.hub.get(service)
        if hub and one.per_second:
            print(f"{service}: the naive tasks one at a time ({one.items:,} items, as batches were walked before "
                  f"issue 12): {one.per_second:.2f}/s; hub ÷ that {hub.per_second / one.per_second:.2f} (not the "
                  f"target's measure: the naive baseline above works on as many at once as the hub)")
    with_runs, fritak_hub = report.ceiling_case_runs.get("fritak"), report.hub.get("fritak")
    if with_runs and fritak_hub and with_runs.per_second:
        print(f"fritak, the ceiling with each case's run created in Prefect too (as the intake creates them: "
              f"bulk, suspended, with the case handler's form; the same HTTP calls plus Prefect's): "
              f"{with_runs.per_second:.2f}/s; hub ÷ that {fritak_hub.per_second / with_runs.per_second:.2f}. "
              f"The target is judged against the ceiling without Prefect (above); this one says how much of the "
              f"gap is the case runs themselves")
    print("fritak: no naive phase (its submissions would be the hub's fritak-intake's too); the hub's case run per "
          "application, running up to the decision, was 0.13 of the ceiling (docs/benchmarks.md). The naive phase "
          "and the ceiling onboard as many hires at once as the hub can (the onboarding deployment's limit of runs "
          "times HUB_BURST_PARALLEL), beside the forms")
    for worker, mib in sorted(report.rss_peak_mib.items()):
        print(f"worker peak RSS ({worker} and its flow-run processes) at {s.rooms:,} rooms submissions: {mib:.0f} MiB")
    print("worker peak RSS 50k vs 10k rooms: python -m bench.worker_memory (a backlog of 50,000 here takes hours)")
    print(f"Prefect events: {report.events}")
    dropped = report.events.get("dropped (server log)", 0)
    lost_tasks = report.events.get("naive task runs expected", 0) - report.events.get("naive task runs stored", 0)
    if dropped or lost_tasks > 0:
        misses.append(f"Prefect events dropped: {dropped} in the server log, {lost_tasks} naive task runs not stored")
    elif "stored" in report.events:
        met.append(f"Prefect events: {report.events['stored']:,} stored, 0 dropped")
    print_cpu(report.cpu, report.split)
    for phase, used in report.slots.items():
        print(f"RT's write slots ({used.name!r}, {used.slots}) in the {phase} phase: {used.describe()}")
    if report.hr_to_code:
        print(f"HR event → onboarding code: p50 {statistics.median(report.hr_to_code):.2f} s, "
              f"p95 {percentile(report.hr_to_code, 0.95):.2f} s, max {max(report.hr_to_code):.2f} s "
              f"({len(report.hr_to_code)} hires)")
    for note in report.notes:
        print(f"note: {note}")
    print("\n== Targets ==")
    print("\n".join([*(f"MISSED: {m}" for m in misses), *(f"met: {m}" for m in met)]))
    if not report.ceiling and not report.naive:
        print("hub ÷ ceiling, hub ÷ naive: not measured (this run had no ceiling and no naive phase)")
    if report.kill:
        print_kill(report.kill)
    print("\n== Invariants ==")
    for v in report.verdicts:
        print(f"[{'PASS' if v.held else 'FAIL'}] {v.name}: {v.counts}")
        for finding in v.findings[:12]:
            print(f"        - {finding}")
    sys.stdout.flush()
    return all(v.held for v in report.verdicts)


def cpu_bound(phases: dict[str, PhaseCpu], split: Cores | None = None) -> float | None:
    """About the highest hub ÷ ceiling, all together, that the CPU the hub phase spent allows:
    the ceiling phase's time over the least time the hub phase's CPU-seconds take with every
    core busy (both phases' times include the submissions, so it is not exact). On shared
    cores both phases keep the cores 85-95 % busy at the issue's load, so the CPU per item,
    not a wait, holds the ratio down there. None without both phases, and with the cores
    split (``--split-cores``: neither phase could use every core)."""
    hub, ceiling = phases.get("hub"), phases.get("ceiling")
    if split is not None or hub is None or ceiling is None or hub.total <= 0 or ceiling.seconds <= 0:
        return None
    return ceiling.seconds / (hub.total / hub.cores)


def print_cpu(phases: dict[str, PhaseCpu], split: Cores | None = None) -> None:
    """CPU-seconds of each phase by role, how busy it kept the machine, and the CPU per item of
    everything but the peers: what driving them cost (the hub and Prefect; the bare client).
    With the cores split (``--split-cores``), how busy each half was."""
    if not phases:
        return
    cores = next(iter(phases.values())).cores
    print(f"CPU-seconds by phase ({cores} cores, " + (f"split: {split.describe()}):" if split else "shared by every part):"))
    print(f"{'phase':<8} {'wall s':>7} " + " ".join(f"{r:>8}" for r in ROLES)
          + f" {'total':>7} {'busy':>6} {'not peers/item':>15}")
    for name, cpu in phases.items():
        mine = cpu.per_item(*(r for r in ROLES if r != "peers"))
        print(f"{name:<8} {cpu.seconds:>7.0f} " + " ".join(f"{cpu.by_role.get(r, 0.0):>8.1f}" for r in ROLES)
              + f" {cpu.total:>7.1f} {cpu.busy:>6.0%} {(f'{mine:.2f}' if mine is not None else 'n/a'):>15}"
              + (f"   (restarted meanwhile, partly counted: {', '.join(cpu.restarted)})" if cpu.restarted else ""))
    if split:
        drivers, peers = len(split.drivers), len(split.peers)
        for name, cpu in phases.items():
            if cpu.seconds > 0:
                driving = cpu.total - cpu.by_role.get("peers", 0.0)
                print(f"  {name}: the peers' {peers} core(s) {cpu.by_role.get('peers', 0.0) / (cpu.seconds * peers):.0%} "
                      f"busy, the other {drivers} {driving / (cpu.seconds * drivers):.0%}")
    bound = cpu_bound(phases, split)
    if bound is not None:
        hub, ceiling = phases["hub"], phases["ceiling"]
        print(f"  hub ÷ ceiling all together can reach about {bound:.2f} at most with the CPU the hub phase spent: its "
              f"{hub.total:,.0f} CPU-s take {hub.total / hub.cores:,.0f} s or more on {hub.cores} cores, and the "
              f"ceiling took {ceiling.seconds:,.0f} s")
    for role in ROLES:
        print(f"  {role}: {ROLE_NOTES[role]}")
    for name, cpu in phases.items():
        parts = sorted(((p, s) for p, s in cpu.by_part.items() if s >= 0.5), key=lambda ps: -ps[1])
        print(f"  {name} by part: " + ", ".join(f"{p} {s:.1f}" for p, s in parts))


def print_kill(kill: dict[str, Any]) -> None:
    print("\n== Worker killed (kill -9 of its process group) ==")
    if "skipped" in kill:
        print(f"NOT KILLED: {kill['skipped']}")
        return
    print(f"{kill['worker']} (pid {kill['pid']}, {len(kill['pids'])} processes) at t={kill['t']:.0f} s of the hub "
          f"phase, {kill['through']} items through; it held {len(kill['runs'])} flow run(s) with "
          f"{len(kill['items'])} item(s) running; restarted: "
          f"{'YES' if kill.get('worker_alive_after') else 'no (no supervisor in this bench)'}; "
          f"workers left: {', '.join(kill.get('workers_alive_after', []))}")
    if kill.get("left"):
        print(f"processes of its group still alive 10 s after the kill: {kill['left']}")
    for run in kill["runs"]:
        print(f"  run {run['name']} ({run['id']}): {run['state']} when killed, {run.get('state_after', '?')} "
              f"{run.get('after_kill_s')} s after the kill (zombie window {kill.get('zombie_after_s')}"
              f" s after its last heartbeat)")
    outcomes = Counter(f"{i['state']}, re-driven {i.get('redrives', 0)}x" for i in kill.get("item_outcomes", []))
    print(f"  its items now: {dict(outcomes) or 'none running'}")
    print(f"  redrive-stuck passes started by the bench after the kill, as its 2-minute schedule would: "
          f"{kill.get('scheduled_redrives', 0)} (it also starts on every Crashed run)")


def main(argv: list[str] | None = None) -> int:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=("embedded", "scaled"), default="embedded")
    parser.add_argument("--workers", type=int, default=3, help="workers of --stack scaled")
    parser.add_argument("--small", action="store_true", help=f"a few hundred items: {SMALL}")
    for name, full in (("rooms", FULL.rooms), ("fritak", FULL.fritak), ("laptops", FULL.laptops),
                       ("hires", FULL.hires)):
        parser.add_argument(f"--{name}", type=int, help=f"items of this service per phase (full size: {full:,})")
    parser.add_argument("--no-compare", action="store_true", help="the hub only: no naive baseline, no ceiling")
    parser.add_argument("--naive-one-at-a-time", type=int, default=0, metavar="N",
                        help="also the naive tasks one at a time, on N items of each service (as batches were "
                             "walked before issue 12; an extra figure)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="longest wait of each phase, seconds")
    parser.add_argument("--order", type=parse_order, default=ORDER, metavar="PHASES",
                        help=f"the phases' order, comma-separated (default {','.join(ORDER)}); ceiling,hub "
                             "leaves the naive baseline out")
    parser.add_argument("--fresh-stack", dest="fresh_stack", action="store_true",
                        help="(the default) each phase on a new stack of its own (the same software and settings, "
                             "empty), so no phase meets another's history in RT, Radicale, Prefect or the ledger; "
                             "a stack's start-up is not timed; --order may leave out the hub's phase")
    parser.add_argument("--one-stack", dest="fresh_stack", action="store_false",
                        help="every phase on one stack, one after the other: one start-up, but each phase leaves "
                             "RT and Radicale bigger for the phases after it, which flatters the phase run first")
    parser.set_defaults(fresh_stack=True)
    parser.add_argument("--split-cores", action="store_true",
                        help="the peers (RT, Radicale, the sandboxes) on half the cores, everything else on the "
                             "other half, in every phase: as if the peers ran on hosts of their own (bench.cpu)")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--kill-worker", action="store_true",
                        help="--stack scaled: kill -9 one worker (its process group) during the hub phase; not "
                             "restarted; the stack runs with the short recovery windows (bench.kills.SHORT_WINDOWS)")
    parser.add_argument("--kill-at", type=float, default=1 / 3,
                        help="--kill-worker: the fraction of the hub phase's items through before the kill")
    parser.add_argument("--report-json", type=Path, help="also write the figures, the kill and the invariants here")
    args = parser.parse_args(argv)
    if "hub" not in args.order and not args.fresh_stack:
        parser.error("--order without the hub's phase needs a stack per phase (leave out --one-stack)")
    if args.kill_worker and (args.stack != "scaled" or args.workers < 2):
        parser.error("--kill-worker needs --stack scaled and at least 2 workers (the others finish its items)")
    base = SMALL if args.small else FULL
    sizes = Sizes(**{k: getattr(args, a) if getattr(args, a) is not None else getattr(base, k)
                     for k, a in (("rooms", "rooms"), ("fritak", "fritak"), ("laptops", "laptops"),
                                  ("hires", "hires"))})
    home = args.home or Path(tempfile.mkdtemp(prefix="hub-backlog-"))
    env = {"HUB_PAUSE_SCHEDULES": "1"}
    if args.kill_worker:
        from bench.kills import SHORT_WINDOWS

        env.update(SHORT_WINDOWS)

    def make_stack(where: Path) -> Stack:
        # Every block holding global slots appends its hold to the stack's trace: the hub's
        # processes, and the naive phase's tasks in this one (bench.slot_trace).
        traced = {**env, SLOT_TRACE: str(where / SLOT_TRACE_FILE)}
        os.environ[SLOT_TRACE] = traced[SLOT_TRACE]
        if args.stack == "scaled":
            from devtools.scaled import ScaledStack

            return ScaledStack(home=where, ports=StackPorts.free(), extra_env=traced, workers=args.workers)
        return Stack(home=where, ports=StackPorts.free(), extra_env=traced)

    shape = (f"the production shape ({args.workers} workers, PostgreSQL, Redis)" if args.stack == "scaled"
             else "the embedded stack (runner, SQLite)")
    say(f"home {home}; sizes {sizes}")
    started = time.monotonic()
    order = ("hub",) if args.no_compare else args.order
    fresh = args.fresh_stack and len(order) > 1
    reports: list[Report] = []
    # A new stack per phase (the default), so that no phase meets another's history in RT,
    # Radicale, Prefect or the ledger; or (--one-stack, or one phase) one stack for every phase.
    for phases in ([(p,) for p in order] if fresh else [order]):
        stack = make_stack(home / phases[0] if fresh else home)
        try:
            label = f"stack ({phases[0]})" if fresh else "stack"

            def progress(message: str, label: str = label) -> None:
                say(f"{label}: {message}")

            stack.start_all(progress=progress)
            with (CoreSplit(functools.partial(_parts, stack)) if args.split_cores
                  else contextlib.nullcontext()) as split:
                if split is not None:
                    say(f"{label}: {split.cores.describe()} ({split.moved} threads moved)")
                reports.append(run_backlog(
                    stack, sizes, compare=not args.no_compare, timeout=args.timeout,
                    kill_worker=args.kill_worker and "hub" in phases, kill_at=args.kill_at, redrive_schedule=True,
                    naive_one=args.naive_one_at_a_time if not args.no_compare else 0, order=phases,
                    own_stack=True))
                if split is not None:
                    reports[-1].split = split.cores
        finally:
            stack.stop_all()
            say(f"stopped after {time.monotonic() - started:.0f} s ({cpu_seconds():.0f} CPU-seconds of the bench "
                f"and its stack); logs in {stack.logs}")
    report = merged(reports, order) if fresh else reports[0]
    ok = print_report(report, shape + (", a fresh stack per phase" if fresh else ""))
    if args.report_json:
        write_json(report, args.report_json)
    print("All invariants hold." if ok else "FAILED invariants (above).", flush=True)
    return 0 if ok else 1


def merged(reports: list[Report], order: tuple[str, ...]) -> Report:
    """One report of the phases, each run on a stack of its own. Counts
    (events) add up; each invariant is named with its phase."""
    whole = Report(reports[0].sizes, order=order, fresh_stacks=True)
    for phase, part in zip(order, reports, strict=True):
        for name in ("hub", "naive", "naive_one", "ceiling", "ceiling_case_runs", "rss_peak_mib", "cpu", "slots"):
            getattr(whole, name).update(getattr(part, name))
        for key, count in part.events.items():
            whole.events[key] = whole.events.get(key, 0) + count
        whole.hr_to_code += part.hr_to_code
        whole.notes += [f"{phase} stack: {note}" for note in part.notes]
        whole.verdicts += [Verdict(f"{v.name} ({phase} stack)", v.held, v.counts, v.findings) for v in part.verdicts]
        whole.kill = whole.kill or part.kill
        whole.split = whole.split or part.split
    return whole


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps({
        "sizes": vars(report.sizes),
        "order": list(report.order),
        "fresh_stacks": report.fresh_stacks,
        **{phase: {s: {"items": r.items, "reached": r.reached, "seconds": round(r.seconds, 1),
                       "per_second": round(r.per_second, 3)} for s, r in rates.items()}
           for phase, rates in (("hub", report.hub), ("ceiling", report.ceiling), ("naive", report.naive),
                                ("ceiling_case_runs", report.ceiling_case_runs), ("naive_one", report.naive_one))},
        "hr_to_code": {"p50": statistics.median(report.hr_to_code), "p95": percentile(report.hr_to_code, 0.95),
                       "count": len(report.hr_to_code)} if report.hr_to_code else {},
        "kill": report.kill,
        "cpu": {phase: {"seconds": round(c.seconds, 1), "items": c.items, "busy": round(c.busy, 3),
                        "by_role": {r: round(v, 1) for r, v in c.by_role.items()},
                        "by_part": {p: round(v, 1) for p, v in c.by_part.items()}, "restarted": c.restarted}
                for phase, c in report.cpu.items()},
        "hub_over_ceiling_cpu_bound": None if (bound := cpu_bound(report.cpu, report.split)) is None
        else round(bound, 3),
        "slots": {phase: vars(used) for phase, used in report.slots.items()},
        "split_cores": report.split.describe() if report.split else None,
        "invariants": [{"name": v.name, "held": v.held, "counts": v.counts, "findings": v.findings}
                       for v in report.verdicts],
        "notes": report.notes}, ensure_ascii=False, indent=2, default=str))


SLOT_TRACE_FILE = "slot-trace.jsonl"
TRACED_LIMIT = "ticketing"  # RT's write slots: what the laptop orders and the onboarding queue for


def slot_trace_of(stack: Stack) -> Path:
    return stack.home / SLOT_TRACE_FILE


def note_slots(report: Report, phase: str, holds: list[Hold]) -> None:
    """How the phase used RT's write slots, if any block of it took one."""
    from hub.services import catalog
    from hub.settings import get_settings

    size = catalog().limits(get_settings().limits).get(TRACED_LIMIT)
    used = occupancy(holds, TRACED_LIMIT, size) if size else None
    if used is not None:
        report.slots[phase] = used


def cpu_seconds() -> float:
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


if __name__ == "__main__":
    sys.exit(main())
