"""The small chaos bench (``python -m bench.chaos --small``) ends with every invariant held.

About 100 items, 3 ``kill -9`` of hub processes, 200 hostile inputs, the Prefect server
killed and kept down ~20 s, 20 % faults on every peer — on a stack of its own (the Prefect
server and the ledger on a throwaway PostgreSQL cluster), in a subprocess: it must not
share this session's stack or its environment (the session's ``HUB_PAUSE_SCHEDULES`` would
stop every poll). The bench ends its settle phase as soon as nothing is open; it fails when
no open item closed for 5 minutes (stuck), and gives a slow machine up to 20 minutes while
items keep closing.

In the default run: ``scripts/test.sh`` runs it as a pytest process of its own beside the
end-to-end tests and the rest (``-m chaos``: a plain ``pytest`` leaves it out). Alone on two
cores it takes about 7–8 minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.chaos import Options
from sandbox.procs import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TIMEOUT = 1800.0  # the bench bounds itself (start ~1-2 min, storm ~2 min, settle at most 1200 s, checks); a backstop
INVARIANTS = ("every item done", "reconciliation", "no item stuck", "fødselsnummer", "hostile input")


def run_bench(report: Path, home: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bench.chaos", "--small", "--seed", "1", "--home", str(home),
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
        pytest.fail(f"the chaos bench did not end in {TIMEOUT:.0f} s:\n{out[-8000:]}")
    return proc.returncode, out


def keep_logs(logs: Path, *, lines: int = 80) -> str:
    """After a failed invariant: the hub's logs copied to ``test-output/`` (the run's temporary
    folder is removed when the suite ends), and their error lines, so the failing run's output
    says where to look. The logs hold no fødselsnummer (an invariant checks that)."""
    if not logs.is_dir():
        return f"no logs at {logs}"
    kept = ROOT / "test-output" / f"chaos-logs-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copytree(logs, kept)
    errors = [f"{path.name}: {line}" for path in sorted(logs.glob("*.log"))
              for line in path.read_text(errors="replace").splitlines()
              if "Traceback" in line or "Error" in line or " ERROR " in line]
    return f"the hub's logs are kept in {kept}; their last error lines:\n" + "\n".join(errors[-lines:])


def test_chaos_small_every_invariant_holds(tmp_path: Path) -> None:
    report = tmp_path / "chaos.json"
    code, out = run_bench(report, tmp_path / "hub")
    print(out[-20000:])
    assert report.exists(), f"the bench ended before its checks (exit {code}):\n{out[-5000:]}"
    result = json.loads(report.read_text())

    names = [v["name"] for v in result["invariants"]]
    for invariant in INVARIANTS:
        assert any(name.startswith(invariant) or invariant in name for name in names), (invariant, names)
    failed = {v["name"]: {"counts": v["counts"], "findings": v["findings"][:8]}
              for v in result["invariants"] if not v["held"]}
    if failed:
        print(keep_logs(tmp_path / "hub" / "logs"))
    assert not failed, json.dumps(failed, ensure_ascii=False, indent=1)

    # The trouble really happened: faults on every peer, three hub processes killed, Prefect down.
    injected = {row["fault"]: int(row["injected"]) for row in result["faults"]}
    assert sum(n for fault, n in injected.items() if fault.startswith("peer:")) > 100, injected
    assert injected.get("peer: timeout", 0) > 0 and injected.get("peer: response lost after the write", 0) > 0
    assert sum(n for fault, n in injected.items() if fault.startswith("kill -9")) == 3, injected
    assert len(result["kills"]) == 3 and all(k.get("pid") for k in result["kills"]), result["kills"]
    assert any(fault.startswith("Prefect server killed") for fault in injected), injected
    assert result["prefect_down"].get("restarted_after") is not None, result["prefect_down"]
    hostile = sum(n for fault, n in injected.items() if fault.startswith("hostile input"))
    assert hostile == Options.small().hostile, injected
    # The case handler and IT wait while Prefect is down and try again: never an error of theirs.
    unreachable = ("ConnectError", "ConnectTimeout", "ReadError", "RemoteProtocolError", "ReadTimeout", "TimeoutError")
    assert not [e for e in result["people"]["errors"] if e.endswith(unreachable)], result["people"]
    assert code == 0, out[-3000:]
