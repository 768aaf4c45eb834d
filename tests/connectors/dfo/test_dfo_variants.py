"""DfoHr over HTTP against the DFØ sandbox serving real-world variants: hires without a
Norwegian number (placeholder ``fnr`` + passport), ``fnr`` of the wrong length, padded and
unpadded employee ids, titles with their SAP code, and the shape variants the sandbox's
``/_sandbox/quirks`` switch serves."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.dfo import DfoHr
from hub.ports.hr import NationalIdStatus
from hub.privacy import MASK, MaskingFilter
from sandbox.common import control_headers
from sandbox.dfo.seed import synthetic_fnr
from sandbox.procs import Proc

TODAY = datetime.now(ZoneInfo("Europe/Oslo")).date()
MakeHr = Callable[..., DfoHr]
PASSPORT = "XK7720194"


def add_employee(proc: Proc, payload: dict[str, object]) -> str:
    response = httpx.post(f"{proc.url}/_sandbox/ansatte", headers=control_headers(), json=payload, timeout=5)
    assert response.status_code == 201, response.text
    return str(response.json()["ansatt"][0]["id"])


def set_quirks(proc: Proc, *quirks: str) -> None:
    response = httpx.post(f"{proc.url}/_sandbox/quirks", headers=control_headers(), json={"quirks": list(quirks)},
                          timeout=5)
    assert response.status_code == 201, response.text


@pytest.fixture
def quirks(dfo_sandbox: Proc) -> Iterator[Callable[..., None]]:
    yield lambda *names: set_quirks(dfo_sandbox, *names)
    httpx.delete(f"{dfo_sandbox.url}/_sandbox/quirks", headers=control_headers(), timeout=5)


def _hire(**fields: object) -> dict[str, object]:
    return {"fornavn": "Ana", "etternavn": "Silva", "brukerident": "anasil", "epost": "ana.silva@oslomet.no",
            "organisasjonId": "10000110", "startdato": (TODAY + timedelta(days=5)).isoformat(), **fields}


def _passport(number: str = PASSPORT) -> dict[str, str]:
    return {"idType": "02", "idBeskrivelse": "Passnummer", "idNr": number, "idStartdato": "2021-05-01",
            "idSluttdato": "2031-04-30", "idLand": "BR"}


@pytest.mark.parametrize("fnr", ["00000000000", "12039100100", "12039100200"])
async def test_placeholder_fnr_with_a_passport_is_a_hire_identified_by_the_passport(
        make_hr: MakeHr, dfo_sandbox: Proc, fnr: str) -> None:
    new_id = add_employee(dfo_sandbox, _hire(fnr=fnr, annenId=[_passport()]))
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
    assert employee.national_id_status == NationalIdStatus.PLACEHOLDER
    assert employee.identified_by == "passport"
    (other,) = employee.other_ids
    assert (other.kind, other.country, other.number.get_secret_value()) == ("passport", "BR", PASSPORT)
    for text in (repr(employee), str(employee), employee.model_dump_json()):
        assert PASSPORT not in text and fnr not in text


async def test_a_passport_read_from_hr_is_masked_in_log_lines(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    new_id = add_employee(dfo_sandbox, _hire(fnr="00000000000", annenId=_passport("QP9034417")))  # unwrapped
    async with make_hr() as hr:
        await hr.get_employee(new_id)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "id %s and QP9034417.", ("qp9034417",), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == f"id {MASK} and {MASK}."


@pytest.mark.parametrize("fnr,status", [
    ("31129947", NationalIdStatus.MALFORMED),          # 8 digits
    ("3112994700", NationalIdStatus.MALFORMED),        # 10 digits, no zero fits
    ("12A45678901", NationalIdStatus.MALFORMED),
    ("15076500566", NationalIdStatus.INVALID),         # 11 digits, wrong check digit
])
async def test_a_malformed_fnr_keeps_the_person_in_get_and_in_the_list(
        make_hr: MakeHr, dfo_sandbox: Proc, fnr: str, status: NationalIdStatus) -> None:
    new_id = add_employee(dfo_sandbox, _hire(fnr=fnr, brukerident=f"mal{fnr[:4].lower()}",
                                             epost=f"mal{fnr[:4].lower()}@oslomet.no"))
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
        listed = {e.id: e async for e in hr.list_employees()}
        by_feide = await hr.find_by_feide_id(f"mal{fnr[:4].lower()}@oslomet.no")
    assert employee.national_id_status == status
    assert new_id in listed and listed[new_id].national_id_status == status
    assert by_feide is not None and by_feide.id == new_id
    assert fnr not in repr(employee)


@pytest.mark.parametrize("fnr", [5499024837, "5499024837"])  # a JSON number, or a string, that lost its 0
async def test_a_lost_leading_zero_is_restored_when_the_check_digits_then_hold(
        make_hr: MakeHr, dfo_sandbox: Proc, fnr: object) -> None:
    new_id = add_employee(dfo_sandbox, _hire(fnr=fnr))
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
    assert employee.national_id is not None and employee.national_id.get_secret_value() == "05499024837"
    assert employee.national_id_status == NationalIdStatus.SYNTHETIC


async def test_tenor_synthetic_numbers_month_plus_80_are_synthetic_not_invalid(
        make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    nav = synthetic_fnr(TODAY.replace(year=1991, day=12), female=True)  # month + 40
    tenor = _tenor(nav)
    new_id = add_employee(dfo_sandbox, _hire(fnr=tenor))
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
    assert employee.national_id_status == NationalIdStatus.SYNTHETIC and employee.identified_by == "fødselsnummer"


def _tenor(nav: str) -> str:
    """The same person's number in Tenor's range (month + 80), check digits recomputed."""
    from stdnum.no import fodselsnummer

    base = nav[:2] + f"{int(nav[2:4]) + 40:02d}" + nav[4:6]
    for individual in range(100, 500):
        number = f"{base}{individual:03d}"
        k1 = fodselsnummer.calc_check_digit1(number)
        if len(k1) == 1 and len(k2 := fodselsnummer.calc_check_digit2(number + k1)) == 1:
            return number + k1 + k2
    raise AssertionError("no Tenor number")


@pytest.mark.parametrize("asked", ["10006", "010006", "00010006"])
async def test_padded_and_unpadded_ids_give_one_canonical_id(make_hr: MakeHr, quirks: Callable[..., None],
                                                              asked: str) -> None:
    quirks("padded-ids")
    async with make_hr() as hr:
        employee = await hr.get_employee(asked)
        unit = await hr.get_org_unit("10000110")
        listed = {e.id async for e in hr.list_employees()}
    assert employee.id == "10006" and unit.manager_id == "10002"
    assert "10006" in listed and "00010006" not in listed


async def test_a_padded_id_added_to_dfo_is_found_unpadded(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    add_employee(dfo_sandbox, _hire(id="05001234", fnr="", brukerident="padded", epost="padded@oslomet.no"))
    async with make_hr() as hr:
        assert (await hr.get_employee("5001234")).id == "5001234"
        assert (await hr.get_employee("05001234")).id == "5001234"


async def test_job_title_code_prefix_is_dropped(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    new_id = add_employee(dfo_sandbox, _hire(tittel="1011 Førsteamanuensis", brukerident="coded",
                                             epost="coded@oslomet.no"))
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
        position = await hr.get_position(employee.position_id or "")  # the sandbox titled it like the employee
    assert employee.title == "Førsteamanuensis"
    assert position.title == "Førsteamanuensis"


async def test_unwrapped_one_element_lists(make_hr: MakeHr, quirks: Callable[..., None]) -> None:
    quirks("unwrap")
    async with make_hr() as hr:
        foreign = await hr.get_employee("10010")  # annenId of one, served bare
        unit = await hr.get_org_unit("10000110")  # leder of one, served bare
        position = await hr.get_position("30000002")
        ansatt = await hr.get_ansatt("10010")
    assert [o.kind for o in foreign.other_ids] == ["passport"] and len(ansatt.annenId) == 1
    assert unit.manager_id == "10002" and position.org_unit_id == "10000110"


async def test_null_lists_and_a_null_in_the_employee_list(make_hr: MakeHr, quirks: Callable[..., None]) -> None:
    quirks("null-lists")
    async with make_hr() as hr:
        listed = [e async for e in hr.list_employees()]
        employee = await hr.get_employee("10001")  # annenId and tilleggsstilling: [null]
        ansatt = await hr.get_ansatt("10001")
    assert len({e.id for e in listed}) == len(listed) >= 12
    assert employee.other_ids == () and ansatt.tilleggsstilling == [] and ansatt.annenId == []


async def test_extra_and_misspelt_keys(make_hr: MakeHr, quirks: Callable[..., None]) -> None:
    quirks("extra-keys", "misspelt-keys")
    async with make_hr() as hr:
        employee = await hr.get_employee("10010")
        listed = {e.id: e async for e in hr.list_employees()}
    assert (employee.org_unit_id, employee.position_id) == ("10000110", "30000010")
    assert [o.kind for o in employee.other_ids] == ["passport"]
    assert listed["10001"].org_unit_id == "10000100"


async def test_numeric_ids_and_a_numeric_fnr(make_hr: MakeHr, quirks: Callable[..., None]) -> None:
    quirks("numeric-ids")
    async with make_hr() as hr:
        employee = await hr.get_employee("10005")  # fnr 05… served as a number: its 0 is lost
        listed = {e.id: e async for e in hr.list_employees()}
    assert employee.id == "10005" and employee.org_unit_id == "10000100"
    assert employee.national_id_status == NationalIdStatus.SYNTHETIC
    assert all(e.national_id_status == NationalIdStatus.SYNTHETIC for i, e in listed.items()
               if i in {str(n) for n in range(10001, 10013)})


async def test_every_quirk_at_once(make_hr: MakeHr, quirks: Callable[..., None]) -> None:
    quirks("unwrap", "null-lists", "extra-keys", "misspelt-keys", "padded-ids", "numeric-ids")
    async with make_hr() as hr:
        employee = await hr.get_employee("10010")
        listed = {e.id async for e in hr.list_employees()}
        by_feide = await hr.find_by_feide_id("emidub@oslomet.no")
    assert employee.id == "10010" and employee.org_unit_id == "10000110" and employee.other_ids
    assert {str(n) for n in range(10001, 10013)} <= listed
    assert by_feide is not None and by_feide.id == "10010"
