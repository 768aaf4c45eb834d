"""How busy a global limit was, and how long each block held it: read from the holds the hub's
blocks append to ``HUB_SLOT_TRACE`` (:mod:`hub.slots`) and the bare client records the same way.

A service bound by a limit (RT's two write slots, ``ticketing``) drains as fast as its blocks
hand the slots on. Two things can make the hub slower there than the bare client: slots left
free while blocks wait (hand-overs between processes), and each block holding its slot longer
(more work inside it, or the same calls answered more slowly). :func:`occupancy` tells them
apart: the share of the limit's capacity in use from the first ask to the last end, and the
hold and wait times per block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.stats import percentile

__all__ = ["Hold", "Occupancy", "read", "occupancy"]


@dataclass(frozen=True)
class Hold:
    """One block: the limits it held, its process, and when it asked, got them and ended."""

    names: tuple[str, ...]
    pid: int
    asked: float
    got: float
    end: float


@dataclass(frozen=True)
class Occupancy:
    name: str
    slots: int
    blocks: int
    seconds: float  # from the first block's ask to the last one's end
    busy: float  # the share of the limit's slot-seconds held in that time
    most_held: int  # the most blocks holding the limit at once
    hold_p50: float
    hold_p90: float
    wait_p50: float
    wait_p90: float
    processes: int

    def describe(self) -> str:
        return (f"{self.busy:.0%} busy over {self.seconds:.0f} s, each block held it p50 {self.hold_p50:.2f} s, "
                f"p90 {self.hold_p90:.2f} s and waited p50 {self.wait_p50:.2f} s ({self.blocks:,} blocks, "
                f"{self.processes} process(es), at most {self.most_held} at once)")


def read(path: Path, since: float = float("-inf"), until: float = float("inf")) -> list[Hold]:
    """The holds in ``path`` that began (asked) within [since, until]; none if there is no file."""
    if not path.exists():
        return []
    holds = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        hold = Hold(tuple(raw["names"]), int(raw["pid"]), float(raw["asked"]), float(raw["got"]), float(raw["end"]))
        if since <= hold.asked <= until:
            holds.append(hold)
    return holds


def occupancy(holds: list[Hold], name: str, slots: int) -> Occupancy | None:
    """How limit ``name`` (of ``slots`` slots) was used by ``holds``; None if no block held it."""
    mine = [h for h in holds if name in h.names]
    if not mine:
        return None
    first, last = min(h.asked for h in mine), max(h.end for h in mine)
    edges = sorted([(h.got, 1) for h in mine] + [(h.end, -1) for h in mine], key=lambda e: (e[0], e[1]))
    held = most = 0
    held_seconds, at = 0.0, first
    for when, change in edges:
        held_seconds += held * (when - at)
        at, held = when, held + change
        most = max(most, held)
    seconds = last - first
    holds_s = [h.end - h.got for h in mine]
    waits = [h.got - h.asked for h in mine]
    return Occupancy(name, slots, len(mine), seconds, held_seconds / (slots * seconds) if seconds > 0 else 0.0, most,
                     percentile(holds_s, 0.5), percentile(holds_s, 0.9), percentile(waits, 0.5), percentile(waits, 0.9),
                     len({h.pid for h in mine}))
