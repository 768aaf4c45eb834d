"""The pure rules of movers and leavers: what changed, and the last working day."""

from __future__ import annotations

from datetime import date

import pytest

from hub.ports.hr import Employee
from mappings.employment import Leave, Snapshot, decide, leaver_key, mover_key
from mappings.hire import not_a_new_hire
from mappings.leaver import last_working_day

TODAY = date(2026, 12, 2)
BASE = Snapshot(unit="U1", manager="M1", position="P1", location="PILESTREDET")


def test_first_sight_records_only_unless_a_future_end_date_is_on_the_record() -> None:
    assert decide(None, BASE, today=TODAY).leave is None and decide(None, BASE, today=TODAY).move is None
    ending = Snapshot(unit="U1", end=date(2026, 12, 18))
    assert decide(None, ending, today=TODAY).leave == Leave(date(2026, 12, 18), 1)
    assert decide(None, Snapshot(end=date(2026, 11, 1)), today=TODAY).leave is None  # left already


def test_an_end_date_set_moved_withdrawn_and_set_again_is_a_new_generation_each_time() -> None:
    set_ = decide(BASE, Snapshot(unit="U1", manager="M1", position="P1", location="PILESTREDET",
                                 end=date(2026, 12, 18)), today=TODAY)
    assert set_.leave == Leave(date(2026, 12, 18), 1) and set_.cancel is None and set_.move is None
    moved = decide(set_.snapshot, Snapshot(unit="U1", manager="M1", position="P1", location="PILESTREDET",
                                           end=date(2026, 12, 31)), today=TODAY)
    assert (moved.cancel, moved.leave) == (Leave(date(2026, 12, 18), 1), Leave(date(2026, 12, 31), 2))
    withdrawn = decide(moved.snapshot, BASE, today=TODAY)
    assert (withdrawn.cancel, withdrawn.leave, withdrawn.why) == (Leave(date(2026, 12, 31), 2), None,
                                                                  "end date withdrawn")
    again = decide(withdrawn.snapshot, set_.snapshot, today=TODAY)
    assert again.leave == Leave(date(2026, 12, 18), 3)  # not the cancelled run of generation 1
    assert decide(again.snapshot, again.snapshot, today=TODAY).leave is None  # a repeat: nothing
    late = decide(BASE, Snapshot(unit="U1", manager="M1", position="P1", location="PILESTREDET",
                                 end=date(2026, 11, 30)), today=TODAY)
    assert late.leave == Leave(date(2026, 11, 30), 1) and "in the past" in late.why  # registered late: runs now


def test_a_move_and_its_reversal_are_two_changes_and_a_repeat_is_none() -> None:
    moved_to = Snapshot(unit="U2", manager="M2", position="P1", location="KJELLER")
    there = decide(BASE, moved_to, today=TODAY)
    back = decide(there.snapshot, BASE, today=TODAY)
    assert there.move is not None and back.move is not None and there.move.campus_changed
    assert mover_key("10004", there.move) == "10004:U1>U2:M1>M2:P1>P1:2026-12-02"
    assert mover_key("10004", back.move) == "10004:U2>U1:M2>M1:P1>P1:2026-12-02"
    assert decide(there.snapshot, moved_to, today=TODAY).move is None
    later = decide(BASE, moved_to, today=TODAY, effective=date(2027, 1, 1))
    assert later.move is not None and later.move.effective == date(2027, 1, 1)
    assert leaver_key("010004", Leave(date(2026, 12, 18), 2)) == "10004:2026-12-18:2"


def test_the_snapshot_round_trips_through_the_ledger_cursor_without_personal_data() -> None:
    snapshot = Snapshot(unit="U1", manager="M1", position="P1", location="KJELLER", end=date(2026, 12, 18),
                        end_generation=2)
    assert Snapshot.from_json(snapshot.to_json()) == snapshot
    assert set(snapshot.to_json()) == {"unit", "manager", "position", "location", "end", "end_generation"}


@pytest.mark.parametrize(("end", "last"), [
    (date(2026, 12, 18), date(2026, 12, 18)),  # a Friday
    (date(2026, 12, 20), date(2026, 12, 18)),  # a Sunday → the Friday before
    (date(2026, 12, 26), date(2026, 12, 24)),  # 2. juledag (Saturday), 1. juledag → 24 Dec
    (date(2027, 3, 29), date(2027, 3, 24)),  # 2. påskedag 2027 → before skjærtorsdag
    (date(2027, 5, 17), date(2027, 5, 14)),  # grunnlovsdag (Monday) → Friday
])
def test_the_last_working_day_skips_weekends_and_norwegian_holidays(end: date, last: date) -> None:
    assert last_working_day(end) == last


def test_a_long_standing_employee_is_not_a_new_hire() -> None:
    def employee(start: date) -> Employee:
        return Employee(id="1", first_name="A", last_name="B", start_date=start)

    assert not_a_new_hire(employee(date(2019, 8, 1)), today=TODAY) is not None
    assert not_a_new_hire(employee(date(2026, 11, 20)), today=TODAY) is None  # started lately: may be one
    assert not_a_new_hire(employee(date(2027, 1, 4)), today=TODAY) is None
