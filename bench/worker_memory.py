"""A worker's peak memory with 10,000 and with 50,000 room requests waiting (issue 12).

    .venv/bin/python -m bench.worker_memory [--sizes 10000 50000] [--handled 2000] [--timeout 900]

For each size, in a process of its own, on an embedded stack of its own (schedules paused,
no Request Tracker: rooms do not use it):

1. N synthetic submissions are added to the "Bestille grupperom" form in one request (the
   Nettskjema sandbox's bulk route). Their answers are synthetic (the booker is no e-mail
   address), so each request becomes a dead letter after its form is read and checked: the
   bench measures what a worker holds for a backlog, not Radicale's pace of about one booking
   a second, at which 50,000 bookings take half a day.
2. One ``room-bookings`` run is started. It collects the N submissions into the ledger, then
   works through them a page at a time. The peak RSS of the runner with its flow-run
   processes is sampled every 0.25 s until ``--handled`` requests are through (the whole
   first pages, well past the reading of the backlog) or the run ends.
3. The baseline, in the same run: in the bench's own process, the memory that reading the
   backlog's due items whole takes (what a batch did before paging: ``Ledger.items(...,
   limit=None)``), beside reading one page (``Ledger.due_items``).

Printed per size: the submissions, the seconds to collect them, the requests handled in the
window, the peak RSS, and the two reads; then the peak at the largest size ÷ at the smallest
(target ≤ 1.10).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.backlog import DEPLOYMENTS, RssSampler, _rss_kib, start_deployment
from devtools.stack import Stack, StackPorts

TARGET = 1.10


def say(message: str) -> None:
    """Progress, on stderr: a size's process answers its parent on stdout."""
    print(f"[memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _rss_mib() -> float:
    return _rss_kib(os.getpid()) / 1024


def _read_cost(read: Any) -> tuple[int, float]:
    """(rows read, MiB of resident memory the read added) of ``read()``, its result held."""
    import gc

    gc.collect()
    before = _rss_mib()
    rows = read()
    return len(rows), _rss_mib() - before


def _states(ledger: Any) -> dict[str, int]:
    """The rooms items by state, counted by the database (the bench holds no backlog itself)."""
    from sqlalchemy import func, select

    from hub.ledger.models import WorkItem

    with ledger.session() as s:
        rows = s.execute(select(WorkItem.state, func.count()).where(WorkItem.service == "rooms")
                         .group_by(WorkItem.state)).all()
    return {state: count for state, count in rows}


def one_size(size: int, *, handled_target: int, timeout: float) -> dict[str, Any]:
    """One size on a stack of its own: see the module's docstring."""
    from hub.flowkit import PAGE
    from hub.ledger import ItemState
    from hub.wiring import get_ledger
    from sandbox.common import control_headers
    from sandbox.nettskjema.forms import ROOMS_FORM_ID

    home = Path(tempfile.mkdtemp(prefix=f"hub-memory-{size}-"))
    stack = Stack(home=home, ports=StackPorts.free(), extra_env={"HUB_PAUSE_SCHEDULES": "1"})
    result: dict[str, Any] = {"size": size}
    try:
        stack.start_all(progress=lambda m: say(f"{size:,}: stack: {m}"), with_rt=False)
        response = httpx.post(f"{stack.nettskjema_url}/_sandbox/forms/{ROOMS_FORM_ID}/bulk", json={"count": size},
                              headers=control_headers(stack.sandbox_token), timeout=600)
        response.raise_for_status()
        say(f"{size:,}: {size:,} room requests in the form; starting room-bookings")
        ledger = get_ledger()
        sampler = RssSampler(stack)
        started = time.monotonic()
        start_deployment(DEPLOYMENTS["rooms"])
        collected_at = None
        handled = collected = 0
        last_said = last_counted = 0.0
        while time.monotonic() - started < timeout:
            sampler()
            if time.monotonic() - last_counted >= 3:
                last_counted = time.monotonic()
                counts = _states(ledger)
                collected = sum(counts.values())
                handled = collected - counts.get(ItemState.PENDING, 0) - counts.get(ItemState.RUNNING, 0)
                if collected >= size and collected_at is None:
                    collected_at = time.monotonic() - started
                if handled >= min(handled_target, size):
                    break
                if time.monotonic() - last_said >= 30:
                    last_said = time.monotonic()
                    say(f"{size:,}: {collected:,} collected, {handled:,} handled, peak RSS "
                        f"{max(sampler.peak.values(), default=0):.0f} MiB after {time.monotonic() - started:.0f} s")
            time.sleep(0.25)
        result.update(collected=collected, handled=handled, seconds=time.monotonic() - started,
                      collect_seconds=collected_at, peak_mib=max(sampler.peak.values(), default=0.0))
        whole = _read_cost(lambda: ledger.items(service="rooms", states=[ItemState.PENDING, ItemState.FAILED],
                                                limit=None))
        page = _read_cost(lambda: ledger.due_items("rooms", retry_below=5, limit=PAGE))
        result.update(whole_rows=whole[0], whole_mib=whole[1], page_rows=page[0], page_mib=page[1])
    finally:
        stack.stop_all()
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops what the bench started, as Ctrl-C does
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--handled", type=int, default=2_000,
                        help="requests through before the sampling stops (pages of hub.flowkit.PAGE)")
    parser.add_argument("--timeout", type=float, default=900.0, help="longest sampling per size, seconds")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in this process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_size(args.one, handled_target=args.handled, timeout=args.timeout)), flush=True)
        return 0
    results = []
    for size in sorted(args.sizes):
        out = subprocess.run([sys.executable, "-m", "bench.worker_memory", "--one", str(size), "--handled",
                              str(args.handled), "--timeout", str(args.timeout)], stdout=subprocess.PIPE, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or not lines:
            say(f"{size:,}: the measurement failed (exit {out.returncode}); its progress is above")
            return 1
        results.append(json.loads(lines[-1]))
    print()
    print(f"{'submissions':>11} {'collected in':>12} {'handled':>8} {'in':>6} {'worker peak RSS':>16} "
          f"{'read whole (before)':>20} {'read one page (now)':>20}")
    for r in results:
        collect = f"{r['collect_seconds']:.0f} s" if r["collect_seconds"] is not None else "-"
        print(f"{r['size']:>11,} {collect:>12} {r['handled']:>8,} {r['seconds']:>5.0f}s {r['peak_mib']:>12.0f} MiB "
              f"{r['whole_mib']:>+9.0f} MiB ({r['whole_rows']:,}) {r['page_mib']:>+9.1f} MiB ({r['page_rows']:,})")
    low, high = results[0], results[-1]
    ratio = high["peak_mib"] / low["peak_mib"] if low["peak_mib"] else float("nan")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"\nworker peak RSS at {high['size']:,} ÷ at {low['size']:,} submissions: {ratio:.2f} "
          f"(target ≤ {TARGET:.2f}: {verdict})")
    print("(the runner and its flow-run processes, while the run collected the backlog and handled its first "
          f"{args.handled:,} requests; 'read whole' is what a batch held for the backlog before it read a page at a "
          "time, measured in this bench's process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
