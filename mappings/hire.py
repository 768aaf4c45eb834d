"""What the onboarding mappings work from: one new hire, read from HR — and the rules HR's
record must meet before anything is written for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.ports.hr import Employee, NationalIdStatus, OrgUnit, Position, canonical_employee_id, plain_title

__all__ = ["Hire", "external_ids", "employee_problems", "identity_note", "leader_id", "manager_problem",
           "not_a_new_hire", "NEW_HIRE_DAYS"]

# Every change to an employee's record (dfo:ansatte) reaches onboarding, not only hires: a
# record whose start date lies further back than this is a long-standing employee.
NEW_HIRE_DAYS = 60


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
        title = (self.position.title if self.position else None) or self.employee.title or "employee"
        return plain_title(title)  # "1011 Førsteamanuensis": SAP's code never reaches a letter or ticket

    @property
    def unit_name(self) -> str:
        return self.unit.name if self.unit else "(unknown unit)"


def _identity_problem(employee: Employee, *, accept_synthetic: bool) -> str | None:
    """What is wrong with the hire's identity. A hire without a Norwegian number yet (HR's
    placeholder in ``fnr``) is onboarded on the other identifier (``annenId``, a passport)."""
    status = employee.national_id_status
    if status == NationalIdStatus.SYNTHETIC and not accept_synthetic:
        return ("the fødselsnummer is a synthetic test identity (Tenor), refused here "
                "(HUB_ONBOARDING__ACCEPT_SYNTHETIC_IDS=false)")
    if status == NationalIdStatus.PLACEHOLDER and not employee.other_ids:
        return ("no Norwegian national identity number yet (a placeholder in fnr) and no other "
                "identifier (annenId, e.g. a passport)")
    if status == NationalIdStatus.INVALID:
        return "the fødselsnummer fails its check digits"
    if status == NationalIdStatus.MALFORMED:
        return "the fødselsnummer is malformed (not 11 digits)"
    return None


def identity_note(employee: Employee) -> str | None:
    """For the work item and the run summary: the hire is identified by another document than
    a Norwegian national id (never the number itself); None if by a fødselsnummer."""
    kind = employee.identified_by
    if kind is None or kind == "fødselsnummer":
        return None
    country = next((o.country for o in employee.other_ids if o.kind == kind and o.country), None)
    return (f"onboarded on another identifier ({kind}{f', {country}' if country else ''}): no Norwegian "
            "national identity number yet. Nothing is keyed by it: when DFØ registers the "
            "fødselsnummer or D-nummer, nothing has to be redone (a replay finds the same records "
            "by the employee id).")


def employee_problems(employee: Employee, *, accept_synthetic: bool = True) -> list[str]:
    """What keeps HR's record of a new hire from being onboarded (nothing: an empty list).

    Each problem names the DFØ field to correct; none quotes the fødselsnummer or passport.
    Synthetic test identities are refused when ``accept_synthetic`` is false (production).
    """
    problems = []
    if employee.start_date is None:
        problems.append("no start date (startdato)")
    if not (employee.email or employee.username):
        problems.append("neither e-mail nor username (brukerident)")
    if employee.end_date and employee.start_date and employee.end_date < employee.start_date:
        problems.append("end date before start date")
    if problem := _identity_problem(employee, accept_synthetic=accept_synthetic):
        problems.append(problem)
    if not employee.org_unit_id:
        problems.append("no organisational unit (organisasjonId)")
    return problems


def not_a_new_hire(employee: Employee, *, today: date, days: int = NEW_HIRE_DAYS) -> str | None:
    """Why a changed record is not a hire to onboard (None: it may be one). A start date more
    than ``days`` days ago is an employee whose record merely changed (a new unit, an end
    date): onboarding completes with nothing written, and no dead letter."""
    if employee.start_date is not None and (today - employee.start_date).days > days:
        return (f"not a new hire: started {employee.start_date.isoformat()}, more than {days} days ago "
                "(a change to a long-standing employee's record)")
    return None


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
    """The external keys onboarding writes under; stable, so a re-run finds its records. Keyed
    by the canonical employee id (:func:`~hub.ports.hr.canonical_employee_id`), never by a
    national id: a hire's records are found the same before and after HR registers one."""

    @staticmethod
    def personnel_file(employee_id: str) -> str:
        return f"dfo:ansatt:{canonical_employee_id(employee_id)}"

    @staticmethod
    def welcome_letter(employee_id: str) -> str:
        return f"onboarding:{canonical_employee_id(employee_id)}:velkomstbrev"

    @staticmethod
    def account_ticket(employee_id: str) -> str:
        return f"onboarding:{canonical_employee_id(employee_id)}:account"

    @staticmethod
    def laptop_ticket(employee_id: str) -> str:
        return f"onboarding:{canonical_employee_id(employee_id)}:laptop"

    @staticmethod
    def laptop(employee_id: str) -> str:
        return f"onboarding:{canonical_employee_id(employee_id)}:laptop-asset"
