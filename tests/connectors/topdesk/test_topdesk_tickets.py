"""Incidents through the connector, against the TOPdesk sandbox subprocess (see conftest.py)."""

from __future__ import annotations

import time
import uuid
from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from connectors.topdesk import TopdeskConfig, TopdeskTicketing
from hub.errors import ConfigError, InvalidInput, NotFound, TransientError
from sandbox.procs import Proc
from tests.connectors.ticketing_data import FNR, new_ref, new_ticket
from tests.connectors.topdesk.helpers import TIMINGS, TopdeskDirect


async def test_ensure_ticket_twice_opens_exactly_one(topdesk: TopdeskTicketing,
                                                     topdesk_direct: TopdeskDirect) -> None:
    ref = new_ref()
    started = time.perf_counter()
    first = await topdesk.ensure_ticket(new_ticket(ref))
    TIMINGS["ticket_create_s"] = round(time.perf_counter() - started, 3)
    second = await topdesk.ensure_ticket(new_ticket(ref, subject="changed subject is not a new ticket"))
    assert second.id == first.id

    found = topdesk_direct.incidents_with_ref(ref)
    assert [i["id"] for i in found] == [first.id]
    stored = found[0]
    assert stored["briefDescription"] == "Brukerkonto for ny ansatt"
    assert stored["request"] == "Opprett brukerkonto. Startdato 2026-12-01."
    assert stored["targetDate"] == "2026-12-01T15:00:00.000+0000"  # 16:00 Europe/Oslo (CET)
    assert stored["optionalFields1"]["text1"] == ref
    assert stored["caller"]["email"] == "leder@oslomet.test"
    assert stored["operatorGroup"]["name"] == "User accounts"
    assert stored["processingStatus"]["name"] == "Logged" and stored["status"] == "secondLine"
    assert len(topdesk_direct.persons("leder@oslomet.test")) == 1  # registered once, then found
    assert first.due == date(2026, 12, 1) and first.queue == "User accounts" and first.status == "new"
    assert first.external_ref == ref
    assert first.url and first.url.endswith(f"/tas/secure/incident?unid={first.id}")
    by_number = await topdesk.get_ticket(stored["number"])
    assert by_number.id == first.id


async def test_subject_or_body_with_fodselsnummer_is_refused(topdesk: TopdeskTicketing,
                                                             topdesk_direct: TopdeskDirect) -> None:
    ref = new_ref()
    with pytest.raises(InvalidInput) as raised:
        await topdesk.ensure_ticket(new_ticket(ref, subject=f"Konto for {FNR}"))
    assert FNR not in str(raised.value)
    with pytest.raises(InvalidInput):
        await topdesk.ensure_ticket(new_ticket(ref, body=f"Fødselsnummer {FNR[:6]} {FNR[6:]}"))
    assert topdesk_direct.incidents_with_ref(ref) == []


@pytest.mark.parametrize("tail", ["o'brien\\x", 'say "hi"; x==1,(y)', "star*", "with space"])
async def test_external_ref_with_fiql_specials_round_trips(topdesk: TopdeskTicketing, tail: str) -> None:
    ref = f"form:{uuid.uuid4().hex[:8]}:{tail}"
    ticket = await topdesk.ensure_ticket(new_ticket(ref, queue="Equipment", requestor=None, due=None))
    assert ticket.external_ref == ref and ticket.queue == "Equipment" and ticket.due is None
    assert [t.id for t in await topdesk.find_tickets(ref)] == [ticket.id]
    # TOPdesk compares case-insensitively and '*' is a wildcard; the connector keeps exact matches.
    assert await topdesk.find_tickets(ref.upper()) == []
    assert await topdesk.find_tickets(ref[:-2] + "*") == []
    assert (await topdesk.ensure_ticket(new_ticket(ref, queue="Equipment"))).id == ticket.id


async def test_find_tickets_follows_206_pages(topdesk_config: TopdeskConfig, topdesk_direct: TopdeskDirect) -> None:
    ref = new_ref()
    ids = [topdesk_direct.create_incident({"briefDescription": f"drift {n}", "optionalFields1": {"text1": ref}})["id"]
           for n in range(5)]
    pages: list[tuple[str, int]] = []

    class CountingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            if request.url.path.endswith("/incidents"):
                pages.append((request.url.params["start"], response.status_code))
            return response

    async with TopdeskTicketing(topdesk_config, transport=CountingTransport()) as client:
        found = await client.find_tickets(ref, per_page=2)
    assert [t.id for t in found] == ids
    assert pages == [("0", 206), ("2", 206), ("4", 200)]


async def test_long_subject_is_shortened_and_kept_in_the_request(topdesk: TopdeskTicketing,
                                                                 topdesk_direct: TopdeskDirect) -> None:
    ref, subject = new_ref(), "Bærbar PC til ny ansatt ved Fakultet for teknologi, kunst og design — " * 2
    ticket = await topdesk.ensure_ticket(new_ticket(ref, subject=subject))
    stored = topdesk_direct.incident(ticket.id)
    assert len(stored["briefDescription"]) == 80 and stored["briefDescription"].endswith("…")
    assert stored["request"].startswith(subject)
    assert ticket.subject == stored["briefDescription"]
    assert (await topdesk.ensure_ticket(new_ticket(ref, subject=subject))).id == ticket.id


@pytest.mark.parametrize("failure", ["response lost after TOPdesk stored it", "503 before TOPdesk saw it"])
async def test_create_with_a_transient_failure_still_opens_one_incident(
        failure: str, topdesk_config: TopdeskConfig, topdesk_direct: TopdeskDirect) -> None:
    ref = new_ref()
    lost: list[str] = []

    class LosingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/incidents") and not lost:
                lost.append(failure)
                await super().handle_async_request(request)  # TOPdesk creates the incident ...
                raise httpx.ReadTimeout("... but its answer never arrives", request=request)
            return await super().handle_async_request(request)

    if failure.startswith("503"):
        topdesk_direct.arm_fault("/tas/api/incidents", 503, retry_after=1, method="POST")
        transport: httpx.AsyncBaseTransport | None = None
    else:
        transport = LosingTransport()
    async with TopdeskTicketing(topdesk_config, transport=transport) as client:
        ticket = await client.ensure_ticket(new_ticket(ref, requestor=None))
    assert [i["id"] for i in topdesk_direct.incidents_with_ref(ref)] == [ticket.id]
    assert topdesk_direct.armed_faults() == []
    assert lost == ([] if failure.startswith("503") else [failure])


async def test_comment_and_status_change(topdesk: TopdeskTicketing, topdesk_direct: TopdeskDirect) -> None:
    ticket = await topdesk.ensure_ticket(new_ticket(new_ref()))
    await topdesk.comment(ticket.id, "Konto opprettet i AD.")
    actions = topdesk_direct.actions(ticket.id)
    assert [(a["memoText"], a["invisibleForCaller"]) for a in actions] == [("Konto opprettet i AD.", True)]
    with pytest.raises(InvalidInput):
        await topdesk.comment(ticket.id, f"fnr {FNR}")
    assert len(topdesk_direct.actions(ticket.id)) == 1

    opened = await topdesk.set_status(ticket.id, "open")
    assert opened.status == "open"
    assert topdesk_direct.incident(ticket.id)["processingStatus"]["name"] == "In progress"
    with pytest.raises(InvalidInput):
        await topdesk.set_status(ticket.id, "no-such-status")
    resolved = await topdesk.set_status(ticket.id, "resolved")
    stored = topdesk_direct.incident(ticket.id)
    assert resolved.status == "resolved" and stored["closed"] is True
    assert stored["processingStatus"]["name"] == "Closed"
    assert (await topdesk.set_status(ticket.id, "rejected")).status == "rejected"


async def test_a_comment_whose_answer_is_lost_is_added_once(topdesk_config: TopdeskConfig,
                                                            topdesk_direct: TopdeskDirect) -> None:
    incident = topdesk_direct.create_incident({"briefDescription": "comment once",
                                               "optionalFields1": {"text1": new_ref()}})
    lost: list[str] = []

    class LosingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT" and not lost:
                lost.append(request.url.path)
                await super().handle_async_request(request)
                raise httpx.ReadTimeout("answer lost", request=request)
            return await super().handle_async_request(request)

    async with TopdeskTicketing(topdesk_config, transport=LosingTransport()) as client:
        await client.comment(incident["id"], "Levert.")
    assert lost and [a["memoText"] for a in topdesk_direct.actions(incident["id"])] == ["Levert."]


async def test_unknown_queue_is_a_config_error(topdesk: TopdeskTicketing, topdesk_direct: TopdeskDirect) -> None:
    ref = new_ref()
    with pytest.raises(ConfigError) as raised:
        await topdesk.ensure_ticket(new_ticket(ref, queue="No such queue"))
    assert "No such queue" in raised.value.message
    assert topdesk_direct.incidents_with_ref(ref) == []


async def test_unknown_incident_is_not_found_and_odd_ids_are_refused(topdesk: TopdeskTicketing) -> None:
    with pytest.raises(NotFound):
        await topdesk.get_ticket(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        await topdesk.get_ticket("I 1901 999")
    for odd in ("../persons", "", "I 2611 001/actions"):
        with pytest.raises(InvalidInput):
            await topdesk.get_ticket(odd)
    with pytest.raises(InvalidInput):
        await topdesk.ensure_ticket(new_ticket("x" * 101))


async def test_retry_after_503_on_a_search_is_honoured(topdesk: TopdeskTicketing,
                                                       topdesk_direct: TopdeskDirect) -> None:
    ticket = await topdesk.ensure_ticket(new_ticket(new_ref(), requestor=None))
    assert ticket.external_ref is not None
    topdesk_direct.arm_fault("/tas/api/incidents", 503, retry_after=1, method="GET")
    started = time.perf_counter()
    found = await topdesk.find_tickets(ticket.external_ref)
    waited = time.perf_counter() - started
    TIMINGS["retry_after_1s_search_s"] = round(waited, 3)
    assert [t.id for t in found] == [ticket.id]
    assert waited >= 1.0 and topdesk_direct.armed_faults() == []


async def test_429_beyond_the_attempt_budget_is_transient(topdesk: TopdeskTicketing,
                                                          topdesk_direct: TopdeskDirect) -> None:
    topdesk_direct.arm_fault("/tas/api/incidents", 429, count=5, method="GET")
    with pytest.raises(TransientError) as raised:
        await topdesk.find_tickets(new_ref())
    assert raised.value.status == 429
    assert topdesk_direct.armed_faults()[0]["count"] == 2  # max_attempts=3 used three of five


async def test_wrong_app_password_is_a_config_error(topdesk_sandbox: Proc) -> None:
    bad = TopdeskConfig(base_url=topdesk_sandbox.extra["base_url"], username="hub",
                        app_password=SecretStr("wrong"), max_attempts=1)
    async with TopdeskTicketing(bad) as client:
        with pytest.raises(ConfigError) as raised:
            await client.find_tickets("anything")
        assert raised.value.status == 401 and "wrong" not in str(raised.value)
        health = await client.health()
    assert not health.ok and "config" in health.detail


async def test_health(topdesk: TopdeskTicketing) -> None:
    health = await topdesk.health()
    assert health.ok and health.system == "topdesk" and health.version == "3.7.1"
    assert health.latency_ms > 0
