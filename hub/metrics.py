"""Service metrics per service and per ISO week, computed from the ledger's work items.

Pure computation: no Prefect, no I/O except :func:`read_metrics`, which reads a
:class:`~hub.ledger.Ledger`. The ``service-metrics`` flow turns the result into artifacts.

Definitions (every number is about *work items*, one per service and source key):

- **Week.** An item belongs to the ISO week (Monday 00:00 – Sunday 24:00, Europe/Oslo) of
  its ``requested_at``: when the request reached the hub. Sunday 23:30 Oslo time is still
  that week, although it is already Monday in no time zone east of Oslo and 22:30 UTC.
  The window is the last ``weeks`` ISO weeks up to and including the week of ``now``.
- **received** items requested in the week; **done**, **failed** (dead letters) and **open**
  (pending + running + waiting) split them by their state *now*, so
  ``received == done + failed + open``. **waiting** is the part of open waiting for
  something outside the hub (stock, a decision).
- **Lead time** of a done item: ``completed_at - requested_at`` in hours (never below 0).
  **Median**: the middle value, or the mean of the two middle values for an even count.
  **p90** (nearest rank): sort the *n* lead times ascending; p90 is the value at rank
  ``ceil(0.9 * n)`` (1-based), i.e. the smallest lead time that at least 90 % of the done
  items do not exceed. It is always an observed value: with fewer than 10 done items it
  is the largest; with 10 it is the second largest; with 20, the 18th.
  Both are ``None`` when the week has no done item.
- **Automation rate**: done items with ``manual_steps == 0`` divided by done items
  (``None`` without done items).
- **Oldest open**: the open item with the earliest ``requested_at`` (ties: lowest source
  key) and its age in days at ``now``. Per week among that week's items; in the overall
  row among *all* open items of the service, however old — an item forgotten for months
  is exactly what the overall row must show.
- **Overall row** (``period == "all"``): the same numbers over every item requested in
  the window; ``open_before_window`` counts open items requested before it (they are in
  no other column).
- Also counted: ``sla_breached`` (items whose ``data["sla_breached"]`` is true),
  ``replays`` (sum of ``data["replays"]``) and dead letters by ``error_kind``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.ledger import ItemState, Ledger, WorkItem
from hub.privacy import mask

__all__ = ["OSLO", "IsoWeek", "ItemFacts", "OldestOpen", "MetricsRow", "ServiceMetrics", "MetricsReport",
           "compute_metrics", "read_metrics", "last_weeks", "nearest_rank", "median"]

OSLO = ZoneInfo("Europe/Oslo")
ALL = "all"
_OPEN = frozenset(ItemState.OPEN)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO week; ``label`` is ``2026-W48``."""

    year: int
    week: int

    @classmethod
    def of(cls, moment: datetime) -> IsoWeek:
        year, week, _ = _aware(moment).astimezone(OSLO).isocalendar()
        return cls(year, week)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 Europe/Oslo."""
        return datetime.combine(self.monday, time(0), tzinfo=OSLO)


@dataclass(frozen=True)
class ItemFacts:
    """What the metrics need of a work item (the ledger's ``WorkItem`` converts to this)."""

    service: str
    source_key: str
    state: str
    requested_at: datetime
    completed_at: datetime | None = None
    manual_steps: int = 0
    error_kind: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, item: WorkItem | ItemFacts) -> ItemFacts:
        if isinstance(item, ItemFacts):
            return item
        return cls(service=item.service, source_key=item.source_key, state=item.state,
                   requested_at=item.requested_at, completed_at=item.completed_at,
                   manual_steps=item.manual_steps or 0, error_kind=item.error_kind, data=dict(item.data or {}))


@dataclass(frozen=True)
class OldestOpen:
    source_key: str
    requested_at: datetime
    age_days: float


@dataclass(frozen=True)
class MetricsRow:
    """One service in one ISO week (``period`` = ``2026-W48``) or over the window (``all``)."""

    service: str
    period: str
    week_start: date | None
    received: int
    done: int
    failed: int
    open: int
    waiting: int
    lead_median_h: float | None
    lead_p90_h: float | None
    automation_rate: float | None
    oldest_open: OldestOpen | None
    sla_breached: int
    replays: int
    failed_by_kind: Mapping[str, int]
    open_before_window: int = 0

    def table_row(self) -> dict[str, str | int | float]:
        """Flat, display-ready cells (hours to 0.1, rates in %, ``-`` for no value)."""
        oldest = self.oldest_open
        return {
            "service": self.service,
            "week": self.period,
            "received": self.received,
            "done": self.done,
            "dead letters": self.failed,
            "open": self.open,
            "median h": _fmt(self.lead_median_h, 1),
            "p90 h": _fmt(self.lead_p90_h, 1),
            "automated %": _fmt(None if self.automation_rate is None else 100 * self.automation_rate, 0),
            "oldest open d": _fmt(oldest.age_days if oldest else None, 1),
            "oldest open key": mask(oldest.source_key) if oldest else "-",
            "dead-letter kinds": ", ".join(f"{k} {n}" for k, n in sorted(self.failed_by_kind.items())) or "-",
            "SLA breached": self.sla_breached,
            "replays": self.replays,
            "open, older": self.open_before_window if self.period == ALL else "-",
        }


@dataclass(frozen=True)
class ServiceMetrics:
    service: str
    overall: MetricsRow
    weeks: tuple[MetricsRow, ...]  # every week of the window, oldest first (empty weeks too)


@dataclass(frozen=True)
class MetricsReport:
    now: datetime
    weeks: tuple[IsoWeek, ...]  # oldest first
    services: tuple[ServiceMetrics, ...]  # by service name

    def table(self, *, skip_empty_weeks: bool = True) -> list[dict[str, str | int | float]]:
        """One overall row per service, then its weeks newest first."""
        rows: list[dict[str, str | int | float]] = []
        for svc in self.services:
            rows.append(svc.overall.table_row())
            rows += [w.table_row() for w in reversed(svc.weeks) if w.received or not skip_empty_weeks]
        return rows


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile: the value at 1-based rank ``ceil(percent/100 * n)``."""
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(round(percent / 100 * len(ordered), 9))  # round: 0.55 * 100 is 55.00000000000001
    return ordered[max(rank, 1) - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def last_weeks(now: datetime, weeks: int) -> tuple[IsoWeek, ...]:
    """The ``weeks`` ISO weeks up to and including the one of ``now``, oldest first."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    this_monday = IsoWeek.of(now).monday
    return tuple(IsoWeek.of(datetime.combine(this_monday - timedelta(weeks=back), time(12), tzinfo=OSLO))
                 for back in range(weeks - 1, -1, -1))


def compute_metrics(items: Iterable[WorkItem | ItemFacts], now: datetime, *, weeks: int = 8) -> MetricsReport:
    """Metrics for every service in ``items`` over the last ``weeks`` ISO weeks (see module doc)."""
    now = _aware(now)
    window = last_weeks(now, weeks)
    start = window[0].start
    by_service: dict[str, list[ItemFacts]] = {}
    for raw in items:
        facts = ItemFacts.of(raw)
        _aware(facts.requested_at)
        by_service.setdefault(facts.service, []).append(facts)
    services = []
    for name in sorted(by_service):
        inside = [i for i in by_service[name] if i.requested_at >= start]
        before = [i for i in by_service[name] if i.requested_at < start and i.state in _OPEN]
        per_week: dict[IsoWeek, list[ItemFacts]] = {w: [] for w in window}
        for item in inside:
            week = IsoWeek.of(item.requested_at)
            if week in per_week:  # items requested after the week of now are left out
                per_week[week].append(item)
        week_rows = tuple(_row(name, w.label, w.monday, per_week[w], now) for w in window)
        counted = [i for group in per_week.values() for i in group]
        overall = _row(name, ALL, None, counted, now, extra_open=before)
        services.append(ServiceMetrics(service=name, overall=overall, weeks=week_rows))
    return MetricsReport(now=now, weeks=window, services=tuple(services))


def read_metrics(ledger: Ledger, *, now: datetime | None = None, weeks: int = 8) -> MetricsReport:
    """Read the window's items and every open item from ``ledger``, then compute."""
    now = _aware(now) if now else datetime.now(OSLO)
    start = last_weeks(now, weeks)[0].start
    found = {i.id: i for i in ledger.items(since=start, limit=None)}
    found.update({i.id: i for i in ledger.items(states=list(ItemState.OPEN), limit=None)})
    return compute_metrics(found.values(), now, weeks=weeks)


def _row(service: str, period: str, week_start: date | None, items: list[ItemFacts], now: datetime,
         extra_open: Sequence[ItemFacts] = ()) -> MetricsRow:
    done = [i for i in items if i.state == ItemState.DONE]
    failed = [i for i in items if i.state == ItemState.FAILED]
    open_items = [i for i in items if i.state in _OPEN]
    leads = [max(0.0, (i.completed_at - i.requested_at).total_seconds() / 3600)
             for i in done if i.completed_at is not None]
    kinds: dict[str, int] = {}
    for item in failed:
        kinds[item.error_kind or "unknown"] = kinds.get(item.error_kind or "unknown", 0) + 1
    return MetricsRow(
        service=service, period=period, week_start=week_start, received=len(items), done=len(done),
        failed=len(failed), open=len(open_items), waiting=sum(i.state == ItemState.WAITING for i in items),
        lead_median_h=median(leads), lead_p90_h=nearest_rank(leads, 90),
        automation_rate=(sum(i.manual_steps == 0 for i in done) / len(done)) if done else None,
        oldest_open=_oldest(open_items + list(extra_open), now),
        sla_breached=sum(bool(i.data.get("sla_breached")) for i in items),
        replays=sum(_int(i.data.get("replays")) for i in items),
        failed_by_kind=kinds, open_before_window=len(extra_open))


def _oldest(open_items: Sequence[ItemFacts], now: datetime) -> OldestOpen | None:
    if not open_items:
        return None
    first = min(open_items, key=lambda i: (i.requested_at, i.source_key))
    return OldestOpen(source_key=first.source_key, requested_at=first.requested_at,
                      age_days=(now - first.requested_at).total_seconds() / 86400)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime given to the metrics; use timezone-aware times")
    return moment


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _fmt(value: float | None, digits: int) -> str | int | float:
    if value is None:
        return "-"
    return round(value, digits) if digits else round(value)
