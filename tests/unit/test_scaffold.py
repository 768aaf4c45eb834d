"""`python -m devtools new connector` as a developer uses it: in a fresh copy of the repository, the new
adapter builds (ruff, mypy --strict), is enrolled in the contract suite by its registry line,
and its contract tests run — and fail, telling what to fill in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.checkout import copy_tracked

BIN = Path(sys.executable).parent


def _run(cwd: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "250"}
    env = {k: v for k, v in env.items() if not k.startswith("HUB_")}
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_a_scaffolded_connector_builds_and_its_contract_tests_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    copy_tracked(repo)
    before = _tree(repo)
    made = _run(repo, sys.executable, "-m", "devtools", "new", "connector", "servicedesk", "--port", "ticketing")
    assert made.returncode == 0, made.stdout + made.stderr

    # A new connector is one folder (plus its sandbox stub and contract harness) and one
    # registry line: no core file, no settings field, no flow changes.
    after = _tree(repo)
    changed = sorted(name for name in after if before.get(name) != after[name])
    assert changed == ["connectors/registry.py"] + sorted(
        n for n in changed if n.startswith(("connectors/servicedesk/", "sandbox/servicedesk/"))) + [
        "tests/contract/harnesses/servicedesk.py"], changed
    added = set(after["connectors/registry.py"].decode().splitlines()) - set(
        before["connectors/registry.py"].decode().splitlines())
    assert added == {'    Adapter("servicedesk", "ticketing"),'}

    # Chosen by settings alone: its section is validated by its own config class, and built.
    script = ("from hub.settings import Settings; from hub.wiring import build; s = Settings(); "
              "print(type(s.adapter_config('servicedesk')).__name__, type(build('ticketing', s)).__name__)")
    chosen = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
                                 "PYTHONPATH": str(repo), "HUB_TICKETING": "servicedesk",
                                 "HUB_SERVICEDESK__BASE_URL": "http://127.0.0.1:9/api",
                                 "HUB_SERVICEDESK__USERNAME": "hub", "HUB_SERVICEDESK__PASSWORD": "pw"})
    assert chosen.returncode == 0, chosen.stderr[-2000:]
    assert chosen.stdout.split() == ["ServicedeskConfig", "ServicedeskClient"], chosen.stdout

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

    again = _run(repo, sys.executable, "-m", "devtools", "new", "connector", "servicedesk", "--port", "ticketing")
    assert again.returncode == 2 and "already exist" in again.stdout
