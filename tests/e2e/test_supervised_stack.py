"""The supervisor on the real stack: a runner killed with ``kill -9`` (the leader only, as in
issue 9, finding 1) is cleared away with its fork server and restarted, and takes work again.

The session's stack is shared: supervision is switched off again afterwards, and a runner
that did not come back is started by hand, so later tests find the stack as it was.
"""

from __future__ import annotations

import asyncio

from devtools.stack import Stack
from devtools.supervise import Policy
from sandbox.procs import process_table, python_module


def test_a_killed_runner_is_restarted_without_leftovers_and_runs_flows(stack: Stack) -> None:
    said: list[str] = []
    supervisor = stack.supervise(policy=Policy(ready_timeout=180), say=said.append)
    old = stack.procs["runner"]
    family = {p.pid for p in old.group()} - {old.pid}
    assert family, "the runner's fork server should share its process group"
    try:
        stack.kill("runner")
        seconds = stack.wait_restarted("runner", timeout=240)

        new = stack.procs["runner"]
        assert new.pid != old.pid and new.alive()
        assert not family & set(process_table()), "the dead runner's fork server or runs were left running"
        assert any(f"runner (pid {old.pid}) died: killed by SIGKILL" in line for line in said)
        print(f"[supervise] runner back {seconds:.1f} s after kill -9", flush=True)

        from prefect.deployments.flow_runs import arun_deployment

        run = asyncio.run(arun_deployment("dead-letters/dead-letters", timeout=120, poll_interval=0.5))
        assert run.state is not None and run.state.is_completed(), run.state
    finally:
        supervisor.stop()
        stack.supervisor = None
        if not stack.procs["runner"].alive():
            stack.procs["runner"].stop()
            stack._start("runner", python_module("deployments"))
            stack.wait_runner()
