"""DfoHr against the real DFØ sandbox subprocess: mapping, errors, retries, privacy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from stdnum.no import fodselsnummer

from connectors.dfo import DfoHr
from hub.errors import ConfigError, InvalidInput, NotFound, TransientError
from hub.ports.hr import HrPort
from sandbox.common import control_headers
from sandbox.procs import Proc, free_port

TODAY = datetime.now(ZoneInfo("Europe/Oslo")).date()
MakeHr = Callable[..., DfoHr]


def add_employee(proc: Proc, payload: dict[str, object]) -> str:
    response = httpx.post(f"{proc.url}/_sandbox/ansatte", headers=control_headers(), json=payload, timeout=5)
    assert response.status_code == 201
    return str(response.json()["ansatt"][0]["id"])


def arm_fault(proc: Proc, **fault: object) -> None:
    assert httpx.post(f"{proc.url}/_sandbox/faults", headers=control_headers(),
                      json=fault, timeout=5).status_code == 201


def armed_faults(proc: Proc) -> list[dict[str, object]]:
    return list(httpx.get(f"{proc.url}/_sandbox/faults", headers=control_headers(), timeout=5).json())


def clear_faults(proc: Proc) -> None:
    httpx.delete(f"{proc.url}/_sandbox/faults", headers=control_headers(), timeout=5)


async def test_dfo_hr_is_an_hr_port(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        port: HrPort = hr
        assert (await port.get_employee("10001")).id == "10001"


async def test_get_employee_maps_dfo_fields(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        employee = await hr.get_employee("10001")
    assert (employee.first_name, employee.last_name, employee.full_name) == (
        "Ingrid", "Sæther", "Ingrid Sæther")
    assert employee.birth_date == date(1968, 3, 14)
    assert (employee.username, employee.email) == ("ingsae", "ingsae@oslomet.no")
    assert (employee.position_id, employee.org_unit_id, employee.title) == ("30000001", "10000100", "Dekan")
    assert employee.is_manager and employee.end_date is None and employee.start_date < TODAY
    assert (employee.employee_group, employee.cost_centre) == ("1", "2000")
    assert employee.national_id is not None
    assert fodselsnummer.get_birth_date(employee.national_id.get_secret_value()) == employee.birth_date


async def test_future_hire_leaver_d_number_and_reservation(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        future = await hr.get_employee("10007")
        leaver = await hr.get_employee("10008")
        foreign = await hr.get_employee("10010")
        reserved = await hr.get_employee("10004")
    assert (future.first_name, future.last_name) == ("Marte", "Høiby")
    assert future.start_date == TODAY + timedelta(days=30) and not future.is_manager
    assert leaver.end_date is not None and leaver.end_date < TODAY
    assert foreign.national_id is not None
    d_number = foreign.national_id.get_secret_value()
    assert int(d_number[0]) >= 4 and fodselsnummer.is_valid(d_number)
    assert reserved.reserved_from_publication and not future.reserved_from_publication


async def test_get_position_and_org_unit_with_manager(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        position = await hr.get_position("30000002")
        unit = await hr.get_org_unit("10000110")
        top = await hr.get_org_unit("10000100")
        manager = await hr.get_employee(unit.manager_id or "")
    assert (position.title, position.org_unit_id, position.position_code) == (
        "Instituttleder", "10000110", "1475")
    assert (unit.name, unit.short_name, unit.parent_id) == (
        "Institutt for informasjonsteknologi", "IT", "10000100")
    assert unit.manager_id == "10002" and manager.is_manager and manager.org_unit_id == unit.id
    assert (top.name, top.parent_id, top.manager_id) == ("Fakultet for teknologi, kunst og design", None, "10001")


async def test_list_employees(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        employees = [e async for e in hr.list_employees()]
    by_id = {e.id: e for e in employees}
    assert {str(i) for i in range(10001, 10013)} <= set(by_id)
    starts = {(e.start_date - TODAY).days for e in employees if e.start_date}
    assert {3, 10, 30} <= starts
    assert by_id["10011"].last_name == "Bråten"


@pytest.mark.parametrize("method,noun", [("get_employee", "employee"), ("get_position", "position"),
                                         ("get_org_unit", "org unit")])
async def test_unknown_id_is_not_found_with_hint(make_hr: MakeHr, method: str, noun: str) -> None:
    async with make_hr() as hr:
        with pytest.raises(NotFound) as caught:
            await getattr(hr, method)("99999")
    assert caught.value.status == 404 and caught.value.kind == "not_found"
    assert caught.value.hint == f"HR (DFØ) does not know {noun} 99999; check the id in the event."


async def test_non_numeric_id_is_invalid_input(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        with pytest.raises(InvalidInput):
            await hr.get_employee("../orgenhet/v2/10000100")


async def test_wrong_api_key_is_config_error(make_hr: MakeHr) -> None:
    async with make_hr(api_key="not-the-key") as hr:
        with pytest.raises(ConfigError) as caught:
            await hr.get_employee("10001")
    assert caught.value.status == 401 and "X-Gravitee-Api-Key" in caught.value.hint


async def test_wrong_base_path_is_config_error_not_not_found(make_hr: MakeHr) -> None:
    async with make_hr(employee_path="ansatte/v1") as hr:
        with pytest.raises(ConfigError) as caught:
            await hr.get_employee("10001")
    assert "gateway" in caught.value.message


async def test_503_with_retry_after_is_retried(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    arm_fault(dfo_sandbox, path="/api/ansatte/v2/10003", status=503, count=1, retry_after=1)
    started = time.monotonic()
    async with make_hr() as hr:
        employee = await hr.get_employee("10003")
    elapsed = time.monotonic() - started
    assert employee.last_name == "Bjørnstad"
    assert elapsed >= 1.0  # Retry-After honoured
    assert armed_faults(dfo_sandbox) == []  # the 503 was really served, then consumed


async def test_persistent_503_ends_in_transient_error(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    arm_fault(dfo_sandbox, path="/api/ansatte/v2/10009", status=503, count=10)
    try:
        async with make_hr(max_attempts=2) as hr:
            with pytest.raises(TransientError):
                await hr.get_employee("10009")
        left = armed_faults(dfo_sandbox)
        assert left[0]["count"] == 8  # exactly two attempts reached the server
    finally:
        clear_faults(dfo_sandbox)


async def test_repr_and_str_never_show_the_fnr(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        employee = await hr.get_employee("10005")
        ansatt = await hr.get_ansatt("10005")
    assert employee.national_id is not None and ansatt.fnr is not None
    fnr = employee.national_id.get_secret_value()
    assert fodselsnummer.is_valid(fnr)
    for text in (repr(employee), str(employee), employee.model_dump_json(), repr(ansatt), str(ansatt)):
        assert fnr not in text


async def test_malformed_payload_names_the_field_not_the_fnr(
        make_hr: MakeHr, dfo_sandbox: Proc, caplog: pytest.LogCaptureFixture) -> None:
    fnr = "14436810211"
    bad_id = add_employee(dfo_sandbox, {"fornavn": "Feil", "etternavn": "Dato", "fnr": fnr,
                                        "fdato": "14.03.1968", "startdato": fnr})
    async with make_hr() as hr:
        with pytest.raises(InvalidInput) as caught:
            await hr.get_employee(bad_id)
        with caplog.at_level(logging.WARNING, logger="connectors.dfo"):
            listed = {e.id async for e in hr.list_employees()}
    text = str(caught.value)
    assert "fdato" in text and "startdato" in text and bad_id in text
    assert fnr not in text and fnr not in repr(caught.value)
    assert bad_id not in listed and "10001" in listed  # one bad row does not stop the catch-up
    assert any(bad_id in r.getMessage() for r in caplog.records)
    assert all(fnr not in r.getMessage() for r in caplog.records)


async def test_tolerates_real_world_payload_quirks(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    new_id = add_employee(dfo_sandbox, {
        "fornavn": "Åsmund", "etternavn": "Øvrebø", "fnr": 5499024837,  # leading zero lost
        "organisasjonId": "10000200", "tilleggsstilling": {"stillingId": 30000003, "startdato": "",
                                                           "sluttdato": "9999-12-31"},
        "annenId": None, "reservasjonPublisering": None, "lederflagg": "X",
        "startdato": (TODAY + timedelta(days=3)).isoformat(), "sluttdato": "9999-12-31"})
    async with make_hr() as hr:
        employee = await hr.get_employee(new_id)
        ansatt = await hr.get_ansatt(new_id)
    assert employee.national_id is not None
    assert employee.national_id.get_secret_value() == "05499024837"
    assert employee.org_unit_id == "10000200" and employee.end_date is None and employee.is_manager
    assert [t.stillingId for t in ansatt.tilleggsstilling] == ["30000003"]
    assert not employee.reserved_from_publication


async def test_health(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        good = await hr.health()
    async with make_hr(api_key="wrong") as hr:
        bad_key = await hr.health()
    async with make_hr(base_url=f"http://127.0.0.1:{free_port()}/api", max_attempts=1) as hr:
        down = await hr.health()
    assert good.ok and good.system == "dfo" and good.latency_ms > 0
    assert not bad_key.ok and "401" in bad_key.detail
    assert not down.ok


async def test_find_by_feide_id_by_username_at_realm_or_email(make_hr: MakeHr) -> None:
    async with make_hr() as hr:
        port: HrPort = hr
        by_username = await port.find_by_feide_id("ingsae@oslomet.no")
        by_email_any_case = await port.find_by_feide_id(" IngSae@OsloMet.no ")
        nobody = await port.find_by_feide_id("nobody@oslomet.no")
    assert by_username is not None and by_username.id == "10001" and by_username.username == "ingsae"
    assert by_email_any_case == by_username
    assert nobody is None


async def test_find_by_feide_id_uses_the_configured_realm(make_hr: MakeHr, dfo_sandbox: Proc) -> None:
    new_id = add_employee(dfo_sandbox, {"fornavn": "Kari", "etternavn": "Realm", "brukerident": "karrea",
                                        "epost": "kari.realm@oslomet.no", "organisasjonId": "10000200",
                                        "startdato": TODAY.isoformat()})
    async with make_hr(feide_realm="hioa.no") as hr:
        assert (found := await hr.find_by_feide_id("karrea@hioa.no")) is not None and found.id == new_id
        assert await hr.find_by_feide_id("karrea@oslomet.no") is None  # not the default realm
        assert (by_mail := await hr.find_by_feide_id("kari.realm@oslomet.no")) is not None and by_mail.id == new_id


async def test_find_by_feide_id_reads_the_list_again_after_directory_seconds(make_hr: MakeHr,
                                                                            dfo_sandbox: Proc) -> None:
    async with make_hr() as kept, make_hr(directory_seconds=0) as fresh:
        assert await kept.find_by_feide_id("latehire@oslomet.no") is None
        assert await fresh.find_by_feide_id("latehire@oslomet.no") is None
        new_id = add_employee(dfo_sandbox, {"fornavn": "Lars", "etternavn": "Sen", "brukerident": "latehire",
                                            "organisasjonId": "10000200", "startdato": TODAY.isoformat()})
        assert await kept.find_by_feide_id("latehire@oslomet.no") is None  # one read per batch
        assert (found := await fresh.find_by_feide_id("latehire@oslomet.no")) is not None and found.id == new_id
