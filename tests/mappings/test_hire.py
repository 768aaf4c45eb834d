"""The rules HR's record of a new hire must meet before onboarding writes anything, and whom
the hire reports to: a table of records, each with the problems a person in HR can act on."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import SecretStr

from hub.ports.hr import Employee, OrgUnit
from hub.privacy import contains_fnr
from mappings.hire import employee_problems, leader_id, manager_problem
from sandbox.dfo.seed import synthetic_fnr

FNR = synthetic_fnr(date(1992, 3, 4), female=True)  # valid check digits, month +40: nobody's number
BAD_FNR = FNR[:-1] + str((int(FNR[-1]) + 1) % 10)  # the same with a wrong last check digit


def employee(**changes: Any) -> Employee:
    fields: dict[str, Any] = dict(id="10042", first_name="Sigrid", last_name="Kværnø", national_id=SecretStr(FNR),
                                  username="sigkva", email="sigkva@oslomet.no", org_unit_id="50100",
                                  position_id="30042", title="Rådgiver", start_date=date(2026, 12, 1))
    fields.update(changes)
    return Employee(**fields)


@pytest.mark.parametrize(("changes", "problems"), [
    pytest.param({}, [], id="a complete record"),
    pytest.param({"email": None}, [], id="a username is enough"),
    pytest.param({"username": None}, [], id="an e-mail is enough"),
    pytest.param({"national_id": None}, [], id="no fødselsnummer is not a problem"),
    pytest.param({"position_id": None, "title": None}, [], id="no position"),
    pytest.param({"end_date": date(2026, 12, 1)}, [], id="ends the day it starts"),
    pytest.param({"end_date": date(2027, 11, 30)}, [], id="a fixed term"),
    pytest.param({"start_date": None}, ["no start date (startdato)"], id="no start date"),
    pytest.param({"start_date": None, "end_date": date(2020, 1, 1)}, ["no start date (startdato)"],
                 id="no start date and an end date"),
    pytest.param({"email": None, "username": None}, ["neither e-mail nor username (brukerident)"],
                 id="no e-mail, no username"),
    pytest.param({"email": "", "username": ""}, ["neither e-mail nor username (brukerident)"],
                 id="empty e-mail and username"),
    pytest.param({"end_date": date(2026, 11, 30)}, ["end date before start date"], id="ends before it starts"),
    pytest.param({"national_id": SecretStr(BAD_FNR)}, ["the fødselsnummer fails its check digits"],
                 id="a fødselsnummer with wrong check digits"),
    pytest.param({"org_unit_id": None}, ["no organisational unit (organisasjonId)"], id="no unit"),
    pytest.param({"org_unit_id": ""}, ["no organisational unit (organisasjonId)"], id="an empty unit"),
    pytest.param({"start_date": None, "email": None, "username": None, "national_id": SecretStr(BAD_FNR),
                  "org_unit_id": None},
                 ["no start date (startdato)", "neither e-mail nor username (brukerident)",
                  "the fødselsnummer fails its check digits", "no organisational unit (organisasjonId)"],
                 id="every problem at once, in order"),
])
def test_the_problems_of_hrs_record(changes: dict[str, Any], problems: list[str]) -> None:
    found = employee_problems(employee(**changes))
    assert found == problems
    assert not any(contains_fnr(p) or BAD_FNR in p for p in found)


UNIT = OrgUnit(id="50100", name="Institutt for informasjonsteknologi", parent_id="50000", manager_id="10001")


@pytest.mark.parametrize(("unit", "expected"), [
    pytest.param(UNIT, "10001", id="the unit's leader"),
    pytest.param(UNIT.model_copy(update={"manager_id": "10042"}), None, id="the hire leads the unit: ask the parent"),
    pytest.param(UNIT.model_copy(update={"manager_id": None}), None, id="no leader registered: ask the parent"),
    pytest.param(UNIT.model_copy(update={"manager_id": ""}), None, id="an empty leader: ask the parent"),
])
def test_whom_a_hire_reports_to(unit: OrgUnit, expected: str | None) -> None:
    assert leader_id(employee(), unit) == expected


@pytest.mark.parametrize(("manager", "problem"), [
    pytest.param(employee(id="10001", first_name="Kari", last_name="Nordmann", email="karnor@oslomet.no"), None,
                 id="a manager with an e-mail"),
    pytest.param(employee(id="10001", email=None, username="karnor"),
                 "unit 50100 (Institutt for informasjonsteknologi) has no manager with an e-mail in HR",
                 id="a manager without an e-mail"),
    pytest.param(None, "unit 50100 (Institutt for informasjonsteknologi) has no manager with an e-mail in HR",
                 id="no manager up the units"),
])
def test_the_manager_must_be_reachable_by_e_mail(manager: Employee | None, problem: str | None) -> None:
    assert manager_problem(UNIT, manager) == problem
