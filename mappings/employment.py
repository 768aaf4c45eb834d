"""What changed in an employment, and what the hub must do about it (pure rules).

The employment-changes router (:mod:`flows.employment`) keeps, per employee, the hub's last
seen :class:`Snapshot` of the employment (unit, manager, position, campus, sluttdato = the
end date of employment) — ids and dates only, never a national id or a name. A new reading
of HR is compared with it by :func:`decide`:

- a ``sluttdato`` newly set, or moved → a leaver run on that date (a moved date first cancels
  the run for the old one: it is *superseded*); a date HR registered late, already past, runs
  at once;
- a ``sluttdato`` withdrawn → the scheduled run is cancelled; nothing is written;
- a change of unit, manager or position → one mover item, keyed by from/to and the effective
  date, so the same change seen twice is one item and a change reversed (A → B → A) is two;
- the first sight of a person only records the snapshot, except that a future ``sluttdato``
  already on the record is scheduled (the hub may first see a long-standing employee when
  HR registers their end date).

Each leaver run is keyed by the employee, the end date and a *generation*: the count of end
dates the hub has scheduled for the person. An end date withdrawn and set again to the same
day is a new generation, so a new run, not the cancelled one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from hub.ports.hr import Employee, OrgUnit, canonical_employee_id

__all__ = ["Snapshot", "Leave", "Move", "Decision", "snapshot_of", "decide", "leaver_key", "mover_key",
           "SNAPSHOT_CURSOR"]

SNAPSHOT_CURSOR = "employment:{employee_id}"  # the ledger cursor holding a person's snapshot


@dataclass(frozen=True)
class Snapshot:
    """The employment as the hub last saw it. ``end_generation`` counts scheduled end dates."""

    unit: str | None = None
    manager: str | None = None
    position: str | None = None
    location: str | None = None
    end: date | None = None
    end_generation: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["end"] = self.end.isoformat() if self.end else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        end = data.get("end")
        return cls(unit=data.get("unit"), manager=data.get("manager"), position=data.get("position"),
                   location=data.get("location"), end=date.fromisoformat(end) if end else None,
                   end_generation=int(data.get("end_generation") or 0))


def snapshot_of(employee: Employee, unit: OrgUnit | None, manager_id: str | None) -> Snapshot:
    """The employment read from HR now (the generation is set by :func:`decide`)."""
    return Snapshot(unit=employee.org_unit_id, manager=canonical_employee_id(manager_id) if manager_id else None,
                    position=employee.position_id, location=unit.location if unit else None,
                    end=employee.end_date)


@dataclass(frozen=True)
class Leave:
    """A leaver run to schedule on ``end`` (``generation`` keeps a re-set date apart)."""

    end: date
    generation: int


@dataclass(frozen=True)
class Move:
    """A change of unit, manager or position (each ``from`` may equal its ``to``)."""

    from_unit: str | None
    to_unit: str | None
    from_manager: str | None
    to_manager: str | None
    from_position: str | None
    to_position: str | None
    from_location: str | None
    to_location: str | None
    effective: date

    @property
    def campus_changed(self) -> bool:
        return bool(self.from_location and self.to_location and self.from_location != self.to_location)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["effective"] = self.effective.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Move:
        return cls(**{**data, "effective": date.fromisoformat(str(data["effective"]))})


@dataclass(frozen=True)
class Decision:
    """What to do: schedule ``leave``, cancel ``cancel`` (a leave superseded or withdrawn),
    start ``move``; then store ``snapshot``."""

    snapshot: Snapshot
    leave: Leave | None = None
    cancel: Leave | None = None
    move: Move | None = None
    why: str = ""


def decide(previous: Snapshot | None, current: Snapshot, *, today: date, effective: date | None = None) -> Decision:
    """Compare HR's record now with the hub's last snapshot (see the module docstring);
    ``effective``: when a move takes effect (the event's gyldigEtter; default today)."""
    if previous is None:
        if current.end is not None and current.end >= today:
            snapshot = replace(current, end_generation=1)
            return Decision(snapshot, leave=Leave(current.end, 1), why="first sight, with a future end date")
        return Decision(current, why="first sight: snapshot recorded")
    leave = cancel = None
    generation = previous.end_generation
    reasons = []
    if current.end != previous.end:
        if previous.end is not None and generation:
            cancel = Leave(previous.end, generation)
        if current.end is not None:  # registered late (a past date), the leaver runs at once
            generation += 1
            leave = Leave(current.end, generation)
            reasons.append(("end date moved" if previous.end else "end date set")
                           + (" (in the past: the leaver runs now)" if current.end < today else ""))
        else:
            reasons.append("end date withdrawn")
    move = None
    if (previous.unit, previous.manager, previous.position) != (current.unit, current.manager, current.position):
        move = Move(previous.unit, current.unit, previous.manager, current.manager, previous.position,
                    current.position, previous.location, current.location, effective=effective or today)
        reasons.append("unit, manager or position changed")
    return Decision(replace(current, end_generation=generation), leave=leave, cancel=cancel, move=move,
                    why="; ".join(reasons) or "nothing the hub acts on changed")


def leaver_key(employee_id: str, leave: Leave) -> str:
    """The leaver item's source key (and, prefixed, its run's idempotency key)."""
    return f"{canonical_employee_id(employee_id)}:{leave.end.isoformat()}:{leave.generation}"


def mover_key(employee_id: str, move: Move) -> str:
    """The mover item's source key: who, from/to, and when. Ids only."""
    def part(a: str | None, b: str | None) -> str:
        return f"{a or '-'}>{b or '-'}"

    return (f"{canonical_employee_id(employee_id)}:{part(move.from_unit, move.to_unit)}:"
            f"{part(move.from_manager, move.to_manager)}:{part(move.from_position, move.to_position)}:"
            f"{move.effective.isoformat()}")
