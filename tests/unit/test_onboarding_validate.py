"""The validate step of onboarding on a stand-in HR: the hire it reads (position, unit, the
manager up the units) and the dead letters it raises, with the reasons HR can act on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date
from types import SimpleNamespace

import pytest

from flows.onboarding_steps import validate_hire
from hub.errors import InvalidInput, NotFound
from hub.ports.hr import Employee, OrgUnit, Position
from tests.mappings.test_hire import employee

KARI = Employee(id="10001", first_name="Kari", last_name="Nordmann", email="karnor@oslomet.no")
OLA = Employee(id="10002", first_name="Ola", last_name="Nordmann", username="olanor")  # no e-mail
FAKULTET = OrgUnit(id="50000", name="Fakultet for teknologi, kunst og design", manager_id="10001")
INSTITUTT = OrgUnit(id="50100", name="Institutt for informasjonsteknologi", parent_id="50000", manager_id="10002")
RAADGIVER = Position(id="30042", title="Seniorrådgiver", org_unit_id="50100", percentage=100)


class FakeHr:
    def __init__(self, *units: OrgUnit, people: tuple[Employee, ...] = (KARI, OLA),
                 positions: tuple[Position, ...] = (RAADGIVER,)) -> None:
        self.units = {u.id: u for u in units}
        self.people = {p.id: p for p in people}
        self.positions = {p.id: p for p in positions}

    async def get_employee(self, employee_id: str) -> Employee:
        return self.people[employee_id]

    async def get_org_unit(self, unit_id: str) -> OrgUnit:
        return self.units[unit_id]

    async def get_position(self, position_id: str) -> Position:
        if position_id not in self.positions:
            raise NotFound(f"no position {position_id}", system="hr")
        return self.positions[position_id]


class FakeRun:
    def __init__(self, hr: FakeHr) -> None:
        self.ports = SimpleNamespace(hr=hr)

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        yield


async def test_a_complete_record_is_read_with_position_unit_and_manager() -> None:
    units = (FAKULTET, INSTITUTT.model_copy(update={"manager_id": "10001"}))
    hire = await validate_hire.fn(FakeRun(FakeHr(*units)), employee())
    assert hire.employee == employee() and hire.position == RAADGIVER and hire.unit == units[1]
    assert hire.manager == KARI and hire.title == "Seniorrådgiver" and hire.start == date(2026, 12, 1)


async def test_a_position_hr_does_not_know_leaves_the_title_of_the_employee_record() -> None:
    units = (INSTITUTT.model_copy(update={"manager_id": "10001"}),)
    hire = await validate_hire.fn(FakeRun(FakeHr(*units)), employee(position_id="39999"))
    assert hire.position is None and hire.title == "Rådgiver" and hire.manager == KARI


async def test_a_hire_who_leads_the_unit_reports_to_the_parent_units_leader() -> None:
    hire = await validate_hire.fn(FakeRun(FakeHr(FAKULTET, INSTITUTT)), employee(id="10002"))
    assert hire.unit == INSTITUTT and hire.manager == KARI


async def test_a_unit_without_a_leader_reports_to_the_parent_units_leader() -> None:
    units = (FAKULTET, INSTITUTT.model_copy(update={"manager_id": None}))
    hire = await validate_hire.fn(FakeRun(FakeHr(*units)), employee())
    assert hire.manager == KARI


async def test_an_incomplete_record_is_a_dead_letter_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        await validate_hire.fn(FakeRun(FakeHr()), employee(start_date=None, org_unit_id=None))
    assert caught.value.message == ("HR data for employee 10042 is incomplete: no start date (startdato); "
                                    "no organisational unit (organisasjonId)")
    assert caught.value.system == "hr" and caught.value.hint == "Correct the employee in DFØ, then replay the item."


@pytest.mark.parametrize("units", [
    pytest.param((INSTITUTT.model_copy(update={"parent_id": None}),), id="a manager without an e-mail"),
    pytest.param((INSTITUTT.model_copy(update={"parent_id": None, "manager_id": None}),), id="no manager"),
    pytest.param((FAKULTET.model_copy(update={"manager_id": "10042"}),
                  INSTITUTT.model_copy(update={"manager_id": "10042"})), id="the hire leads every unit up"),
])
async def test_a_unit_without_a_manager_to_e_mail_is_a_dead_letter(units: tuple[OrgUnit, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        await validate_hire.fn(FakeRun(FakeHr(*units)), employee())
    assert caught.value.message == ("unit 50100 (Institutt for informasjonsteknologi) has no manager with an "
                                    "e-mail in HR")
    assert caught.value.hint == "Register the unit's leader in DFØ, then replay the item."
