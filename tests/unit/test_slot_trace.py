"""bench.slot_trace: how busy a limit was and how long each block held it, from the holds the
hub's blocks append to HUB_SLOT_TRACE and the bare client records the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.slot_trace import Hold, occupancy, read


def test_a_limit_held_back_to_back_is_fully_busy_and_its_holds_are_told_apart_from_its_waits() -> None:
    # Two slots; four blocks asked at 0; two held 0-1, the other two waited and held 1-3.
    holds = [Hold(("ticketing",), 1, 0.0, 0.0, 1.0), Hold(("ticketing",), 1, 0.0, 0.0, 1.0),
             Hold(("ticketing",), 2, 0.0, 1.0, 3.0), Hold(("ticketing",), 2, 0.0, 1.0, 3.0)]
    used = occupancy(holds, "ticketing", 2)
    assert used is not None
    assert (used.blocks, used.seconds, used.busy, used.most_held, used.processes) == (4, 3.0, 1.0, 2, 2)
    assert (used.hold_p50, used.wait_p50) == (1.5, 0.5)


def test_slots_left_free_while_blocks_wait_lower_the_busy_share() -> None:
    # One slot over 4 s: held 0-1, free 1-2 while the second block waits (a hand-over), held 2-4.
    holds = [Hold(("ticketing",), 1, 0.0, 0.0, 1.0), Hold(("ticketing",), 2, 0.5, 2.0, 4.0)]
    used = occupancy(holds, "ticketing", 1)
    assert used is not None and used.busy == pytest.approx(0.75) and used.most_held == 1
    assert "75% busy over 4 s" in used.describe()


def test_only_the_limit_asked_for_counts() -> None:
    holds = [Hold(("calendar",), 1, 0.0, 0.0, 5.0), Hold(("calendar", "ticketing"), 1, 0.0, 0.0, 1.0)]
    used = occupancy(holds, "ticketing", 2)
    assert used is not None and used.blocks == 1 and used.busy == pytest.approx(0.5)
    assert occupancy(holds, "archive", 2) is None


def test_the_trace_is_read_within_the_phase_s_window(tmp_path: Path) -> None:
    trace = tmp_path / "slot-trace.jsonl"
    trace.write_text("".join(json.dumps({"names": ["ticketing"], "pid": 7, "asked": t, "got": t + 0.1, "end": t + 0.5})
                             + "\n" for t in (10.0, 20.0, 30.0)) + "\n")
    assert [h.asked for h in read(trace, since=15.0, until=25.0)] == [20.0]
    assert len(read(trace)) == 3 and read(tmp_path / "none.jsonl") == []
