"""Memory and throughput of the Nettskjema poll: ``submissions_after`` streams NDJSON.

Starts its own Nettskjema sandbox (free port, a temporary folder), adds synthetic laptop
orders in steps, and after each step walks every submission the way the poll flow does
(high-water mark ``None``: everything). It prints, per size, the lines read, the time, the
throughput and the ``tracemalloc`` peak — which should stay flat as the form grows — and,
for comparison, the peak when the same walk is collected into a list.

    .venv/bin/python -m bench.nettskjema_streaming [--sizes 1000 10000 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from pydantic import SecretStr

from connectors.nettskjema import NettskjemaConfig, NettskjemaForms
from sandbox.common import control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from sandbox.nettskjema.process import start_nettskjema_sandbox


async def _walk(forms: NettskjemaForms, *, hold: bool) -> tuple[int, float, int]:
    """(lines, seconds, tracemalloc peak in bytes) for one walk over the whole form."""
    tracemalloc.start()
    started = time.perf_counter()
    held: list[object] = []
    count = 0
    async for meta in forms.submissions_after(LAPTOP_FORM_ID, None):
        count += 1
        if hold:
            held.append(meta)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, seconds, peak


async def _run(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-nettskjema-") as tmp:
        proc = start_nettskjema_sandbox(Path(tmp) / "data", Path(tmp) / "logs")
        try:
            config = NettskjemaConfig(base_url=proc.extra["base_url"], token_url=proc.extra["token_url"],
                                      client_id=proc.extra["client_id"],
                                      client_secret=SecretStr(proc.extra["client_secret"]), timeout=60.0)
            print(f"{'lines':>8} {'seconds':>8} {'lines/s':>9} {'peak streamed':>14} {'peak held':>10}")
            total = 0
            async with NettskjemaForms(config) as forms:
                for size in sizes:
                    add = size - total
                    if add > 0:
                        response = httpx.post(f"{proc.url}/_sandbox/forms/laptop/bulk", json={"count": add},
                                              headers=control_headers(proc.extra["control_token"]), timeout=300)
                        response.raise_for_status()
                        total = size
                    if size == sizes[0]:
                        await _walk(forms, hold=False)  # warm-up: token, imports, first-call caches
                    count, seconds, peak = await _walk(forms, hold=False)
                    _, _, held_peak = await _walk(forms, hold=True)
                    print(f"{count:>8} {seconds:>8.2f} {count / seconds:>9.0f} {peak / 1024:>10.0f} KiB "
                          f"{held_peak / 1024:>6.0f} KiB", flush=True)
        finally:
            proc.stop()
    print("(times are under tracemalloc, which slows Python down; the streamed peak should not grow "
          "with the number of lines)")


def main() -> None:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops what the bench started, as Ctrl-C does
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000],
                        help="form sizes to measure, ascending (synthetic submissions are added between)")
    args = parser.parse_args()
    asyncio.run(_run(sorted(args.sizes)))


if __name__ == "__main__":
    main()
