"""The DFØ sandbox's control routes need the control token: without it nobody can have DFØ
sign an event for the intake, add an employee or arm a fault."""

from __future__ import annotations

import httpx
import pytest

from sandbox.common import TOKEN_HEADER, control_headers
from sandbox.procs import Proc
from tests.sandbox_dfo.conftest import API_KEY, Receiver

REFUSED = [pytest.param({}, id="no-token"), pytest.param({TOKEN_HEADER: "wrong"}, id="wrong-token"),
           pytest.param({"Authorization": "Bearer wrong"}, id="wrong-bearer"),
           pytest.param({"X-Gravitee-Api-Key": API_KEY}, id="api-key-instead")]


def employee(dfo: Proc, employee_id: str) -> httpx.Response:
    return httpx.get(f"{dfo.extra['base_url']}/ansatte/v2/{employee_id}", headers={"X-Gravitee-Api-Key": API_KEY},
                     timeout=5)


@pytest.mark.parametrize("headers", REFUSED)
def test_announce_without_the_token_signs_nothing(dfo: Proc, receiver: Receiver, headers: dict[str, str]) -> None:
    before = len(receiver.received)
    response = httpx.post(f"{dfo.url}/_sandbox/announce", json={"id": "10005"}, headers=headers, timeout=10)
    assert response.status_code == 401
    assert "X-Sandbox-Token" in response.json()["message"]
    assert len(receiver.received) == before  # no signed event reached the intake


def test_announce_with_the_token_signs(dfo: Proc, receiver: Receiver) -> None:
    before = len(receiver.received)
    response = httpx.post(f"{dfo.url}/_sandbox/announce", json={"id": "10005"}, timeout=10,
                          headers={"Authorization": f"Bearer {dfo.extra['control_token']}"})
    assert response.status_code == 202
    assert len(receiver.received) == before + 1 and receiver.received[-1][2]  # signed, and valid


@pytest.mark.parametrize("headers", REFUSED)
def test_adding_an_employee_or_a_fault_without_the_token_changes_nothing(dfo: Proc,
                                                                          headers: dict[str, str]) -> None:
    hire = {"id": "19999", "fornavn": "Ikke", "etternavn": "Ansatt", "startdato": "2030-01-01"}
    assert httpx.post(f"{dfo.url}/_sandbox/ansatte", json=hire, headers=headers, timeout=5).status_code == 401
    assert employee(dfo, "19999").status_code == 404
    fault = {"path": "/api", "status": 503, "count": 5}
    assert httpx.post(f"{dfo.url}/_sandbox/faults", json=fault, headers=headers, timeout=5).status_code == 401
    assert employee(dfo, "10001").status_code == 200  # nothing was armed
    assert httpx.get(f"{dfo.url}/_sandbox/health", headers=headers, timeout=5).status_code == 401


def test_adding_an_employee_with_the_token_works(dfo: Proc) -> None:
    hire = {"id": "19998", "fornavn": "Ny", "etternavn": "Ansatt", "startdato": "2030-01-01"}
    created = httpx.post(f"{dfo.url}/_sandbox/ansatte", json=hire, headers=control_headers(), timeout=5)
    assert created.status_code == 201
    assert employee(dfo, "19998").json()["ansatt"][0]["fornavn"] == "Ny"
