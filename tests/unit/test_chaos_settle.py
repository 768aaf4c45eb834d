"""The chaos bench's settle phase: patient while work drains, quick to call a stall.

A fake clock stands in for the minutes; the open-work count is what the ledger would say.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bench.chaos as chaos


class Clock:
    """``time.monotonic`` and ``time.sleep`` for the bench, without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def strftime(self, fmt: str) -> str:
        return "00:00:00"


def _settle(monkeypatch: pytest.MonkeyPatch, open_counts: Iterator[int], **opts: Any) -> chaos.Record:
    clock = Clock()
    monkeypatch.setattr(chaos, "time", clock)
    monkeypatch.setattr(chaos, "open_work", lambda ledger, expected: next(open_counts))
    monkeypatch.setattr(chaos, "active_runs", lambda stack: [])
    monkeypatch.setattr(chaos, "open_breakdown", lambda ledger: "")
    monkeypatch.setattr(chaos, "runs_breakdown", lambda stack, busy: "")
    monkeypatch.setattr(chaos, "expected_items", lambda sent, hostile: {})
    record = chaos.Record()
    chaos.settle(None, chaos.Options.small(**opts), record, None)  # type: ignore[arg-type]
    return record


def _draining(start: int, every: int) -> Iterator[int]:
    """One item closes every ``every`` polls (a poll is 2 s), then nothing is open."""
    left, polls = start, 0
    while True:
        polls += 1
        if polls % every == 0 and left > 0:
            left -= 1
        yield left


def test_slow_but_steady_work_is_waited_for_past_the_old_840_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    record = _settle(monkeypatch, _draining(6, every=80))  # one item per 160 s: 960 s to drain
    assert record.notes == []
    assert 960 <= record.timings["settle"] < 1200


def test_no_item_closing_for_five_minutes_is_a_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck() -> Iterator[int]:
        yield from (5, 4, 3)
        while True:
            yield 2

    record = _settle(monkeypatch, stuck())
    assert record.notes and record.notes[0].startswith("stalled: no open item closed for 300 s (2 still open")
    assert 300 <= record.timings["settle"] < 320


def test_the_whole_settle_is_still_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    record = _settle(monkeypatch, _draining(1000, every=20), settle_seconds=600.0)  # closing, never done
    assert record.notes == ["still open work after 600 s of settling"]
    assert record.timings["settle"] >= 600
