"""The DFØ sandbox over real HTTP: gateway key, payload shapes, seed, events, persistence."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from stdnum.no import fodselsnummer

from sandbox.common import control_headers
from sandbox.dfo.process import start_dfo_sandbox
from sandbox.procs import Proc, python_module
from tests.sandbox_dfo.conftest import API_KEY, SECRET, Receiver, signed_with

KEY = {"X-Gravitee-Api-Key": API_KEY}
TODAY = datetime.now(ZoneInfo("Europe/Oslo")).date()

EMPLOYEE_FIELDS = {
    "id", "brukerident", "dfoBrukerident", "eksternIdent", "tittel", "fornavn", "etternavn", "fnr",
    "annenId", "fdato", "kjonn", "medarbeidergruppe", "medarbeiderundergruppe", "startdato",
    "sluttdato", "stillingId", "dellonnsprosent", "kostnadssted", "organisasjonId",
    "tilleggsstilling", "lederflagg", "eksternbruker", "reservasjonPublisering", "epost",
    "tjenestetelefon", "mobilnummer", "endretDato",
}


def api(proc: Proc, path: str, headers: dict[str, str] | None = KEY) -> httpx.Response:
    return httpx.get(f"{proc.extra['base_url']}/{path}", headers=headers, timeout=5)


def all_employees(proc: Proc) -> list[dict[str, object]]:
    response = api(proc, "ansatte/v2")
    assert response.status_code == 200
    return response.json()["ansatt"]


@pytest.mark.parametrize("headers", [None, {"X-Gravitee-Api-Key": "wrong"}], ids=["missing", "wrong"])
def test_api_key_is_required(dfo: Proc, headers: dict[str, str] | None) -> None:
    response = api(dfo, "ansatte/v2/10001", headers=headers)
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"
    assert "fornavn" not in response.text


def test_employee_shape(dfo: Proc) -> None:
    response = api(dfo, "ansatte/v2/10001")
    assert response.status_code == 200
    (employee,) = response.json()["ansatt"]
    assert EMPLOYEE_FIELDS <= set(employee)
    assert employee["id"] == "10001"
    assert (employee["fornavn"], employee["etternavn"]) == ("Ingrid", "Sæther")
    assert employee["epost"] == f"{employee['brukerident']}@oslomet.no"
    assert isinstance(employee["stillingId"], int) and isinstance(employee["organisasjonId"], int)


def test_position_and_org_unit_shapes(dfo: Proc) -> None:
    employee = api(dfo, "ansatte/v2/10002").json()["ansatt"][0]
    (stilling,) = api(dfo, f"stillinger/v2/{employee['stillingId']}").json()["stilling"]
    assert {"id", "stillingskode", "stillingstittel", "stillingsnavn", "organisasjonId", "innehaver",
            "stillingskat"} <= set(stilling)
    assert stilling["innehaver"][0]["innehaverAnsattnr"] == "10002"
    assert stilling["organisasjonId"] == employee["organisasjonId"]
    (unit,) = api(dfo, f"orgenhet/v2/{employee['organisasjonId']}").json()["organisasjon"]
    assert {"id", "orgKortnavn", "organisasjonsnavn", "leder", "overordnOrgenhetId"} <= set(unit)
    assert unit["leder"] == [{"lederAnsattnr": "10002", "lederBrukerident": "oysode"}]
    assert unit["overordnOrgenhetId"] == "10000100"


@pytest.mark.parametrize("path,fault", [("ansatte/v2/99999", "IKKE ANSATT"),
                                        ("stillinger/v2/99999", "UBESATT STILLING"),
                                        ("orgenhet/v2/99999", "UKJENT ORGANISASJONSENHET")])
def test_unknown_id_is_404_with_dfo_fault(dfo: Proc, path: str, fault: str) -> None:
    response = api(dfo, path)
    assert response.status_code == 404
    assert response.json() == {"standard": {"faultText": fault}}


def test_unknown_path_is_a_gateway_404(dfo: Proc) -> None:
    response = api(dfo, "ansatte/v1/10001")
    assert response.status_code == 404
    assert "standard" not in response.json()


def test_seed_national_ids_are_valid_and_synthetic(dfo: Proc) -> None:
    employees = [e for e in all_employees(dfo) if int(str(e["id"])) <= 10012]
    assert len(employees) == 12
    for employee in employees:
        fnr = str(employee["fnr"])
        assert fodselsnummer.is_valid(fnr), employee["id"]
        assert int(fnr[2:4]) > 40  # synthetic: month + 40, never a real person's number
        assert fodselsnummer.get_birth_date(fnr).isoformat() == employee["fdato"]
        assert fodselsnummer.get_gender(fnr) == ("F" if employee["kjonn"] == "K" else "M")
    d_numbers = [e for e in employees if int(str(e["fnr"])[0]) >= 4]
    assert len(d_numbers) == 1
    assert any(ch in str(e["fornavn"]) + str(e["etternavn"]) for e in employees for ch in "æøåÆØÅ")


def test_seed_dates_relative_to_today(dfo: Proc) -> None:
    employees = [e for e in all_employees(dfo) if int(str(e["id"])) <= 10012]
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    # Seeded today, or yesterday when the sandbox started before midnight (Oslo) and this runs after.
    seeded = [day for day in (today, today - timedelta(days=1))
              if {3, 10, 30} <= {(date.fromisoformat(str(e["startdato"])) - day).days for e in employees}]
    assert seeded, sorted(str(e["startdato"]) for e in employees)
    offsets = [(date.fromisoformat(str(e["startdato"])) - seeded[0]).days for e in employees]
    assert sum(1 for o in offsets if o < 0) >= 5
    ended = [e for e in employees if e["sluttdato"]]
    assert len(ended) == 1 and date.fromisoformat(str(ended[0]["sluttdato"])) < seeded[0]


def test_every_unit_has_a_flagged_leader_in_the_unit(dfo: Proc) -> None:
    employees = {e["id"]: e for e in all_employees(dfo)}
    unit_ids = {e["organisasjonId"] for e in employees.values()}
    assert len(unit_ids) == 3
    for unit_id in unit_ids:
        (unit,) = api(dfo, f"orgenhet/v2/{unit_id}").json()["organisasjon"]
        leader = employees[unit["leder"][0]["lederAnsattnr"]]
        assert leader["lederflagg"] is True and leader["organisasjonId"] == unit_id


def test_announce_route_signs_and_returns_the_intake_answer(dfo: Proc, receiver: Receiver) -> None:
    before = len(receiver.received)
    response = httpx.post(f"{dfo.url}/_sandbox/announce", headers=control_headers(),
                          json={"id": "10005"}, timeout=10)
    assert response.status_code == 202
    assert response.json() == {"accepted": True}
    body, signature, valid = receiver.received[before]
    start = api(dfo, "ansatte/v2/10005").json()["ansatt"][0]["startdato"]
    assert body == f'{{"id":"10005","uri":"dfo:ansatte","gyldigEtter":"{start}"}}'.encode()
    assert valid and signed_with(body, signature, SECRET)
    assert not signed_with(body, signature, "another-secret")


def test_announce_route_passes_explicit_gyldig_etter(dfo: Proc, receiver: Receiver) -> None:
    before = len(receiver.received)
    response = httpx.post(f"{dfo.url}/_sandbox/announce", headers=control_headers(),
                          json={"id": "10006", "gyldigEtter": "2030-01-02", "uri": "dfo:stillinger"},
                          timeout=10)
    assert response.status_code == 202
    assert json.loads(receiver.received[before][0]) == {
        "id": "10006", "uri": "dfo:stillinger", "gyldigEtter": "2030-01-02"}


def test_announce_cli_signs_and_sends(dfo: Proc, receiver: Receiver, data_dir: Path) -> None:
    before = len(receiver.received)
    done = subprocess.run(
        python_module("sandbox.dfo", "announce", "10007", "--data-dir", str(data_dir),
                      "--intake-url", receiver.url, "--hmac-secret", SECRET),
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("202")
    body, signature, valid = receiver.received[before]
    (hire,) = api(dfo, "ansatte/v2/10007").json()["ansatt"]  # seeded to start in 30 days
    expected = str(hire["startdato"])
    assert body == f'{{"id":"10007","uri":"dfo:ansatte","gyldigEtter":"{expected}"}}'.encode()
    assert valid and signature["webhook-signature"].startswith("v1,")


def test_runtime_employee_persists_across_restart(tmp_path: Path) -> None:
    proc = start_dfo_sandbox(tmp_path / "data", tmp_path / "logs", API_KEY)
    try:
        hire = {"fornavn": "Bjørg", "etternavn": "Åmodt", "startdato": (TODAY + timedelta(days=5)).isoformat(),
                "organisasjonId": 10000110, "tittel": "Rådgiver"}
        created = httpx.post(f"{proc.url}/_sandbox/ansatte", headers=control_headers(), json=hire, timeout=5)
        assert created.status_code == 201
        new_id = created.json()["ansatt"][0]["id"]
        assert new_id == "10013"
    finally:
        proc.stop()
    again = start_dfo_sandbox(tmp_path / "data", tmp_path / "logs", API_KEY)
    try:
        (employee,) = api(again, f"ansatte/v2/{new_id}").json()["ansatt"]
        assert (employee["fornavn"], employee["etternavn"]) == ("Bjørg", "Åmodt")
        (stilling,) = api(again, f"stillinger/v2/{employee['stillingId']}").json()["stilling"]
        assert stilling["innehaver"][0]["innehaverAnsattnr"] == new_id
        assert stilling["organisasjonId"] == 10000110
    finally:
        again.stop()
