"""The local supervisor: a crashed part is cleared away with its process group and restarted
with back-off; a crash loop is given up with a clear message; a deliberate stop restarts nothing.

Toy parts are small Python processes; each forks a child into its process group, as the hub
runner forks its fork server and flow runs.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.stack import Stack
from devtools.supervise import Policy, Supervisor
from sandbox.procs import Proc, ProcInfo, describe_exit, process_table, start

FAST = Policy(first_delay=0.2, max_delay=0.8, stable_after=30.0, give_up_after=4, ready_timeout=10.0,
              orphan_grace=0.5, poll=0.05)

# A parent that forks a long-lived child into its own group, notes both pids, then waits.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1], "a") as pids:
    pids.write(f"{os.getpid()} {child.pid}\\n")
print("toy ready, mark", os.environ.get("TOY_MARK"), flush=True)
time.sleep(600)
"""

CRASHER = "import sys; print('boom: HUB_TOY__URL is not set', flush=True); sys.exit(3)"


def _alive(pid: int) -> bool:
    info = process_table().get(pid)
    return info is not None


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _pids(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]


def _toy_ready(name: str, proc: Proc) -> bool:
    return "toy ready" in proc.output()


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[tuple[dict[str, Proc], Path]]:
    pid_file = tmp_path / "pids"
    procs = {"toy": start("toy", [sys.executable, "-c", PARENT, str(pid_file)], log_dir=tmp_path / "logs",
                          env={"TOY_MARK": "same-env"})}
    _wait(lambda: len(_pids(pid_file)) == 1)
    yield procs, pid_file
    for proc in procs.values():
        proc.stop(grace=1)


def test_killed_part_loses_its_orphans_and_comes_back_with_back_off(toy: tuple[dict[str, Proc], Path]) -> None:
    procs, pid_file = toy
    said: list[str] = []
    supervisor = Supervisor(procs, ready=_toy_ready, policy=FAST, say=said.append).start()
    try:
        parent, child = _pids(pid_file)[0]
        assert procs["toy"].pid == parent and _alive(child)
        assert {p.pid for p in procs["toy"].group()} == {parent, child}

        os.kill(parent, signal.SIGKILL)
        first = supervisor.wait_for("toy", "restarted", after=0, timeout=10)

        assert not _alive(child), "the dead part's child was left running"
        assert supervisor.restarts("toy") == 1 and supervisor.state("toy") == "up"
        new_parent, new_child = _pids(pid_file)[1]
        assert procs["toy"].pid == new_parent != parent and _alive(new_child)
        died = [e for e in supervisor.events if e.kind == "died"]
        assert died[0].delay == 0.2 and died[0].pid == parent
        assert first.downtime is not None and 0.2 <= first.downtime < 5
        line = next(s for s in said if "died" in s)
        assert f"toy (pid {parent}) died: killed by SIGKILL" in line
        assert str(procs["toy"].log_path) in line and "Restarting in 0.2 s" in line
        assert "python" in line and str(child) in line  # names what it cleared away

        # A second crash soon after is a quick failure: the back-off doubles.
        os.kill(new_parent, signal.SIGKILL)
        supervisor.wait_for("toy", "restarted", after=1, timeout=10)
        assert [e.delay for e in supervisor.events if e.kind == "died"] == [0.2, 0.4]
        assert not _alive(new_child) and supervisor.restarts("toy") == 2

        # Same command, environment and log file: three starts, one log.
        log = procs["toy"].log_path.read_text()
        assert log.count("toy ready, mark same-env") == 3
    finally:
        supervisor.stop()


def test_back_off_is_capped_and_resets_after_a_stable_run() -> None:
    policy = Policy(first_delay=1, max_delay=60)
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_crash_loop_is_given_up_with_what_to_do(tmp_path: Path) -> None:
    procs = {"crasher": start("crasher", [sys.executable, "-c", CRASHER], log_dir=tmp_path)}
    said: list[str] = []
    supervisor = Supervisor(procs, policy=FAST, say=said.append,
                            advice="set HUB_TOY__URL, then start the stack again").start()
    try:
        gave_up = supervisor.wait_for("crasher", "gave-up", timeout=15)
        restarts = supervisor.restarts("crasher")
        time.sleep(1.0)  # several polls and more than the longest back-off: nothing more happens
        assert supervisor.restarts("crasher") == restarts == FAST.give_up_after - 1
        assert supervisor.state("crasher") == "given-up" and not procs["crasher"].alive()
        assert [e.delay for e in supervisor.events if e.kind == "died"] == [0.2, 0.4, 0.8]
        assert "GIVING UP on crasher after 4 failures in a row" in gave_up.detail
        assert "exit code 3" in gave_up.detail and str(procs["crasher"].log_path) in gave_up.detail
        assert "What to do" in gave_up.detail and "set HUB_TOY__URL" in gave_up.detail
        assert "boom: HUB_TOY__URL is not set" in gave_up.detail  # the log's last lines
        assert any("GIVING UP" in line for line in said)
        with pytest.raises(RuntimeError, match="GIVING UP"):  # a waiter is told, not left hanging
            supervisor.wait_for("crasher", "restarted", after=restarts, timeout=5)
    finally:
        supervisor.stop()


def test_deliberate_stop_restarts_nothing_and_leaves_nothing(tmp_path: Path,
                                                           toy: tuple[dict[str, Proc], Path]) -> None:
    procs, pid_file = toy
    stack = Stack(home=tmp_path)
    stack.procs.update(procs)
    supervisor = stack.supervise(policy=FAST, say=lambda line: None)
    parent, child = _pids(pid_file)[0]

    stack.stop_all()  # what Ctrl-C in the demo does
    time.sleep(0.5)  # ten polls

    assert supervisor.stopping and supervisor.events == []
    assert not _alive(parent) and not _alive(child)
    assert len(_pids(pid_file)) == 1 and stack.procs == {}


def test_stack_kill_and_wait_restarted_and_hold(tmp_path: Path, toy: tuple[dict[str, Proc], Path]) -> None:
    procs, pid_file = toy
    stack = Stack(home=tmp_path)
    stack.procs.update(procs)
    stack.supervise(policy=FAST, say=lambda line: None)
    try:
        killed = stack.kill("toy")
        seconds = stack.wait_restarted("toy", timeout=10)
        assert 0.2 <= seconds < 5 and stack.procs["toy"].pid != killed and stack.procs["toy"].alive()
        _wait(lambda: len(_pids(pid_file)) == 2)  # the stack's probe for an unknown part: alive is ready

        # Injected kills (chaos) are not a crash loop: no growing back-off, never given up.
        stack.kill("toy")
        stack.wait_restarted("toy", timeout=10)
        _wait(lambda: len(_pids(pid_file)) == 3)
        assert stack.supervisor is not None
        assert [e.delay for e in stack.supervisor.events if e.kind == "died"] == [0.2, 0.2]

        held = stack.kill("toy", hold=True)
        _wait(lambda: stack.supervisor is not None and stack.supervisor.state("toy") == "stopped")
        time.sleep(0.5)
        assert stack.procs["toy"].pid == held and not stack.procs["toy"].alive()
        stack.release("toy")
        stack.wait_restarted("toy", timeout=10)
        _wait(lambda: len(_pids(pid_file)) == 4)
        assert stack.procs["toy"].alive()
    finally:
        stack.stop_all()


def test_stopping_a_part_whose_leader_died_still_stops_its_group(toy: tuple[dict[str, Proc], Path]) -> None:
    """The demo's old Ctrl-C path: the runner was dead, so its fork server and runs were skipped."""
    procs, pid_file = toy
    parent, child = _pids(pid_file)[0]
    os.kill(parent, signal.SIGKILL)
    procs["toy"].popen.wait(5)
    assert _alive(child)

    procs["toy"].stop(grace=1)

    assert not _alive(child)


def test_exit_is_described_in_words() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"
    assert str(ProcInfo(pid=7, ppid=1, pgid=7, sid=7, state="S", start=1, comm="python3")) == "python3 7"
