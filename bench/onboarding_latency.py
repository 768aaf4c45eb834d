"""Latency from a signed HR event to the onboarding flow's code running, over N events.

Starts its own stack (free ports, a temporary folder), adds fresh hires to the DFØ
sandbox, then sends signed events to the intake and times until the flow run has opened the
hire's work item in the ledger (the flow's first line of business code). Two phases:

- **one at a time** (the target): each hire is sent after the previous onboarding finished,
  as hires trickle in from HR;
- **burst**: N events one second apart while earlier onboardings still run (load).

    .venv/bin/python -m bench.onboarding_latency [--events 20] [--gap 1.0] [--no-burst] [--postgres]
    .venv/bin/python -m bench.onboarding_latency --workers 3 [--events 10] [--no-burst]

``--workers N`` measures the production shape (``devtools.scaled.ScaledStack``: PostgreSQL,
Redis, the Prefect API and services apart, N workers from a work pool) and, in the same run
and first, the embedded runner as the baseline, and prints both side by side. Issue 12's
target for workers on PostgreSQL: p50 ≤ 1.5 s, p95 ≤ 3 s.

Target on embedded defaults (SQLite Prefect server): p50 ≤ 2 s, p95 ≤ 4 s, one at a time.
Prefect's defaults give 6–14 s. ``--postgres`` runs the same on a throwaway PostgreSQL
cluster (the scale option, ``HUB_PREFECT_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.stats import percentile
from devtools.stack import Stack, StackPorts
from sandbox.common import control_headers
from sandbox.dfo.announce import announce


def _new_hire(stack: Stack, index: int) -> str:
    employee_id = f"2{index:04d}"  # 20000…: clear of the seeded 1000x ids
    body = {"id": employee_id, "fornavn": "Bench", "etternavn": f"Hire {index}",
            "brukerident": f"bench{index}", "epost": f"bench{index}@oslomet.no",
            "startdato": (date.today() + timedelta(days=5)).isoformat(), "organisasjonId": "10000100",
            "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False}
    response = httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", headers=control_headers(stack.sandbox_token),
                          json=body, timeout=10)
    response.raise_for_status()
    return employee_id


def _state_times(flow_run_id: str) -> dict[str, float]:
    """When the run first entered each state (Prefect's own record), as epoch seconds."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def read() -> dict[str, float]:
        async with get_client() as client:
            states = await client.read_flow_run_states(flow_run_id)
        first: dict[str, float] = {}
        for state in states:
            first.setdefault(state.type.value, state.timestamp.timestamp())
        return first

    return asyncio.run(read())


def main() -> None:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops what the bench started, as Ctrl-C does
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between events")
    parser.add_argument("--no-burst", action="store_true", help="skip the burst phase")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=0,
                        help="also measure the production shape with N workers, after the embedded runner")
    parser.add_argument("--postgres", action="store_true",
                        help="run the Prefect server and the ledger on a throwaway PostgreSQL cluster "
                             "(Debian's postgresql package) instead of SQLite")
    args = parser.parse_args()
    if args.workers:
        baseline = _run(args)
        scaled = _run(args, workers=args.workers)
        print("\n== side by side: event → flow code running, one at a time (seconds) ==")
        print(f"{'shape':<44} {'p50':>6} {'p95':>6} {'max':>6}")
        for title, rows in (("embedded runner (SQLite, forked runs)", baseline),
                            (f"{args.workers} workers (PostgreSQL, Redis, process pool)", scaled)):
            latencies = [r["flow_code"] for r in rows]
            print(f"{title:<44} {statistics.median(latencies):>6.2f} {percentile(latencies, 0.95):>6.2f} "
                  f"{max(latencies):>6.2f}")
        print("target for workers on PostgreSQL: p50 ≤ 1.5 s, p95 ≤ 3 s", flush=True)
        return
    if args.postgres:
        from devtools.pgcluster import throwaway_cluster

        with throwaway_cluster("prefect", "ledger") as server:
            os.environ["HUB_PREFECT_DATABASE_URL"] = f"postgresql+asyncpg://{server}/prefect"
            os.environ["HUB_LEDGER_URL"] = f"postgresql+psycopg://{server}/ledger"
            print(f"[bench] Prefect server and ledger on PostgreSQL ({server})", flush=True)
            _run(args)
    else:
        _run(args)


def _run(args: argparse.Namespace, workers: int = 0) -> list[dict[str, Any]]:
    """Both phases on a stack of its own; returns the one-at-a-time rows."""
    home = Path(tempfile.mkdtemp(prefix="hub-bench-", dir=args.home))
    stack: Stack
    if workers:
        from devtools.scaled import ScaledStack

        stack = ScaledStack(home=home, ports=StackPorts.free(), workers=workers)
    else:
        stack = Stack(home=home, ports=StackPorts.free())
    first: list[dict[str, Any]] = []
    try:
        stack.start_all(progress=lambda m: print(f"[stack] {m}", flush=True))
        from hub.wiring import get_ledger

        ledger = get_ledger()
        phases = [("one at a time", 0, True)]
        if not args.no_burst:
            phases.append((f"burst, one event every {args.gap:g} s", 100, False))
        for title, offset, wait_done in phases:
            hires = [_new_hire(stack, offset + i) for i in range(args.events)]
            rows = [_measure(stack, ledger, employee_id, wait_done=wait_done, gap=args.gap)
                    for employee_id in hires]
            _print(f"{title} ({type(stack).__name__})", rows)
            first = first or rows
        _wait_until_done(ledger, [r["employee"] for r in rows])
    finally:
        stack.stop_all()
        from hub.settings import get_settings

        get_settings.cache_clear()  # the next stack's settings, not this one's
    return first


def _measure(stack: Stack, ledger: Any, employee_id: str, *, wait_done: bool, gap: float) -> dict[str, float]:
    sent = time.time()
    response = announce(f"{stack.intake_url}/events/hr", stack.secrets["hmac"], employee_id, date.today())
    acked = time.time()
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 120
    while True:
        item = ledger.get_item("onboarding", employee_id)
        if item is not None and item.started_at is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"flow for {employee_id} did not start in 120 s; see {stack.logs}")
        time.sleep(0.02)
    event = ledger.get_event(response.json()["event_id"])
    states = _state_times(item.flow_run_id) if item.flow_run_id else {}
    row = {"employee": employee_id, "ack": acked - sent,
           "dispatched": (event.dispatched_at.timestamp() - sent) if event.dispatched_at else float("nan"),
           "pending": states.get("PENDING", float("nan")) - sent,
           "running": states.get("RUNNING", float("nan")) - sent,
           "flow_code": item.started_at.timestamp() - sent}
    if wait_done:
        while ledger.get_item("onboarding", employee_id).state in ("pending", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"onboarding of {employee_id} did not finish")
            time.sleep(0.1)
        time.sleep(0.5)
    else:
        time.sleep(gap)
    return row


def _wait_until_done(ledger: Any, employee_ids: list[str], timeout: float = 300) -> None:
    """Let the last runs finish before the stack stops, so the bench ends without crashed runs."""
    deadline = time.monotonic() + timeout
    while any(ledger.get_item("onboarding", e).state in ("pending", "running") for e in employee_ids):
        if time.monotonic() > deadline:
            print(f"(some onboardings were still running after {timeout:.0f} s)")
            return
        time.sleep(0.5)


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    latencies = [r["flow_code"] for r in rows]
    print(f"\n== {title}: event → flow code running (seconds) ==")
    print(f"{'employee':>9} {'intake ack':>11} {'run created':>12} {'picked up':>10} {'running':>8} "
          f"{'flow code':>10}")
    for r in rows:
        print(f"{r['employee']:>9} {r['ack']:>11.3f} {r['dispatched']:>12.3f} {r['pending']:>10.3f} "
              f"{r['running']:>8.3f} {r['flow_code']:>10.3f}")
    print(f"events: {len(latencies)}   p50: {statistics.median(latencies):.2f} s (target ≤ 2)   "
          f"p95: {percentile(latencies, 0.95):.2f} s (target ≤ 4)   max: {max(latencies):.2f} s", flush=True)


if __name__ == "__main__":
    main()
