"""Killing hub processes, shared by the benches (:mod:`bench.chaos`, :mod:`bench.backlog`).

- :data:`SHORT_WINDOWS`: the recovery windows of a bench's own stack (a dead run found after
  40 s instead of 90 s, and so on), so a kill is recovered from in a bench's time;
- :func:`flow_run_processes`: the flow-run processes of a runner or worker (the children of
  its fork server);
- :func:`kill_worker_group`: ``kill -9`` of a worker and every process of its group (its fork
  server and the flow runs forked from it), as a host dying would; the flow runs it held
  are read from Prefect first (their ``infrastructure_pid`` is the pid of their process);
- :func:`stop_on_sigterm`: a bench that gets SIGTERM stops its own stack, as on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

import httpx

from devtools.stack import Stack
from sandbox.procs import Proc, ProcInfo, descendants, group_members

__all__ = ["SHORT_WINDOWS", "flow_run_processes", "runs_held", "kill_worker_group", "stop_on_sigterm"]

# The bench's own stack only (production keeps the defaults of hub.recovery and hub.config):
# a dead run is found 40 s after its last heartbeat instead of 90 s, a dead item's lease ends
# after 15 s instead of 60 s, an expired slot lease is taken back within 5 s instead of 15 s
# — the windows tests/e2e/test_recovery.py proves the recovery with.
SHORT_WINDOWS = {
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # Prefect's minimum
    "HUB_ZOMBIE_AFTER_SECONDS": "40",  # > one heartbeat period, + margin for a busy machine
    "HUB_ITEM_LEASE_SECONDS": "15",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",
    "HUB_SLOT_WAIT_SECONDS": "45",  # a slot request nobody answers gives up within the settle time
}

ACTIVE = ["RUNNING", "PENDING", "CANCELLING"]


def flow_run_processes(proc: Proc) -> list[ProcInfo]:
    """The flow-run processes of a runner or worker: the children of its fork server (the
    fork server itself is a direct child of the runner or worker)."""
    return [p for p in descendants(proc.pid) if p.ppid != proc.pid]


def runs_held(stack: Stack, pids: set[int]) -> list[dict[str, Any]]:
    """The active flow runs whose process is one of ``pids`` (id, name, state, deployment)."""
    response = httpx.post(f"{stack.prefect_api}/flow_runs/filter", timeout=30, json={
        "flow_runs": {"state": {"type": {"any_": ACTIVE}}}, "limit": 200})
    response.raise_for_status()
    held = []
    for run in response.json():
        pid = str(run.get("infrastructure_pid") or "").rsplit(":", 1)[-1]
        if pid.isdigit() and int(pid) in pids:
            held.append({"id": run["id"], "name": run["name"], "state": run["state"]["name"],
                         "deployment_id": run.get("deployment_id"), "pid": int(pid)})
    return held


def kill_worker_group(stack: Stack, name: str) -> dict[str, Any]:
    """``kill -9`` worker ``name`` and its whole process group (fork server, flow runs), as a
    host dying would. A supervisor (if the stack has one) is told to hold it: nobody restarts it.

    Returns what was killed: ``pid``, ``at`` (epoch seconds), ``pids`` of the group and the
    ``runs`` it held (:func:`runs_held`, read just before the kill)."""
    proc = stack.procs[name]
    members = {p.pid for p in group_members(proc.pid)} | {proc.pid}
    runs = runs_held(stack, members)
    if stack.supervisor is not None:
        stack.supervisor.hold(name)
    at = time.time()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group of its leader: Proc starts a session of its own
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and group_members(proc.pid):
        time.sleep(0.2)
    return {"worker": name, "pid": proc.pid, "at": at, "pids": sorted(members), "runs": runs,
            "left": [str(p) for p in group_members(proc.pid)]}


def stop_on_sigterm() -> None:
    """SIGTERM (a CI job's timeout, a test's, an operator's) stops the bench as Ctrl-C does: its
    ``finally`` stops its stack, no orphans left. A second SIGTERM while it stops is ignored:
    ``timeout`` and ``pkill`` both sending one interrupted the stop and left a whole stack
    (Prefect, Radicale, RT, the sandboxes) running."""

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
