"""The DFØ sandbox's shape variants over real HTTP: ``/_sandbox/quirks`` switches them on and
off, and odd identities added through ``/_sandbox/ansatte`` are served as stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.common import control_headers
from sandbox.procs import Proc
from tests.sandbox_dfo.conftest import API_KEY

KEY = {"X-Gravitee-Api-Key": API_KEY}


def api(proc: Proc, path: str) -> dict:
    response = httpx.get(f"{proc.extra['base_url']}/{path}", headers=KEY, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def quirks(proc: Proc, *names: str, token: bool = True) -> httpx.Response:
    return httpx.post(f"{proc.url}/_sandbox/quirks", json={"quirks": list(names)}, timeout=5,
                      headers=control_headers() if token else {})


@pytest.fixture(autouse=True)
def plain(dfo: Proc) -> Iterator[None]:
    yield
    httpx.delete(f"{dfo.url}/_sandbox/quirks", headers=control_headers(), timeout=5)


def test_plain_list_form_by_default_and_the_switch_needs_the_token(dfo: Proc) -> None:
    assert quirks(dfo, "unwrap", token=False).status_code == 401
    assert isinstance(api(dfo, "ansatte/v2/10010")["ansatt"], list)
    listed = httpx.get(f"{dfo.url}/_sandbox/quirks", headers=control_headers(), timeout=5).json()
    assert listed["quirks"] == [] and "padded-ids" in listed["known"]


def test_unknown_quirk_is_refused(dfo: Proc) -> None:
    response = quirks(dfo, "unwrap", "sideways")
    assert response.status_code == 400 and "sideways" in response.json()["error"]


def test_unwrap(dfo: Proc) -> None:
    assert quirks(dfo, "unwrap").status_code == 201
    employee = api(dfo, "ansatte/v2/10010")["ansatt"]
    assert isinstance(employee, dict) and isinstance(employee["annenId"], dict)
    assert isinstance(api(dfo, "orgenhet/v2/10000110")["organisasjon"]["leder"], dict)
    assert isinstance(api(dfo, "ansatte/v2")["ansatt"], list)  # the whole list stays a list


def test_null_lists(dfo: Proc) -> None:
    quirks(dfo, "null-lists")
    (employee,) = api(dfo, "ansatte/v2/10001")["ansatt"]
    assert employee["annenId"] == [None] and employee["tilleggsstilling"] == [None]
    assert api(dfo, "ansatte/v2")["ansatt"][-1] is None


def test_extra_and_misspelt_keys(dfo: Proc) -> None:
    quirks(dfo, "extra-keys", "misspelt-keys")
    (employee,) = api(dfo, "ansatte/v2/10010")["ansatt"]
    assert "nyttFelt" in employee and "_links" in employee
    assert "organisasjon_id" in employee and "organisasjonId" not in employee
    assert "stillingsId" in employee and "annenID" in employee


def test_padded_and_numeric_ids(dfo: Proc) -> None:
    quirks(dfo, "padded-ids")
    (employee,) = api(dfo, "ansatte/v2/10006")["ansatt"]
    assert employee["id"] == "00010006"
    assert api(dfo, "orgenhet/v2/10000110")["organisasjon"][0]["leder"][0]["lederAnsattnr"] == "00010002"
    quirks(dfo, "numeric-ids")
    (employee,) = api(dfo, "ansatte/v2/10005")["ansatt"]
    assert employee["id"] == 10005 and isinstance(employee["fnr"], int)
    assert len(str(employee["fnr"])) == 10  # born on the 5th: the leading zero is lost


def test_odd_identities_are_served_as_stored(dfo: Proc) -> None:
    for fnr in ("00000000000", "12039100100", "12345678"):
        response = httpx.post(f"{dfo.url}/_sandbox/ansatte", headers=control_headers(), timeout=5, json={
            "fornavn": "Ana", "etternavn": "Silva", "fnr": fnr, "organisasjonId": 10000110,
            "annenId": [{"idType": "02", "idBeskrivelse": "Passnummer", "idNr": "XK7720194", "idLand": "BR"}]})
        new_id = response.json()["ansatt"][0]["id"]
        (served,) = api(dfo, f"ansatte/v2/{new_id}")["ansatt"]
        assert served["fnr"] == fnr and served["annenId"][0]["idNr"] == "XK7720194"


def test_an_employee_added_with_a_padded_id_is_found_either_way(dfo: Proc) -> None:
    response = httpx.post(f"{dfo.url}/_sandbox/ansatte", headers=control_headers(), timeout=5,
                          json={"id": "05001234", "fornavn": "Pad", "etternavn": "Ded", "organisasjonId": 10000110})
    assert response.status_code == 201
    assert api(dfo, "ansatte/v2/5001234")["ansatt"][0]["id"] == "05001234"
    assert api(dfo, "ansatte/v2/05001234")["ansatt"][0]["fornavn"] == "Pad"
