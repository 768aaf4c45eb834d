"""The layer rules are import-linter contracts (pyproject.toml), run by the test command: the
tree keeps them, and a core module importing an adapter breaks them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sandbox.procs import ROOT

PACKAGES = ("hub", "connectors", "mappings", "flows", "deployments", "devtools", "sandbox", "bench")
LINT = str(ROOT / ".venv" / "bin" / "lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, "--no-cache", "--config", str(tree / "pyproject.toml")], cwd=tree,
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_the_layer_rules() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_core_module_importing_an_adapter_breaks_the_rules(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    (tree / "hub" / "shortcut.py").write_text("from connectors.rt.client import RtTicketing\n")
    (tree / "flows" / "shortcut.py").write_text("import connectors.n5ws\n")
    (tree / "deployments" / "shortcut.py").write_text("from devtools.stack import Stack\n")
    done = _lint(tree)
    assert done.returncode != 0
    assert "The core (hub) depends on nothing above it BROKEN" in done.stdout, done.stdout[-3000:]
    assert "hub.shortcut -> connectors.rt.client" in done.stdout
    assert "Flows depend on ports, never on adapters or on what deploys them BROKEN" in done.stdout
    assert "The product never imports dev tooling, the sandboxes or the benches BROKEN" in done.stdout
    assert "deployments.shortcut -> devtools.stack" in done.stdout
