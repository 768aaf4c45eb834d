"""What the onboarding mappings work from: one new hire, read from HR."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.ports.hr import Employee, OrgUnit, Position

__all__ = ["Hire", "external_ids"]


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
