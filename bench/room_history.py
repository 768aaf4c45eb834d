"""Does a room booking cost the same with a long history? (issue 12)

``python -m bench.room_history [--history 500,50000] [--baseline 500,2000] [--bookings 20] [--events]``

Starts its own Radicale (the sandbox, 127.0.0.1 only) per history size, each with a fresh data
directory holding N *history markers* — the slot markers of N past one-slot bookings — then
times ``CaldavCalendar.book`` (one hour = 4 slots, future days, rooms in turn, one after the
other) and prints median and p95 per booking. All servers run side by side and take turns per
booking, so the load of a shared machine hits every layout and history size alike:

- **per room-day** (the layout now): history markers sit in the room-day calendars of past
  days (``/hub/room-slots-<room>-<YYYYMMDD>/``), as if ``prune_past`` had never run — the
  worst case; a booking only touches its own room-day calendar.
- **single collection** (the layout before issue 12, the baseline): every marker in
  ``/hub/room-slots/``, written by the same connector with its marker collection pinned to
  that one calendar. It costs ~0.7 ms per marker per booking, so it is measured only at the
  ``--baseline`` sizes and its fit ``a + b × markers`` is *extrapolated* to the largest
  history size (said so in the output).

Planting 50,000 markers through HTTP would take far longer than the bench, so they are
written straight into Radicale's filesystem storage before the server starts: one
``<name>.ics`` file per item in ``collections/collection-root/hub/<collection>/`` beside the
collection's ``.Radicale.props`` (``{"tag": "VCALENDAR"}``). Radicale builds its item cache
(``.Radicale.cache/item/``) itself on the first read; a few unmeasured warm-up bookings per
server (``--warmup``) pay for that.

By default only markers are planted. ``--events`` plants the history's *events* (the bookings)
too. Radicale reads a whole room calendar for the UID check on a new event and for every query
of it, so where they are matters:

- **events archived** (now): in the archive calendar of their room and month, where the rooms
  batch's prune moves the bookings of days that have ended (:mod:`connectors.caldav.archive`;
  the move itself is tested in ``tests/connectors/caldav/test_archive.py``);
- **events in rooms** (before, the baseline): in the room calendars, as every booking stayed;
  measured at the ``--baseline`` sizes and extrapolated like the old marker layout.

Markers are per room-day in both. Each run's first booking per room is unmeasured, as Radicale
builds its item cache then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from connectors.caldav.events import MARKER_BOOKING, ROOM_PROPERTY, event_ics
from connectors.caldav.slots import SlotMarkers
from hub.ports.calendar import NewBooking
from hub.settings import OSLO
from sandbox.procs import free_port
from sandbox.radicale import DEFAULT_PASSWORD, DEFAULT_USER, ROOMS, start_radicale
from sandbox.radicale.configure import provision_rooms, write_config

NEW, OLD = "per room-day", "single collection"
SLOTS_PER_DAY = 40  # 08:00-18:00 in 15-minute slots
TARGET = 1.2


class _SingleCollection(SlotMarkers):
    """The layout before issue 12: every marker in one calendar (``slots_collection``)."""

    def collection(self, room_id: str, slot_start: datetime) -> str:
        return self.legacy


def _marker(room_id: str, slot: datetime, booking: str) -> str:
    stamp = f"{slot.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    end = f"{(slot + timedelta(minutes=15)).astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//OsloMet//bench room_history//NO\r\nBEGIN:VEVENT\r\n"
            f"UID:slot-{room_id.lower()}-{stamp[:13]}Z\r\nDTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\nDTEND:{end}\r\n"
            f"SUMMARY:{room_id}: slot held by booking {booking}\r\nTRANSP:TRANSPARENT\r\n"
            f"{ROOM_PROPERTY}:{room_id}\r\n{MARKER_BOOKING}:{booking}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def _history(count: int, today: date) -> list[tuple[str, datetime, str]]:
    """(room id, slot start, booking uid) of ``count`` past one-slot bookings, newest first."""
    found = []
    for i in range(count):
        room = ROOMS[i % len(ROOMS)].id
        per_day = i // len(ROOMS)
        day = today - timedelta(days=1 + per_day // SLOTS_PER_DAY)
        slot = datetime.combine(day, day_time(8), OSLO) + timedelta(minutes=15 * (per_day % SLOTS_PER_DAY))
        found.append((room, slot, f"gr-hist-{i:08d}"))
    return found


def _collection_dir(root: Path, name: str) -> Path:
    path = root / "collections" / "collection-root" / DEFAULT_USER / name
    if not path.exists():
        path.mkdir(parents=True)
        (path / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}))
    return path


def plant(data_dir: Path, layout: str, count: int, *, events: bool = False) -> None:
    """Write the history straight into Radicale's storage (the server is not running); with
    ``events`` each past booking's event too, in its room calendar, as the connector writes it."""
    config = CaldavConfig(base_url="http://127.0.0.1", username=DEFAULT_USER, password=SecretStr("x"))
    today = datetime.now(OSLO).date()
    for room, slot, booking in _history(count, today):
        if layout == NEW or events:  # with events, "before" is the event layout before, markers as now
            name = f"{config.slot_collection_prefix}{room.lower()}-{slot.astimezone(OSLO):%Y%m%d}"
        else:
            name = config.slots_collection
        marker_name = f"{room.lower()}-{slot.astimezone(UTC):%Y%m%dT%H%MZ}.ics"
        (_collection_dir(data_dir, name) / marker_name).write_text(_marker(room, slot, booking), newline="")
        if events:
            ics = event_ics(uid=booking, room_id=room, room_name=room, start=slot, end=slot + timedelta(minutes=15),
                            summary="Grupperom: history", organizer_email="bench@oslomet.no", description="",
                            now=slot - timedelta(days=1))
            # Now: where the rooms batch's prune moves them (connectors.caldav.archive); before:
            # in the room calendar, as every booking stayed.
            home = (f"{config.archive_prefix}{room.lower()}-{slot.astimezone(OSLO):%Y%m}" if layout == NEW
                    else room.lower())
            (_collection_dir(data_dir, home) / f"{booking}.ics").write_bytes(ics)


def _bookings(count: int, first: date, tag: str) -> list[NewBooking]:
    found = []
    for i in range(count):
        day = first + timedelta(days=i // (len(ROOMS) * 10))
        start = datetime.combine(day, day_time(8 + (i // len(ROOMS)) % 10), OSLO)
        found.append(NewBooking(external_ref=f"gr-bench-{tag}-{i}", room_id=ROOMS[i % len(ROOMS)].id, start=start,
                                end=start + timedelta(hours=1), summary="Bench", organizer_email="bench@oslomet.no"))
    return found


async def _time_bookings(servers: list[tuple[str, str, int]], warmup: int, events: bool) -> list[list[float]]:
    """Time the bookings on every (url, layout, count) server, taking turns (booking i on every
    server, then i + 1), so a change in the machine's load hits every layout and size alike."""
    calendars = []
    for url, layout, _ in servers:
        calendar = CaldavCalendar(CaldavConfig(base_url=url, username=DEFAULT_USER,
                                               password=SecretStr(DEFAULT_PASSWORD), timeout=120.0))
        if layout == OLD and not events:
            calendar.slots = _SingleCollection(calendar.api, calendar.config, calendar.clock)
            calendar.slots._legacy_gone = True  # no older layout behind the old layout
        calendars.append(calendar)
    try:
        first = datetime.now(OSLO).date() + timedelta(days=30)
        for calendar in calendars:  # discovers the rooms; Radicale builds its item cache
            for new in _bookings(warmup, first - timedelta(days=7), "warm"):
                await calendar.book(new)
        took: list[list[float]] = [[] for _ in calendars]
        for i, new in enumerate(_bookings(max(count for _, _, count in servers), first, "timed")):
            for calendar, (_, _, count), times in zip(calendars, servers, took, strict=True):
                if i < count:
                    started = time.perf_counter()
                    await calendar.book(new)
                    times.append((time.perf_counter() - started) * 1000)
        return took
    finally:
        for calendar in calendars:
            await calendar.aclose()


def measure(runs: list[tuple[str, int, int]], *, warmup: int, events: bool = False) -> list[list[float]]:
    """One Radicale per (layout, history size, bookings), all running at once; the booking
    times of each."""
    work = Path(tempfile.mkdtemp(prefix="room-history-"))
    procs = []
    try:
        for i, (layout, size, _) in enumerate(runs):
            data, logs = work / f"data-{i}", work / f"logs-{i}"
            provision_rooms(write_config(data, free_port()))  # the rooms, as the sandbox makes them
            plant(data, layout, size, events=events)
            procs.append(start_radicale(data, logs, timeout=600.0))  # it looks over the planted storage first
        servers = [(p.url or "", layout, count) for p, (layout, _, count) in zip(procs, runs, strict=True)]
        return asyncio.run(_time_bookings(servers, warmup, events))
    finally:
        for proc in procs:
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def main() -> None:
    from bench.kills import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops what the bench started, as Ctrl-C does
    parser = argparse.ArgumentParser(prog="python -m bench.room_history", description=__doc__.split("\n")[0])
    parser.add_argument("--history", default="500,50000", help="history sizes (markers) for the layout now")
    parser.add_argument("--baseline", default="500,2000", help="history sizes for the old layout (kept short)")
    parser.add_argument("--bookings", type=int, default=20, help="timed bookings per run (layout now)")
    parser.add_argument("--baseline-bookings", type=int, default=6, help="timed bookings per run (old layout)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured bookings per server first")
    parser.add_argument("--events", action="store_true",
                        help="the history's bookings as events too: archived (now) against left in the room "
                             "calendars (before, at the --baseline sizes)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.history.split(",")]
    baseline = [int(s) for s in args.baseline.split(",")]
    label = {NEW: "events archived", OLD: "events in rooms"} if args.events else {NEW: NEW, OLD: OLD}
    # With events, Radicale reads each room calendar whole on its first query (building its item
    # cache): one unmeasured booking per room first.
    warmup = max(args.warmup, len(ROOMS)) if args.events else args.warmup
    rows: list[tuple[str, str, int, float, float]] = []
    medians: dict[tuple[str, int], float] = {}
    runs = [(NEW, size, args.bookings) for size in sizes] + [(OLD, size, args.baseline_bookings) for size in baseline]
    for (layout, size, _), took in zip(runs, measure(runs, warmup=warmup, events=args.events), strict=True):
        medians[layout, size] = statistics.median(took)
        rows.append((label[layout], f"{size:,}", len(took), statistics.median(took), _p95(took)))
    intercept = slope = 0.0
    if baseline:  # the old layout's fit, a + b × markers, from its smallest and largest measured size
        low, high = min(baseline), max(baseline)
        slope = (medians[OLD, high] - medians[OLD, low]) / (high - low) if high > low else 0.0
        intercept = medians[OLD, low] - slope * low
        for size in sizes:
            if size not in baseline:
                rows.append((label[OLD], f"{size:,} (extrapolated)", 0, intercept + slope * size, float("nan")))
    history = ("markers and events of past one-slot bookings" if args.events
               else "markers of past one-slot bookings")
    print(f"\nroom booking vs history (history: {history}; booking = 1 h = 4 slots)")
    print(f"{'layout':<18} {'history':>22} {'bookings':>8} {'median ms':>10} {'p95 ms':>8}")
    for layout, size_text, n, median, p95 in rows:
        print(f"{layout:<18} {size_text:>22} {n or '-':>8} {median:>10.1f} {p95:>8.1f}")
    small, large = min(sizes), max(sizes)
    ratio = medians[NEW, large] / medians[NEW, small]
    verdict = f"{label[NEW]} {ratio:.2f} (target ≤ {TARGET}) {'OK' if ratio <= TARGET else 'MISSED'}"
    if baseline:
        old_large = medians.get((OLD, large), intercept + slope * large)
        old_small = medians.get((OLD, small), intercept + slope * small)
        print(f"\n{label[OLD]} fit: {intercept:.0f} ms + {slope:.3f} ms × bookings of history "
              f"(measured at {', '.join(f'{s:,}' for s in baseline)}; larger sizes extrapolated)")
        verdict += f"; {label[OLD]} {old_large / old_small:.1f}"
    print(f"ratio median {large:,} / {small:,}: {verdict}")


if __name__ == "__main__":
    main()
