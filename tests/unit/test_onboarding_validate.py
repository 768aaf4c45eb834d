"""The validate step of onboarding on a stand-in HR: the hire it reads (position, unit, the
manager up the units) and the dead letters it raises, with the reasons HR can act on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from flows.onboarding_steps import validate_hire
from hub.errors import InvalidInput, NotFound
from hub.ports.hr import Employee, NationalIdStatus, OrgUnit, OtherId, Position
from mappings.hire import Hire
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


class FakeLedger:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def update_data(self, item_id: int, **values: object) -> None:
        self.data.update(values)


class FakeRun:
    def __init__(self, hr: FakeHr, *, accept_synthetic: bool = True) -> None:
        self.ports = SimpleNamespace(hr=hr)
        self.settings = SimpleNamespace(onboarding=SimpleNamespace(accept_synthetic_ids=accept_synthetic))
        self.item = SimpleNamespace(id=1)
        self.ledger = FakeLedger()
        self.notes: list[str] = []

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


# ---- the hire's identity -----------------------------------------------------------------------

PASSPORT = OtherId(kind="passport", number=SecretStr("YB3390172"), country="BR")
LED = (INSTITUTT.model_copy(update={"manager_id": "10001"}),)


@pytest.mark.parametrize(("fnr", "others", "problem"), [
    ("00000000000", (), "no Norwegian national identity number yet (a placeholder in fnr) and no other "
                        "identifier (annenId, e.g. a passport)"),
    ("12345678", (), "the fødselsnummer is malformed (not 11 digits)"),
    ("12345678", (PASSPORT,), "the fødselsnummer is malformed (not 11 digits)"),
    ("15076500566", (), "the fødselsnummer fails its check digits"),
])
async def test_an_identity_hr_must_correct_is_a_dead_letter(fnr: str, others: tuple[OtherId, ...],
                                                            problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await validate_hire.fn(FakeRun(FakeHr(*LED)), employee(national_id=SecretStr(fnr), other_ids=others))
    assert caught.value.message == f"HR data for employee 10042 is incomplete: {problem}"
    assert fnr not in str(caught.value) and "YB3390172" not in str(caught.value)


@pytest.mark.parametrize("fnr", ["00000000000", "12039100100", "12039100200", None])
async def test_a_hire_without_a_norwegian_number_is_onboarded_on_the_passport_with_a_note(fnr: str | None) -> None:
    run = FakeRun(FakeHr(*LED))
    hire = await validate_hire.fn(run, employee(national_id=SecretStr(fnr) if fnr else None, other_ids=(PASSPORT,)))
    assert hire.employee.identified_by == "passport"
    (note,) = run.notes
    assert note.startswith("onboarded on another identifier (passport, BR)") and "YB3390172" not in note
    assert run.ledger.data == {"identified_by": "passport", "identity_note": note}


@pytest.mark.parametrize("fnr", ["05499024837", "12891010026"])  # month + 40 (NAV), + 80 (Tenor)
async def test_synthetic_identities_pass_in_test_and_are_refused_when_the_setting_says_so(fnr: str) -> None:
    hire = await validate_hire.fn(FakeRun(FakeHr(*LED)), employee(national_id=SecretStr(fnr)))
    assert hire.employee.national_id_status == NationalIdStatus.SYNTHETIC
    with pytest.raises(InvalidInput) as caught:
        await validate_hire.fn(FakeRun(FakeHr(*LED), accept_synthetic=False), employee(national_id=SecretStr(fnr)))
    assert "synthetic test identity" in caught.value.message and fnr not in caught.value.message


async def test_a_valid_fnr_adds_no_note() -> None:
    run = FakeRun(FakeHr(*LED))
    await validate_hire.fn(run, employee(national_id=SecretStr("15076500565"), other_ids=(PASSPORT,)))
    assert run.notes == [] and run.ledger.data == {}


def test_a_title_with_its_sap_code_is_shown_without_it() -> None:
    hire = Hire(employee=employee(title="1011 Førsteamanuensis"), position=None, unit=None, manager=None)
    assert hire.title == "Førsteamanuensis"
    assert Hire(employee=employee(), position=RAADGIVER.model_copy(update={"title": "1434 Rådgiver"}),
                unit=None, manager=None).title == "Rådgiver"
