"""CPU-seconds of a stack's parts over a phase of a benchmark, by role.

On one machine every part of the stack shares the same cores: the Prefect API with its services
and databases, the hub's workers with their flow-run processes, and the peers (RT, Radicale, the
sandboxes). A phase that keeps the cores busy is bound by CPU, not by the peers' latency, and a
ratio such as "hub ÷ ceiling" then says as much about who else wanted the cores as about the
hub. This module says which part took them, and what the hub costs per item on the Prefect
side and on its own (what a host for the hub is sized by).

A part's CPU is that of its process and every descendant: the live ones' own time plus the time
of the descendants they have reaped (``cutime``/``cstime``), so a flow-run process that came and
went within the phase is counted through the worker (or fork server) that reaped it.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["ROLES", "CoreSplit", "Cores", "PhaseCpu", "Snapshot", "phase_cpu", "role_of", "snapshot", "tree_cpu"]

ROLES = ("Prefect", "hub", "peers", "bench")
ROLE_NOTES = {
    "Prefect": "the API and its services; on the production shape also PostgreSQL (Prefect's and the ledger's) "
               "and Redis",
    "hub": "the runner or workers with their flow-run processes, and the intake",
    "peers": "RT, Radicale, the sandboxes and the SMTP sink",
    "bench": "this process: it submits the forms and polls the ledger; in the ceiling phase it is the bare client",
}
_PREFECT = frozenset({"prefect-server", "prefect-services", "postgres", "redis"})
_HZ = os.sysconf("SC_CLK_TCK")


def role_of(part: str) -> str:
    """The role of a stack part by its name in ``Stack.procs``."""
    if part in _PREFECT:
        return "Prefect"
    if part in ("runner", "intake") or part.startswith("worker-"):
        return "hub"
    return "peers"


def _own_and_reaped(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime ...
    return sum(int(f) for f in fields[11:15]) / _HZ


def tree_cpu(pid: int, table: Mapping[int, object] | None = None) -> float:
    """CPU-seconds of ``pid`` and all its descendants, live and reaped (see the module)."""
    from sandbox.procs import descendants

    pids = [pid] + [info.pid for info in descendants(pid, table)]  # type: ignore[arg-type]
    return sum(cpu for cpu in map(_own_and_reaped, pids) if cpu is not None)


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    parts: dict[str, tuple[int, float]]  # part → (pid, CPU-seconds so far)
    bench: float  # this process's own CPU-seconds (all its threads)


def snapshot(pids: Mapping[str, int]) -> Snapshot:
    """The CPU so far of each part (``name → pid``, e.g. ``{n: p.pid for n, p in stack.procs.items()}``)."""
    from sandbox.procs import process_table

    table = process_table()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return Snapshot(time.monotonic(), {name: (pid, tree_cpu(pid, table)) for name, pid in pids.items()},
                    own.ru_utime + own.ru_stime)


@dataclass
class PhaseCpu:
    seconds: float  # wall-clock length of the phase
    by_role: dict[str, float] = field(default_factory=dict)
    by_part: dict[str, float] = field(default_factory=dict)  # the same, per part (``radicale``, ``rt``...)
    cores: int = 1
    items: int = 0  # items the phase put through
    restarted: list[str] = field(default_factory=list)  # parts whose process was replaced meanwhile

    @property
    def total(self) -> float:
        return sum(self.by_role.values())

    @property
    def busy(self) -> float:
        """The share of the machine's cores the phase kept busy (0–1)."""
        return self.total / (self.seconds * self.cores) if self.seconds > 0 else 0.0

    def per_item(self, *roles: str) -> float | None:
        return sum(self.by_role.get(r, 0.0) for r in roles) / self.items if self.items else None


def phase_cpu(before: Snapshot, after: Snapshot, *, items: int = 0, cores: int | None = None) -> PhaseCpu:
    """CPU-seconds per role between two snapshots. A part restarted in between (another pid) counts
    from its new start: the old process's last seconds are not known and are left out (named in
    ``restarted``); a part gone at the end is left out likewise."""
    cpu = PhaseCpu(after.at - before.at, {role: 0.0 for role in ROLES}, cores=cores or os.cpu_count() or 1, items=items)
    for name, (pid, spent) in after.parts.items():
        earlier = before.parts.get(name)
        if earlier is not None and earlier[0] != pid:
            cpu.restarted.append(name)
            earlier = None
        spent = max(0.0, spent - (earlier[1] if earlier else 0.0))
        cpu.by_role[role_of(name)] += spent
        cpu.by_part[name] = spent
    cpu.restarted += sorted(set(before.parts) - set(after.parts))
    cpu.by_role["bench"] = max(0.0, after.bench - before.bench)
    return cpu


@dataclass(frozen=True)
class Cores:
    """How :class:`CoreSplit` shares the cores out: the drivers' and the peers'."""

    drivers: frozenset[int]
    peers: frozenset[int]

    def describe(self) -> str:
        return (f"the peers on CPU {_cpus(self.peers)}, everything else (Prefect, the databases, the hub's "
                f"processes, this bench and its bare client) on CPU {_cpus(self.drivers)}")


class CoreSplit:
    """The peers on cores of their own (``--split-cores``), as they would be on hosts of their own.

    On one machine the hub's CPU is taken from RT and Radicale, which in production run
    elsewhere: a phase that costs more CPU slows the peers it drives. With the split, the
    peers (RT, Radicale, the sandboxes, the SMTP sink) run on the upper half of the cores and
    everything else (Prefect, PostgreSQL, Redis, the workers and their flow-run processes, the
    intake, and this process, the bare client of the ceiling phase) on the lower half: every
    phase gets the same cores for the peers and the same for what drives them.

    Processes started later inherit their parent's cores; a thread re-applies the split every
    ``every`` seconds for parts that were restarted meanwhile (a restarted peer starts from
    this process's cores). Used as a context manager; at its end this process has its cores
    back. Linux only (``sched_setaffinity``), and at least two cores.
    """

    def __init__(self, parts: Callable[[], Mapping[str, int]], *, every: float = 2.0,
                 cpus: set[int] | None = None) -> None:
        self._mine = frozenset(os.sched_getaffinity(0))  # this process's cores, given back at the end
        usable = sorted(cpus if cpus is not None else self._mine)
        if len(usable) < 2:
            raise ValueError(f"--split-cores needs at least two cores; this process may use {usable}")
        half = len(usable) // 2
        self.cores = Cores(drivers=frozenset(usable[:half]), peers=frozenset(usable[half:]))
        self._parts, self._every = parts, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.moved = 0  # threads put on their cores so far (a check that the split took hold)

    def apply(self) -> int:
        """Put every thread of every part (and of this process) on its cores; how many moved."""
        from sandbox.procs import descendants, process_table

        table = process_table()
        moved = _pin(os.getpid(), self.cores.drivers)
        for name, pid in self._parts().items():
            cores = self.cores.peers if role_of(name) == "peers" else self.cores.drivers
            for each in [pid] + [info.pid for info in descendants(pid, table)]:
                moved += _pin(each, cores)
        self.moved += moved
        return moved

    def __enter__(self) -> CoreSplit:
        self.apply()
        self._thread = threading.Thread(target=self._keep, name="core split", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        _pin(os.getpid(), self._mine)  # the next stack's split starts from every core again

    def _keep(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.apply()
            except Exception as exc:  # a part going away mid-walk; the next turn sees the new state
                print(f"[cpu] could not keep the core split this turn: {exc}", flush=True)


def _pin(pid: int, cores: frozenset[int]) -> int:
    """Every thread of ``pid`` on ``cores``; how many had to move. Gone processes are skipped."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return 0
    moved = 0
    for tid in tids:
        try:
            if os.sched_getaffinity(tid) != cores:
                os.sched_setaffinity(tid, cores)
                moved += 1
        except OSError:  # ended meanwhile
            continue
    return moved


def _cpus(cores: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cores))
