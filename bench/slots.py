"""What a global slot costs per block: lent within a process, against taking it from Prefect each time.

``python -m bench.slots [--blocks 40] [--parallel 4] [--hold 0.5]``

Starts a Prefect server of its own (the hub stack's settings, SQLite, 127.0.0.1 only) and a
one-slot global limit, then runs ``--blocks`` blocks, ``--parallel`` at a time, each holding
the slot for ``--hold`` seconds (standing for RT work inside the laptop allocation), three
ways in the same run, in turn:

- **ideal** — an asyncio semaphore of one: the hold times alone, the physical limit;
- **per block** — Prefect's ``concurrency(...)`` around each block: a take and a give-back
  per block, and denied requests sleeping for Prefect's ``Retry-After`` (the hub before
  :mod:`hub.slots`);
- **lent** — :func:`hub.slots.global_slots`: one lease serves the waiting blocks in turn.

Prints blocks per second and the cost per block above the hold time, for each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from devtools.stack import Stack


def say(message: str) -> None:
    print(f"[slots {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def drain(block: Callable[[], contextlib.AbstractAsyncContextManager[Any]], blocks: int, parallel: int,
                hold: float) -> float:
    todo = iter(range(blocks))

    async def worker() -> None:
        for _ in todo:
            async with block():
                await asyncio.sleep(hold)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.monotonic() - started


async def measure(blocks: int, parallel: int, hold: float) -> dict[str, float]:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import concurrency

    from hub.slots import global_slots

    async with get_client() as client:
        for name in ("bench-per-block", "bench-lent"):
            await client.upsert_global_concurrency_limit_by_name(name, 1)
    one = asyncio.Semaphore(1)

    @contextlib.asynccontextmanager
    async def ideal() -> AsyncIterator[None]:
        async with one:
            yield

    return {
        "ideal (a semaphore)": await drain(ideal, blocks, parallel, hold),
        "per block (take and give back)": await drain(
            lambda: concurrency("bench-per-block", occupy=1, lease_duration=60), blocks, parallel, hold),
        "lent (hub.slots)": await drain(lambda: global_slots("bench-lent", wait=600), blocks, parallel, hold),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops what the bench started, as Ctrl-C does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--hold", type=float, default=0.5)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bench-slots-"))
    stack = Stack(home)
    try:
        say(f"starting a Prefect server (home {home})")
        stack.start_prefect()
        stack.wait_prefect()
        stack.apply_env()
        say(f"{args.blocks} blocks, {args.parallel} at a time, each holding a one-slot limit {args.hold:g} s")
        took = asyncio.run(measure(args.blocks, args.parallel, args.hold))
    finally:
        stack.stop_all()
    print(f"{'way':<32} {'seconds':>8} {'blocks/s':>9} {'per block above the hold':>25}")
    for way, seconds in took.items():
        print(f"{way:<32} {seconds:>8.1f} {args.blocks / seconds:>9.2f} "
              f"{(seconds / args.blocks - args.hold) * 1000:>22.0f} ms")
    ideal = took["ideal (a semaphore)"]
    print(f"lent ÷ ideal throughput: {ideal / took['lent (hub.slots)']:.2f}; "
          f"per block ÷ ideal: {ideal / took['per block (take and give back)']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
