"""Exactly once in TOPdesk when the answer to a create is lost after TOPdesk stored it.

The sandbox's own fault injector (``lost_response``) passes the request on, so the
incident or person IS created, then drops the answer (a TCP reset or a 502). The
connector must find the record by its key instead of creating a second one.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from connectors.topdesk import TopdeskTicketing
from sandbox.common import control_headers
from tests.connectors.ticketing_data import new_ref, new_ticket
from tests.connectors.topdesk.helpers import TopdeskDirect


def lose_answer(direct: TopdeskDirect, path: str, lost_as: str, method: str = "POST") -> None:
    response = httpx.post(f"{direct.root}/_sandbox/faults", headers=control_headers(), json={
        "path": path, "method": method, "kind": "lost_response", "lost_as": lost_as, "count": 1})
    assert response.status_code == 201, response.text


def lost_answers(direct: TopdeskDirect) -> int:
    stats = httpx.get(f"{direct.root}/_sandbox/faults/stats", headers=control_headers()).json()
    return int(stats["injected"].get("lost_response", 0))


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_a_lost_answer_to_an_incident_create_leaves_one_incident(
        topdesk: TopdeskTicketing, topdesk_direct: TopdeskDirect, lost_as: str) -> None:
    ref, before = new_ref(), lost_answers(topdesk_direct)
    lose_answer(topdesk_direct, "/tas/api/incidents", lost_as)
    ticket = await topdesk.ensure_ticket(new_ticket(ref, requestor=None))
    assert lost_answers(topdesk_direct) == before + 1
    assert [i["id"] for i in topdesk_direct.incidents_with_ref(ref)] == [ticket.id]
    assert ticket.external_ref == ref


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_a_lost_answer_to_a_person_create_leaves_one_person(
        topdesk: TopdeskTicketing, topdesk_direct: TopdeskDirect, lost_as: str) -> None:
    ref, requestor = new_ref(), f"ny.leder.{uuid.uuid4().hex[:8]}@oslomet.test"
    before = lost_answers(topdesk_direct)
    lose_answer(topdesk_direct, "/tas/api/persons", lost_as)
    ticket = await topdesk.ensure_ticket(new_ticket(ref, requestor=requestor))
    assert lost_answers(topdesk_direct) == before + 1
    [person] = topdesk_direct.persons(requestor)
    [incident] = topdesk_direct.incidents_with_ref(ref)
    assert incident["id"] == ticket.id and incident["caller"]["id"] == person["id"]
