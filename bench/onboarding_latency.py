"""Latency from a signed HR event to the onboarding flow's code running, over N events.

Starts its own stack (free ports, a temporary folder), adds N fresh hires to the DFØ
sandbox, then for each: sends the signed event to the intake and times until the flow run
has opened the hire's work item in the ledger (the flow's first line of business code).

    .venv/bin/python -m bench.onboarding_latency [--events 20] [--gap 1.0]

Target on embedded defaults: p50 ≤ 2 s, p95 ≤ 4 s. Prefect's defaults give 6–14 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from hub.stack import Stack, StackPorts
from sandbox.dfo.announce import announce


def _new_hire(stack: Stack, index: int) -> str:
    employee_id = f"2{index:04d}"
    body = {"id": employee_id, "fornavn": "Bench", "etternavn": f"Hire {index}",
            "brukerident": f"bench{index}", "epost": f"bench{index}@oslomet.no",
            "startdato": (date.today() + timedelta(days=5)).isoformat(), "organisasjonId": "10000100",
            "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False}
    response = httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", json=body, timeout=10)
    response.raise_for_status()
    return employee_id


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between events")
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    stack = Stack(home=home, ports=StackPorts.free())
    try:
        stack.start_all(progress=lambda m: print(f"[stack] {m}", flush=True))
        from hub.wiring import get_ledger

        ledger = get_ledger()
        hires = [_new_hire(stack, i) for i in range(args.events)]
        rows = []
        for employee_id in hires:
            sent = time.time()
            response = announce(f"{stack.intake_url}/events/hr", stack.secrets["hmac"], employee_id, date.today())
            acked = time.time()
            assert response.status_code == 202, response.text
            deadline = time.monotonic() + 60
            while True:
                item = ledger.get_item("onboarding", employee_id)
                if item is not None and item.started_at is not None:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"flow for {employee_id} did not start in 60 s; see {stack.logs}")
                time.sleep(0.02)
            event = ledger.get_event(response.json()["event_id"])
            rows.append({"employee": employee_id, "ack": acked - sent,
                         "dispatched": (event.dispatched_at.timestamp() - sent) if event.dispatched_at else float("nan"),
                         "flow_code": item.started_at.timestamp() - sent})
            time.sleep(args.gap)
        latencies = [r["flow_code"] for r in rows]
        print("\nevent → flow code running (seconds)")
        print(f"{'employee':>9} {'intake ack':>11} {'run created':>12} {'flow code':>10}")
        for r in rows:
            print(f"{r['employee']:>9} {r['ack']:>11.3f} {r['dispatched']:>12.3f} {r['flow_code']:>10.3f}")
        print(f"\nevents: {len(latencies)}")
        print(f"p50: {statistics.median(latencies):.2f} s   (target ≤ 2 s)")
        print(f"p95: {percentile(latencies, 0.95):.2f} s   (target ≤ 4 s)")
        print(f"max: {max(latencies):.2f} s   min: {min(latencies):.2f} s")
    finally:
        stack.stop_all()


if __name__ == "__main__":
    main()
