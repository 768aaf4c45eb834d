"""What a room request costs the calendar server: requests and CPU per request (issue 12).

``python -m bench.room_calls [--requests 150] [--at-once 4] [--rounds 2]``

A backlog of room requests mostly competes for the same few rooms: in ``bench/backlog`` most
requests end with alternatives offered. This bench replays only the calendar side of
:func:`flows.rooms_steps.handle_booking` — book the first free fitting room, else read the
free/busy of every candidate room over the alternatives' window — for ``--requests`` requests
for "any room for 4" on one day at ten different hours (6 rooms: 60 room-hours for them),
``--at-once`` at a time, against a fresh sandbox Radicale (127.0.0.1) per way, and prints per
request: HTTP requests, Radicale's CPU, this client's CPU, and requests per second.

Two ways, taking turns per round so that the machine's load hits both alike:

- **now**: the rooms' free/busy is read once per room over the alternatives' window
  (:class:`flows.rooms_steps.RoomsBusy`), and the same reading says which fitting room to try
  and, if none is free, where the alternatives are;
- **before** (the flow before this bench's second version, the baseline): a fitting room's
  free/busy is read for the time asked before it is tried, and if no room was free, every
  candidate room's again over the alternatives' window: two calendar queries per room.

The bench's first version compared the connector before 34cb2ae (every fitting room tried
with ``book``, the server's ``free-busy-query``) with the one after; its figures are in the
README.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import resource
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import httpx
from pydantic import SecretStr

from bench.cpu import tree_cpu
from connectors.caldav import CaldavCalendar, CaldavConfig
from mappings.rooms import BookingRules, RoomRequest, alternatives_window
from sandbox.procs import free_port
from sandbox.radicale import DEFAULT_PASSWORD, DEFAULT_USER, start_radicale
from sandbox.radicale.configure import provision_rooms, write_config

NOW, BEFORE = "now", "before"


class _Counting(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: collections.Counter[str] = collections.Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent[request.method] += 1
        return await super().handle_async_request(request)


def _requests(count: int, now: datetime, seed: int) -> list[RoomRequest]:
    day = now.date() + timedelta(days=3)
    pick = random.Random(seed)
    found = []
    for i in range(count):
        start = datetime.combine(day, day_time(8 + pick.randrange(10)), now.tzinfo)
        found.append(RoomRequest(submission_id=i, submitted=now, reference=f"gr-bench-{i:06d}",
                                 booker="bench@oslomet.no", room="any", min_capacity=4, start=start,
                                 end=start + timedelta(hours=1), purpose="bench"))
    return found


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drain(way: str, url: str, requests: list[RoomRequest], at_once: int, pid: int) -> dict[str, float]:
    from flows.rooms_steps import RoomsBusy, book_first_free, nearest_free
    from hub.settings import OSLO

    transport = _Counting()
    config = CaldavConfig(base_url=url, username=DEFAULT_USER, password=SecretStr(DEFAULT_PASSWORD), timeout=120.0)
    calendar = CaldavCalendar(config, transport=transport)
    rules, now = BookingRules(), datetime.now(OSLO)
    outcomes: collections.Counter[str] = collections.Counter()
    gate = asyncio.Semaphore(at_once)

    async def one(request: RoomRequest) -> None:
        async with gate:
            window = alternatives_window(request, now=now, rules=rules)
            asked = RoomsBusy(calendar, *window) if way == NOW else RoomsBusy(calendar, request.start, request.end)
            if await book_first_free(calendar, request, rooms, asked) is not None:
                outcomes["booked"] += 1
                return
            await nearest_free(asked if way == NOW else RoomsBusy(calendar, *window), request, rooms, now=now,
                               rules=rules, count=3)
            outcomes["alternatives"] += 1

    try:
        rooms = await calendar.list_rooms()
        transport.sent.clear()
        server, client, started = tree_cpu(pid), _own_cpu(), time.perf_counter()
        await asyncio.gather(*(one(r) for r in requests))
        took = time.perf_counter() - started
        n = len(requests)
        return {"per_second": n / took, "http": sum(transport.sent.values()) / n,
                "server_ms": (tree_cpu(pid) - server) / n * 1000, "client_ms": (_own_cpu() - client) / n * 1000,
                "booked": outcomes["booked"], "alternatives": outcomes["alternatives"]}
    finally:
        await calendar.aclose()


def _round(way: str, requests: list[RoomRequest], at_once: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="room-calls-"))
    proc = None
    try:
        provision_rooms(write_config(work / "data", free_port()))
        proc = start_radicale(work / "data", work / "logs")
        return asyncio.run(_drain(way, proc.url or "", requests, at_once, proc.popen.pid))
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    from bench.kills import stop_on_sigterm
    from hub.settings import OSLO

    stop_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.room_calls", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each way, taking turns")
    args = parser.parse_args(argv)
    requests = _requests(args.requests, datetime.now(OSLO), seed=7)
    results: dict[str, list[dict[str, float]]] = {NOW: [], BEFORE: []}
    for n in range(args.rounds):
        for way in (BEFORE, NOW):
            results[way].append(_round(way, requests, args.at_once))
            r = results[way][-1]
            print(f"round {n + 1} {way:<7} booked {r['booked']:.0f}, alternatives {r['alternatives']:.0f}: "
                  f"{r['per_second']:.2f} requests/s", flush=True)
    print(f"\n{args.requests} room requests for 60 free room-hours, {args.at_once} at a time, medians of "
          f"{args.rounds} round(s):")
    print(f"{'way':<8} {'requests/s':>10} {'HTTP/request':>13} {'Radicale CPU ms':>16} {'client CPU ms':>14} "
          f"{'total CPU ms':>13}")
    medians = {way: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for way, rs in results.items()}
    for way, m in medians.items():
        print(f"{way:<8} {m['per_second']:>10.2f} {m['http']:>13.1f} {m['server_ms']:>16.0f} {m['client_ms']:>14.0f} "
              f"{m['server_ms'] + m['client_ms']:>13.0f}")
    now, before = medians[NOW], medians[BEFORE]
    print(f"now ÷ before: requests/s {now['per_second'] / before['per_second']:.2f}, CPU per request "
          f"{(now['server_ms'] + now['client_ms']) / (before['server_ms'] + before['client_ms']):.2f}")


if __name__ == "__main__":
    main()
