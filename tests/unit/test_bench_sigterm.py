"""Every benchmark stops what it started when it gets SIGTERM, as on Ctrl-C (bench.kills.stop_on_sigterm).

Python's default for SIGTERM ends the process without running ``finally`` blocks: a bench
stopped by ``timeout``, ``kill`` or a CI job's limit left its whole stack running (Prefect,
Radicale, RT, the sandboxes, PostgreSQL) — seen with bench/onboarding_latency."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _main_calls(path: Path) -> set[str] | None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return None


def test_every_bench_with_a_main_stops_its_stack_on_sigterm() -> None:
    mains = {p.name: calls for p in sorted(BENCH.glob("*.py")) if (calls := _main_calls(p)) is not None}
    assert len(mains) >= 7, sorted(mains)  # the benches the README lists
    assert [name for name, calls in mains.items() if "stop_on_sigterm" not in calls] == []
