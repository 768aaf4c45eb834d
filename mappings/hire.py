"""What the onboarding mappings work from: one new hire, read from HR — and the rules HR's
record must meet before anything is written for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.ports.hr import Employee, OrgUnit, Position
from hub.privacy import is_valid_fnr

__all__ = ["Hire", "external_ids", "employee_problems", "leader_id", "manager_problem"]


@dataclass(frozen=True)
class Hire:
    employee: Employee
    position: Position | None
    unit: OrgUnit | None
    manager: Employee | None

    @property
    def start(self) -> date | None:
        return self.employee.start_date

    @property
    def title(self) -> str:
        return (self.position.title if self.position else None) or self.employee.title or "employee"

    @property
    def unit_name(self) -> str:
        return self.unit.name if self.unit else "(unknown unit)"


def employee_problems(employee: Employee) -> list[str]:
    """What keeps HR's record of a new hire from being onboarded (nothing: an empty list).

    Each problem names the DFØ field to correct; none quotes the fødselsnummer.
    """
    problems = []
    if employee.start_date is None:
        problems.append("no start date (startdato)")
    if not (employee.email or employee.username):
        problems.append("neither e-mail nor username (brukerident)")
    if employee.end_date and employee.start_date and employee.end_date < employee.start_date:
        problems.append("end date before start date")
    if employee.national_id is not None and not is_valid_fnr(employee.national_id.get_secret_value()):
        problems.append("the fødselsnummer fails its check digits")
    if not employee.org_unit_id:
        problems.append("no organisational unit (organisasjonId)")
    return problems


def leader_id(employee: Employee, unit: OrgUnit) -> str | None:
    """The id of the leader a hire in ``unit`` reports to, if the unit names one other than the
    hire; None: look at the parent unit (a hire who leads the unit reports to its leader)."""
    return unit.manager_id if unit.manager_id and unit.manager_id != employee.id else None


def manager_problem(unit: OrgUnit, manager: Employee | None) -> str | None:
    """What is wrong with the manager found for ``unit`` (the manager is e-mailed): None if nothing."""
    if manager is None or not manager.email:
        return f"unit {unit.id} ({unit.name}) has no manager with an e-mail in HR"
    return None


class external_ids:  # noqa: N801 - a namespace of key builders
    """The external keys onboarding writes under; stable, so a re-run finds its records."""

    @staticmethod
    def personnel_file(employee_id: str) -> str:
        return f"dfo:ansatt:{employee_id}"

    @staticmethod
    def welcome_letter(employee_id: str) -> str:
        return f"onboarding:{employee_id}:velkomstbrev"

    @staticmethod
    def account_ticket(employee_id: str) -> str:
        return f"onboarding:{employee_id}:account"

    @staticmethod
    def laptop_ticket(employee_id: str) -> str:
        return f"onboarding:{employee_id}:laptop"

    @staticmethod
    def laptop(employee_id: str) -> str:
        return f"onboarding:{employee_id}:laptop-asset"
