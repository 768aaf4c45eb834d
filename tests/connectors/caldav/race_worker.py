"""One contender in the two-process race: ``python -m tests.connectors.caldav.race_worker``.

Waits until ``--start-at`` (epoch seconds), then books every slot at once (asyncio.gather)
and prints one JSON line: ``{"<ref>": "booked" | "conflict" | "<other error>"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime, timedelta

from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from hub.errors import Conflict
from hub.ports.calendar import NewBooking


async def _book(calendar: CaldavCalendar, new: NewBooking) -> str:
    try:
        await calendar.book(new)
        return "booked"
    except Conflict:
        return "conflict"
    except Exception as exc:  # reported, and the test fails on it
        return f"{exc.__class__.__name__}: {exc}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--first", required=True, help="ISO start of the first one-hour slot")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--start-at", type=float, required=True)
    args = parser.parse_args()
    calendar = CaldavCalendar(CaldavConfig(base_url=args.url, username="hub", password=SecretStr(args.password)))
    first = datetime.fromisoformat(args.first)
    bookings = [NewBooking(external_ref=f"{args.prefix}-{i}", room_id=args.room, start=first + timedelta(hours=i),
                           end=first + timedelta(hours=i + 1), summary="race", organizer_email="race@oslomet.no")
                for i in range(args.slots)]
    await calendar.list_rooms()  # connect and discover before the start signal
    await asyncio.sleep(max(0.0, args.start_at - time.time()))
    results = await asyncio.gather(*(_book(calendar, b) for b in bookings))
    await calendar.aclose()
    print(json.dumps({b.external_ref: r for b, r in zip(bookings, results, strict=True)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
