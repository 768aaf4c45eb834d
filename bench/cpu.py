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
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ROLES", "PhaseCpu", "Snapshot", "phase_cpu", "role_of", "snapshot", "tree_cpu"]

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
