"""bench/cpu counts a part's CPU with its descendants, the reaped ones included, by role."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench.backlog import Rate, Report, Sizes, cpu_bound, print_report, write_json
from bench.cpu import Cores, PhaseCpu, Snapshot, phase_cpu, role_of, snapshot, tree_cpu

BURN = 0.6  # CPU-seconds a grandchild spends


def _burner() -> subprocess.Popen[bytes]:
    """A parent that starts a child which burns ~BURN s of CPU and exits; the parent reaps it and
    then idles until killed (its own CPU is small)."""
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        subprocess.run([sys.executable, "-c",
                        "import time\\nend = time.process_time() + {BURN}\\nwhile time.process_time() < end: pass"])
        print("reaped", flush=True)
        time.sleep(60)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def test_a_reaped_grandchild_s_cpu_is_counted_through_its_parent() -> None:
    proc = _burner()
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"reaped\n"
        spent = tree_cpu(proc.pid)
        assert BURN <= spent < BURN + 2.0
        # the parent idles: a second look some time later finds (almost) the same
        time.sleep(0.3)
        assert tree_cpu(proc.pid) - spent < 0.1
    finally:
        proc.kill()
        proc.wait()


def test_a_phase_counts_by_role_and_a_restarted_part_from_its_new_start() -> None:
    before = Snapshot(100.0, {"prefect-server": (1, 10.0), "worker-1": (2, 5.0), "rt": (3, 1.0),
                              "worker-2": (4, 7.0)}, bench=2.0)
    after = Snapshot(110.0, {"prefect-server": (1, 16.0), "worker-1": (9, 3.0), "rt": (3, 4.0),
                             "postgres": (5, 2.0)}, bench=2.5)
    cpu = phase_cpu(before, after, items=10, cores=2)
    assert cpu.by_role == {"Prefect": 8.0, "hub": 3.0, "peers": 3.0, "bench": 0.5}
    assert cpu.by_part == {"prefect-server": 6.0, "worker-1": 3.0, "rt": 3.0, "postgres": 2.0}
    assert cpu.restarted == ["worker-1", "worker-2"]
    assert cpu.total == pytest.approx(14.5)
    assert cpu.busy == pytest.approx(14.5 / 20)
    assert cpu.per_item("Prefect", "hub", "bench") == pytest.approx(1.15)


def test_roles_of_the_stack_s_parts() -> None:
    assert [role_of(n) for n in ("prefect-server", "prefect-services", "postgres", "redis")] == ["Prefect"] * 4
    assert [role_of(n) for n in ("runner", "worker-3", "intake")] == ["hub"] * 3
    assert [role_of(n) for n in ("rt", "radicale", "noark5", "smtp")] == ["peers"] * 4


def test_a_snapshot_of_this_process_sees_its_own_cpu() -> None:
    import os

    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    shot = snapshot({"intake": os.getpid()})
    assert shot.parts["intake"][0] == os.getpid()
    assert shot.parts["intake"][1] >= 0.2 and shot.bench >= 0.2


def test_the_report_prints_each_phase_s_cpu_and_what_driving_the_peers_cost_per_item(
        capsys: pytest.CaptureFixture[str]) -> None:
    report = Report(Sizes(rooms=0, fritak=0, laptops=20, hires=0))
    report.hub["laptop"] = Rate("laptop", 20, 100.0, reached=20)
    report.cpu["hub"] = PhaseCpu(100.0, {"Prefect": 60.0, "hub": 30.0, "peers": 40.0, "bench": 2.0}, cores=2,
                                 items=20)
    report.cpu["ceiling"] = PhaseCpu(40.0, {"Prefect": 4.0, "hub": 1.0, "peers": 38.0, "bench": 5.0}, cores=2,
                                     items=20, restarted=["worker-1"])
    print_report(report, "embedded")
    out = capsys.readouterr().out
    hub_row = next(line for line in out.splitlines() if line.startswith("hub ") and "wall" not in line)
    assert hub_row.split() == ["hub", "100", "60.0", "30.0", "40.0", "2.0", "132.0", "66%", "4.60"]
    ceiling_row = next(line for line in out.splitlines() if line.startswith("ceiling "))
    assert ceiling_row.split()[6:9] == ["48.0", "60%", "0.50"]
    assert ceiling_row.endswith("(restarted meanwhile, partly counted: worker-1)")


def _idler(children: int = 0) -> subprocess.Popen[bytes]:
    """A process that starts ``children`` idle children (and a thread of its own), says so, and idles."""
    code = textwrap.dedent(f"""
        import subprocess, sys, threading, time
        kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range({children})]
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        print(" ".join(str(k.pid) for k in kids), flush=True)
        time.sleep(60)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def _threads(pid: int) -> list[int]:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to split")
def test_the_core_split_puts_every_thread_of_the_peers_on_their_cores_and_the_rest_on_the_others() -> None:
    from bench.cpu import CoreSplit

    mine = os.sched_getaffinity(0)
    rt, worker = _idler(children=1), _idler(children=1)
    parts = {"rt": rt.pid, "worker-1": worker.pid}
    try:
        kids = {}
        for name, proc in (("rt", rt), ("worker-1", worker)):
            assert proc.stdout is not None
            kids[name] = [int(p) for p in proc.stdout.readline().split()]
        split = CoreSplit(lambda: parts, every=3600)
        assert split.cores.peers and split.cores.drivers and not split.cores.peers & split.cores.drivers
        with split:
            assert split.moved > 0
        assert frozenset(os.sched_getaffinity(0)) == frozenset(mine)  # the bench has its cores back
        split.apply()
        for pid in [rt.pid, *kids["rt"]]:
            assert {frozenset(os.sched_getaffinity(t)) for t in _threads(pid)} == {split.cores.peers}
        for pid in [worker.pid, *kids["worker-1"]]:
            assert {frozenset(os.sched_getaffinity(t)) for t in _threads(pid)} == {split.cores.drivers}
        assert frozenset(os.sched_getaffinity(0)) == split.cores.drivers  # the bench (the ceiling's bare client) drives
        assert split.apply() == 0  # nothing left to move
        # a peer restarted meanwhile starts on the bench's cores; the next turn moves it
        rt.kill()
        rt.wait()
        restarted = _idler()
        parts["rt"] = restarted.pid
        try:
            assert restarted.stdout is not None
            restarted.stdout.readline()
            assert frozenset(os.sched_getaffinity(restarted.pid)) == split.cores.drivers
            split.apply()
            assert {frozenset(os.sched_getaffinity(t)) for t in _threads(restarted.pid)} == {split.cores.peers}
        finally:
            restarted.kill()
            restarted.wait()
    finally:
        for proc in (rt, worker):
            proc.kill()
            proc.wait()
        for pids in kids.values():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        os.sched_setaffinity(0, mine)


def test_the_report_says_how_high_hub_over_ceiling_can_go_with_the_cpu_the_hub_phase_spent(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = Report(Sizes(rooms=0, fritak=0, laptops=20, hires=0))
    report.hub["laptop"] = Rate("laptop", 20, 100.0, reached=20)
    # The hub phase spent 150 CPU-s: 75 s at least on 2 cores; the ceiling took 45 s.
    report.cpu["hub"] = PhaseCpu(100.0, {"Prefect": 60.0, "hub": 50.0, "peers": 38.0, "bench": 2.0}, cores=2, items=20)
    report.cpu["ceiling"] = PhaseCpu(45.0, {"Prefect": 4.0, "hub": 1.0, "peers": 38.0, "bench": 5.0}, cores=2, items=20)
    assert cpu_bound(report.cpu) == pytest.approx(0.6)
    print_report(report, "embedded")
    out = capsys.readouterr().out
    assert ("hub ÷ ceiling all together can reach about 0.60 at most with the CPU the hub phase spent: its 150 "
            "CPU-s take 75 s or more on 2 cores, and the ceiling took 45 s") in out
    write_json(report, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text())["hub_over_ceiling_cpu_bound"] == 0.6
    report.split = Cores(drivers=frozenset({0}), peers=frozenset({1}))  # --split-cores: no phase had every core
    assert cpu_bound(report.cpu, report.split) is None
    print_report(report, "embedded")
    assert "can reach about" not in capsys.readouterr().out
    write_json(report, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text())["hub_over_ceiling_cpu_bound"] is None
    report.split = None
    del report.cpu["ceiling"]
    assert cpu_bound(report.cpu) is None
    print_report(report, "embedded")
    assert "can reach about" not in capsys.readouterr().out
