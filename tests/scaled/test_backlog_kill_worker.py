"""Issue 12: a worker killed with ``kill -9`` in the middle of a backlog loses nothing and
duplicates nothing; the other workers finish its items.

Runs ``python -m bench.backlog --small --stack scaled --workers 3 --kill-worker --no-compare``
in a subprocess, on a stack of its own (PostgreSQL, Redis, the Prefect API and its services,
three workers; the recovery windows of the chaos bench: a dead run found after 40 s). Once
about a third of the items are through, the worker holding the most flow runs is killed with
its whole process group and is not started again. Then, from the bench's report JSON: the
kill happened while the worker held runs, every item is done or a dead letter with a reason,
reconciliation finds 0 missing and 0 duplicates, no item is stuck and no concurrency slot is
held; the killed worker's runs ended Crashed and none of its items is still open.

Not in the default run (``-m scaled``; about 5 minutes alone on two cores):

    .venv/bin/python -m pytest -m scaled tests/scaled
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.procs import ROOT

pytestmark = [pytest.mark.scaled]

TIMEOUT = 1800.0  # the bench bounds each wait itself (--timeout); a backstop
INVARIANTS = ("every item done", "reconciliation", "no item stuck")


def run_bench(report: Path, home: Path) -> tuple[int, str]:
    # A stack of its own: none of this session's hub or Prefect settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bench.backlog", "--small", "--stack", "scaled", "--workers", "3",
                             "--kill-worker", "--no-compare", "--timeout", "700", "--home", str(home),
                             "--report-json", str(report)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the bench stops its stack on SIGTERM: no orphans
        try:
            out, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"the backlog bench did not end in {TIMEOUT:.0f} s:\n{out[-8000:]}")
    return proc.returncode, out


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    report = tmp_path / "backlog.json"
    code, out = run_bench(report, tmp_path / "hub")
    print(out[-20000:])
    assert report.exists(), f"the bench ended before its report (exit {code}):\n{out[-5000:]}"
    result = json.loads(report.read_text())

    # The kill happened, mid-run, while the worker held flow runs, and nobody restarted it.
    kill = result["kill"]
    assert "skipped" not in kill, kill
    assert kill["pid"] and kill["runs"], kill
    assert kill["worker_alive_after"] is False and len(kill["workers_alive_after"]) == 2, kill
    through, total = (int(n.replace(",", "")) for n in kill["through"].split("/"))
    assert 0 < through < total, kill["through"]
    assert not kill["left"], f"processes of the killed worker's group outlived the kill: {kill['left']}"
    # Its runs ended Crashed (found dead by their missing heartbeats), none still looks alive.
    assert all(r["state_after"] == "Crashed" for r in kill["runs"]), kill["runs"]
    # Its items were finished by the others: none still running or waiting to be re-driven.
    assert kill["item_outcomes"], kill
    assert all(i["state"] in ("done", "failed", "waiting") and i["finished_by_other_run"]
               for i in kill["item_outcomes"]), kill["item_outcomes"]

    # 0 lost, 0 duplicated, every item done or a dead letter with a reason, nothing stuck or held.
    names = [v["name"] for v in result["invariants"]]
    for invariant in INVARIANTS:
        assert any(name.startswith(invariant) for name in names), (invariant, names)
    failed = {v["name"]: {"counts": v["counts"], "findings": v["findings"][:8]}
              for v in result["invariants"] if not v["held"]}
    assert not failed, json.dumps(failed, ensure_ascii=False, indent=1)
    assert all(rate["reached"] == rate["items"] for rate in result["hub"].values()), result["hub"]
    assert code == 0, out[-3000:]
