"""`hub new connector` as a developer uses it: in a fresh copy of the repository, the new
adapter builds (ruff, mypy --strict), is enrolled in the contract suite by its registry line,
and its contract tests run — and fail, telling what to fill in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hub.procs import ROOT

BIN = Path(sys.executable).parent


def _copy_repo(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def _run(cwd: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "250"}
    env = {k: v for k, v in env.items() if not k.startswith("HUB_")}
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_a_scaffolded_connector_builds_and_its_contract_tests_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _copy_repo(repo)
    made = _run(repo, sys.executable, "-m", "hub.cli", "new", "connector", "servicedesk", "--port", "ticketing")
    assert made.returncode == 0, made.stdout + made.stderr
    assert 'Adapter("servicedesk", "ticketing")' in (repo / "connectors" / "registry.py").read_text()

    lint = _run(repo, str(BIN / "ruff"), "check", "connectors/servicedesk", "sandbox/servicedesk",
                "tests/contract/harnesses/servicedesk.py")
    assert lint.returncode == 0, lint.stdout
    types = _run(repo, str(BIN / "mypy"), "--strict", "connectors/servicedesk")
    assert types.returncode == 0, types.stdout

    contract = _run(repo, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/contract",
                    "-k", "servicedesk")
    assert contract.returncode == 1, contract.stdout  # failing until filled in: that is the point
    assert "passed" in contract.stdout and "failed" in contract.stdout
    assert "servicedesk: start sandbox/servicedesk" in contract.stdout  # says what to do next

    again = _run(repo, sys.executable, "-m", "hub.cli", "new", "connector", "servicedesk", "--port", "ticketing")
    assert again.returncode == 2 and "already exist" in again.stdout
