"""The DFØ sandbox sets and withdraws an end date and moves a person to another unit, and
announces each change signed, as it announces hires."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from sandbox.common import control_headers
from sandbox.procs import Proc
from tests.sandbox_dfo.conftest import API_KEY, SECRET, Receiver, signed_with

KEY = {"X-Gravitee-Api-Key": API_KEY}


def _employee(dfo: Proc, employee_id: str) -> dict:
    return httpx.get(f"{dfo.url}/api/ansatte/v2/{employee_id}", headers=KEY, timeout=10).json()["ansatt"][0]


def _control(dfo: Proc, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{dfo.url}/_sandbox/{path}", headers=control_headers(), json=body, timeout=10)


def test_an_end_date_is_set_announced_signed_and_withdrawn(dfo: Proc, receiver: Receiver) -> None:
    end = (date.today() + timedelta(days=12)).isoformat()
    before = len(receiver.received)
    assert _control(dfo, "ansatte/10004/sluttdato", {"sluttdato": end}).status_code == 202
    employee = _employee(dfo, "10004")
    assert employee["sluttdato"] == end and employee["sluttarsak"]
    stilling = httpx.get(f"{dfo.url}/api/stillinger/v2/{employee['stillingId']}", headers=KEY,
                         timeout=10).json()["stilling"][0]
    assert [h["innehaverSluttdato"] for h in stilling["innehaver"] if h["innehaverAnsattnr"] == "10004"] == [end]
    body, signature, valid = receiver.received[before]
    assert json.loads(body) == {"id": "10004", "uri": "dfo:ansatte", "gyldigEtter": end}  # valid from the end date
    assert valid and signed_with(body, signature, SECRET)

    assert _control(dfo, "ansatte/10004/sluttdato", {"sluttdato": None}).status_code == 202
    assert _employee(dfo, "10004")["sluttdato"] == "" and len(receiver.received) == before + 2
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()  # HR's calendar day, not the host's
    assert json.loads(receiver.received[before + 1][0])["gyldigEtter"] == today.isoformat()  # withdrawn today
    # a lost event: changed, not announced
    assert _control(dfo, "ansatte/10004/sluttdato", {"sluttdato": end, "announce": False}).status_code == 201
    assert len(receiver.received) == before + 2
    assert _control(dfo, "ansatte/10004/sluttdato", {"sluttdato": "tomorrow"}).status_code == 400
    assert _control(dfo, "ansatte/99999/sluttdato", {"sluttdato": end}).status_code == 404


def test_a_person_moves_to_a_unit_on_another_campus_and_the_move_is_announced(dfo: Proc,
                                                                               receiver: Receiver) -> None:
    unit = _control(dfo, "orgenheter", {"id": 10000300, "organisasjonsnavn": "Institutt for bygg og energi",
                                        "orgKortnavn": "IBE", "lederAnsattnr": "10003", "lokasjonId": "KJELLER",
                                        "overordnOrgenhetId": 10000100})
    assert unit.status_code == 201
    served = httpx.get(f"{dfo.url}/api/orgenhet/v2/10000300", headers=KEY, timeout=10).json()["organisasjon"][0]
    assert served["lokasjonId"] == "KJELLER" and served["leder"][0]["lederAnsattnr"] == "10003"
    before = len(receiver.received)
    assert _control(dfo, "ansatte/10012/flytt", {"organisasjonId": 10000300}).status_code == 202
    assert _employee(dfo, "10012")["organisasjonId"] == 10000300
    assert json.loads(receiver.received[before][0])["uri"] == "dfo:stillinger"
    assert _control(dfo, "ansatte/10012/flytt", {"organisasjonId": 4242}).status_code == 400
