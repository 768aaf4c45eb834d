"""Service metrics on a real SQLite ledger seeded with items whose answers are known by hand.

``NOW`` is Thursday 26 November 2026, 12:00 in Oslo: ISO week 48; the default window of 8
weeks is 2026-W41 (from Monday 5 October) to 2026-W48.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.ledger import ItemState, Ledger, WorkItem
from hub.metrics import (
    OSLO,
    IsoWeek,
    ItemFacts,
    MetricsReport,
    MetricsRow,
    compute_metrics,
    last_weeks,
    median,
    nearest_rank,
    read_metrics,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=OSLO)


def oslo(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=OSLO)


def seed(ledger: Ledger, service: str, key: str, requested: datetime, state: str, *,
         lead_h: float | None = None, manual: int = 0, error_kind: str | None = None,
         data: dict[str, Any] | None = None) -> None:
    item = ledger.ensure_item(service, key, requested_at=requested, data=data)
    with ledger.session() as s:
        row = s.get(WorkItem, item.id)
        assert row is not None
        row.state, row.manual_steps, row.error_kind = state, manual, error_kind
        row.completed_at = requested + timedelta(hours=lead_h) if lead_h is not None else None


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path}/l.db")
    # onboarding, week 47 (Mon 16 – Sun 22 November)
    seed(ledger, "onboarding", "10001", oslo(11, 16, 8), ItemState.DONE, lead_h=2)
    seed(ledger, "onboarding", "10002", oslo(11, 17, 8), ItemState.DONE, lead_h=4, manual=1)
    seed(ledger, "onboarding", "10003", oslo(11, 18, 8), ItemState.DONE, lead_h=6)
    seed(ledger, "onboarding", "10004", oslo(11, 19, 8), ItemState.DONE, lead_h=24)
    seed(ledger, "onboarding", "10005", oslo(11, 22, 23, 30), ItemState.FAILED, error_kind="invalid_input")
    seed(ledger, "onboarding", "10006", oslo(11, 20, 9), ItemState.WAITING)
    # onboarding, week 48: Monday 00:10 in Oslo is still Sunday (week 47) in UTC
    seed(ledger, "onboarding", "10007", oslo(11, 23, 0, 10), ItemState.DONE, lead_h=1)
    seed(ledger, "onboarding", "10008", oslo(11, 25, 12), ItemState.PENDING)
    # onboarding, before the window: one forgotten open item, one long done
    seed(ledger, "onboarding", "10000", oslo(9, 1, 10), ItemState.RUNNING)
    seed(ledger, "onboarding", "09999", oslo(8, 3, 10), ItemState.DONE, lead_h=5)
    # fritak, week 45: nothing done yet
    seed(ledger, "fritak", "5001", oslo(11, 2, 9), ItemState.WAITING, data={"sla_breached": True})
    seed(ledger, "fritak", "5002", oslo(11, 3, 9), ItemState.FAILED, error_kind="transient", data={"replays": 2})
    seed(ledger, "fritak", "5003", oslo(11, 4, 9), ItemState.FAILED, error_kind="crash")
    # laptop, week 46: ten done items with lead times 1..10 h, three needing a person
    for n in range(1, 11):
        seed(ledger, "laptop", f"700{n:02d}", oslo(11, 9, 8) + timedelta(minutes=n), ItemState.DONE,
             lead_h=n, manual=1 if n in (2, 5, 9) else 0)
    yield ledger
    ledger.dispose()


@pytest.fixture
def report(ledger: Ledger) -> MetricsReport:
    return read_metrics(ledger, now=NOW)


def service(report: MetricsReport, name: str) -> tuple[MetricsRow, dict[str, MetricsRow]]:
    found = next(s for s in report.services if s.service == name)
    return found.overall, {w.period: w for w in found.weeks}


def test_window_is_the_last_eight_iso_weeks(report: MetricsReport) -> None:
    assert [w.label for w in report.weeks] == [f"2026-W{n}" for n in range(41, 49)]
    assert report.weeks[0].start == oslo(10, 5)
    assert [s.service for s in report.services] == ["fritak", "laptop", "onboarding"]


def test_onboarding_weeks_by_hand(report: MetricsReport) -> None:
    _, weeks = service(report, "onboarding")
    w47 = weeks["2026-W47"]
    assert (w47.received, w47.done, w47.failed, w47.open, w47.waiting) == (6, 4, 1, 1, 1)
    assert w47.lead_median_h == 5.0  # mean of 4 and 6
    assert w47.lead_p90_h == 24.0  # rank ceil(0.9 * 4) = 4
    assert w47.automation_rate == 0.75
    assert w47.failed_by_kind == {"invalid_input": 1}
    assert w47.oldest_open is not None and w47.oldest_open.source_key == "10006"
    assert w47.oldest_open.age_days == pytest.approx(6.125)  # Fri 09:00 → Thu 12:00
    w48 = weeks["2026-W48"]
    assert (w48.received, w48.done, w48.open, w48.lead_median_h, w48.lead_p90_h) == (2, 1, 1, 1.0, 1.0)
    assert w48.automation_rate == 1.0
    assert w48.oldest_open is not None and (w48.oldest_open.source_key, w48.oldest_open.age_days) == ("10008", 1.0)
    assert weeks["2026-W41"].received == 0 and weeks["2026-W41"].lead_median_h is None


def test_onboarding_overall_shows_the_forgotten_item(report: MetricsReport) -> None:
    overall, _ = service(report, "onboarding")
    assert overall.period == "all" and overall.week_start is None
    assert (overall.received, overall.done, overall.failed, overall.open) == (8, 5, 1, 2)
    assert overall.lead_median_h == 4.0 and overall.lead_p90_h == 24.0  # [1, 2, 4, 6, 24], rank 5
    assert overall.automation_rate == 0.8
    assert overall.open_before_window == 1
    assert overall.oldest_open is not None and overall.oldest_open.source_key == "10000"
    # 1 Sep 10:00 CEST (08:00 UTC) → 26 Nov 12:00 CET (11:00 UTC): 86 days and 3 hours
    assert overall.oldest_open.age_days == pytest.approx(86.125)


def test_no_done_items_means_no_lead_time_or_automation_rate(report: MetricsReport) -> None:
    overall, weeks = service(report, "fritak")
    for row in (overall, weeks["2026-W45"]):
        assert (row.received, row.done, row.failed, row.open) == (3, 0, 2, 1)
        assert row.lead_median_h is None and row.lead_p90_h is None and row.automation_rate is None
        assert row.failed_by_kind == {"transient": 1, "crash": 1}
        assert (row.sla_breached, row.replays) == (1, 2)
        assert row.oldest_open is not None and row.oldest_open.age_days == pytest.approx(24.125)
    assert overall.open_before_window == 0


def test_ten_lead_times_p90_is_the_ninth(report: MetricsReport) -> None:
    overall, weeks = service(report, "laptop")
    w46 = weeks["2026-W46"]
    assert (w46.done, w46.lead_median_h, w46.lead_p90_h) == (10, 5.5, 9.0)
    assert w46.automation_rate == 0.7
    assert overall.oldest_open is None and overall.open == 0


def test_table_rows_overall_first_then_weeks_newest_first(report: MetricsReport) -> None:
    rows = [r for r in report.table() if r["service"] == "onboarding"]
    assert [r["week"] for r in rows] == ["all", "2026-W48", "2026-W47"]
    first = rows[0]
    assert first["automated %"] == 80 and first["p90 h"] == 24.0
    assert first["oldest open key"] == "10000" and first["oldest open d"] == 86.1
    assert first["dead letters"] == 1 and first["dead-letter kinds"] == "invalid_input 1"
    fritak = next(r for r in report.table() if r["service"] == "fritak")
    assert fritak["median h"] == "-" and fritak["dead-letter kinds"] == "crash 1, transient 1"
    assert len(report.table(skip_empty_weeks=False)) == 3 * 9


def test_one_week_window_counts_older_open_items_apart(ledger: Ledger) -> None:
    overall, weeks = service(read_metrics(ledger, now=NOW, weeks=1), "onboarding")
    assert list(weeks) == ["2026-W48"]
    assert (overall.received, overall.open, overall.open_before_window) == (2, 1, 2)
    assert overall.oldest_open is not None and overall.oldest_open.source_key == "10000"


@pytest.mark.parametrize(("moment", "label"), [
    (datetime(2026, 11, 22, 23, 30, tzinfo=OSLO), "2026-W47"),  # Sunday 23:30 Oslo
    (datetime(2026, 11, 22, 23, 10, tzinfo=OSLO).replace(tzinfo=None), None),  # naive: refused
    (datetime(2026, 11, 23, 0, 10, tzinfo=OSLO), "2026-W48"),  # Monday 00:10 Oslo = Sunday in UTC
    (datetime(2026, 10, 25, 23, 30, tzinfo=OSLO), "2026-W43"),  # the night DST ended
    (datetime(2026, 6, 29, 0, 10, tzinfo=OSLO), "2026-W27"),  # summer time, Monday 00:10
    (datetime(2027, 1, 3, 12, 0, tzinfo=OSLO), "2026-W53"),  # 2026 has 53 ISO weeks
])
def test_iso_weeks_in_oslo_time(moment: datetime, label: str | None) -> None:
    if label is None:
        with pytest.raises(ValueError, match="naive"):
            IsoWeek.of(moment)
    else:
        assert IsoWeek.of(moment).label == label


def test_window_across_new_year() -> None:
    weeks = last_weeks(datetime(2027, 1, 6, 9, 0, tzinfo=OSLO), 3)
    assert [w.label for w in weeks] == ["2026-W52", "2026-W53", "2027-W01"]
    with pytest.raises(ValueError):
        last_weeks(NOW, 0)


def test_nearest_rank_and_median() -> None:
    assert nearest_rank([], 90) is None and median([]) is None
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([float(n) for n in range(1, 11)], 90) == 9.0
    assert nearest_rank([float(n) for n in range(20, 0, -1)], 90) == 18.0
    assert nearest_rank([1.0, 2.0, 3.0], 50) == 2.0
    assert nearest_rank([float(n) for n in range(1, 101)], 55) == 55.0  # 0.55 * 100 is 55.00000000000001
    assert median([3.0, 1.0, 10.0, 2.0]) == 2.5


def test_plain_facts_and_edge_cases_without_a_ledger() -> None:
    monday = datetime(2026, 11, 23, 0, 10, tzinfo=OSLO)
    items = [
        ItemFacts("rooms", "r1", ItemState.DONE, monday, completed_at=monday - timedelta(hours=1)),
        ItemFacts("rooms", "r2", ItemState.DONE, monday, completed_at=None, manual_steps=2),
        ItemFacts("rooms", "r3", ItemState.PENDING, NOW + timedelta(days=7)),  # next week: outside
    ]
    overall, weeks = service(compute_metrics(items, NOW, weeks=2), "rooms")
    w48 = weeks["2026-W48"]
    assert (w48.received, w48.done, w48.open) == (2, 2, 0)
    assert w48.lead_median_h == 0.0  # a completion before the request is clamped to 0
    assert w48.automation_rate == 0.5
    assert overall.received == 2 and overall.oldest_open is None
    with pytest.raises(ValueError, match="naive"):
        compute_metrics(items, NOW.replace(tzinfo=None))
