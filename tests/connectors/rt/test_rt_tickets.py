"""Tickets against a real Request Tracker 5 (see conftest.py)."""

from __future__ import annotations

import time
import uuid
from datetime import date

import httpx
import pytest

from connectors.rt import RtConfig, RtTicketing
from hub.errors import ConfigError, Conflict, InvalidInput, NotFound
from sandbox.rt import RtInstance
from tests.connectors.rt.helpers import TIMINGS, RtDirect, cf_values
from tests.connectors.ticketing_data import FNR, new_ref, new_ticket

pytestmark = pytest.mark.rt

async def test_ensure_ticket_twice_opens_exactly_one(rt: RtTicketing, rt_direct: RtDirect) -> None:
    ref = new_ref()
    started = time.perf_counter()
    first = await rt.ensure_ticket(new_ticket(ref))
    TIMINGS["ticket_create_s"] = round(time.perf_counter() - started, 3)
    second = await rt.ensure_ticket(new_ticket(ref, subject="changed subject is not a new ticket"))
    assert second.id == first.id

    found = rt_direct.tickets_with_ref(ref)
    assert [t["id"] for t in found] == [first.id]
    stored = found[0]
    assert stored["Subject"] == "Brukerkonto for ny ansatt"
    assert stored["Due"] == "2026-12-01T15:00:00Z"  # 16:00 Europe/Oslo (CET)
    assert cf_values(stored, "ExternalRef") == [ref]
    assert [r["EmailAddress"] for r in stored["Requestor"]] == ["leder@oslomet.test"]
    assert first.due == date(2026, 12, 1) and first.queue == "User accounts" and first.status == "new"
    assert first.url and first.url.endswith(f"/Ticket/Display.html?id={first.id}")


async def test_subject_or_body_with_fodselsnummer_is_refused(rt: RtTicketing, rt_direct: RtDirect) -> None:
    ref = new_ref()
    with pytest.raises(InvalidInput) as raised:
        await rt.ensure_ticket(new_ticket(ref, subject=f"Konto for {FNR}"))
    assert FNR not in str(raised.value)
    with pytest.raises(InvalidInput):
        await rt.ensure_ticket(new_ticket(ref, body=f"Fødselsnummer {FNR[:6]} {FNR[6:]}"))
    assert rt_direct.tickets_with_ref(ref) == []


async def test_external_ref_with_quotes_and_backslashes_round_trips(rt: RtTicketing) -> None:
    ref = f"form:{uuid.uuid4().hex[:8]}:o'brien\\x"
    ticket = await rt.ensure_ticket(new_ticket(ref, queue="Equipment"))
    assert ticket.external_ref == ref
    assert [t.id for t in await rt.find_tickets(ref)] == [ticket.id]
    # RT compares case-insensitively; the connector keeps exact matches only.
    assert await rt.find_tickets(ref.upper()) == []
    assert (await rt.ensure_ticket(new_ticket(ref, queue="Equipment"))).id == ticket.id


async def test_find_tickets_walks_every_page(rt_config: RtConfig, rt_direct: RtDirect) -> None:
    ref = new_ref()
    ids = [rt_direct.create_ticket({"Queue": "Equipment", "Subject": f"drift {n}",
                                    "CustomFields": {"ExternalRef": ref}}) for n in range(5)]
    pages: list[str] = []

    class CountingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/tickets"):
                pages.append(request.url.params["page"])
            return await super().handle_async_request(request)

    async with RtTicketing(rt_config, transport=CountingTransport()) as client:
        found = await client.find_tickets(ref, per_page=2)
    assert [t.id for t in found] == ids
    assert pages == ["1", "2", "3"]


@pytest.mark.parametrize("failure", ["response lost after RT stored it", "503 before RT saw it"])
async def test_create_with_a_transient_failure_still_opens_one_ticket(
        failure: str, rt_config: RtConfig, rt_direct: RtDirect) -> None:
    ref = new_ref()
    failed: list[str] = []

    class FlakyTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/ticket") and not failed:
                failed.append(failure)
                if failure.startswith("503"):
                    return httpx.Response(503, json={"message": "Service Unavailable"})
                await super().handle_async_request(request)  # RT creates the ticket ...
                raise httpx.ReadTimeout("... but its answer never arrives", request=request)
            return await super().handle_async_request(request)

    async with RtTicketing(rt_config, transport=FlakyTransport()) as client:
        ticket = await client.ensure_ticket(new_ticket(ref))
    assert failed == [failure]
    assert [t["id"] for t in rt_direct.tickets_with_ref(ref)] == [ticket.id]


async def test_comment_and_status_change(rt: RtTicketing, rt_direct: RtDirect) -> None:
    ticket = await rt.ensure_ticket(new_ticket(new_ref()))
    await rt.comment(ticket.id, "Konto opprettet i AD.")
    history = rt_direct.history(ticket.id)
    assert any(t["Type"] == "Comment" for t in history)
    with pytest.raises(InvalidInput):
        await rt.comment(ticket.id, f"fnr {FNR}")

    opened = await rt.set_status(ticket.id, "open")
    assert opened.status == "open" and rt_direct.ticket(ticket.id)["Status"] == "open"
    with pytest.raises(InvalidInput):
        await rt.set_status(ticket.id, "no-such-status")
    assert rt_direct.ticket(ticket.id)["Status"] == "open"


async def test_status_change_after_a_concurrent_edit_is_a_conflict(rt_config: RtConfig,
                                                                   rt_direct: RtDirect) -> None:
    """Someone comments between our read and our write: RT answers 412 → Conflict."""
    ticket_id = rt_direct.create_ticket({"Queue": "User accounts", "Subject": "race",
                                         "CustomFields": {"ExternalRef": new_ref()}})

    class InterleavingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                rt_direct.comment(ticket_id, "a colleague got there first")
            return await super().handle_async_request(request)

    async with RtTicketing(rt_config, transport=InterleavingTransport()) as client:
        with pytest.raises(Conflict):
            await client.set_status(ticket_id, "resolved")
    assert rt_direct.ticket(ticket_id)["Status"] == "new"


async def test_rt_error_message_reaches_the_error(rt: RtTicketing, rt_direct: RtDirect) -> None:
    ref = new_ref()
    with pytest.raises(ConfigError) as raised:  # RT cannot tell "no such queue" from "no right"
        await rt.ensure_ticket(new_ticket(ref, queue="No such queue"))
    assert raised.value.status == 403
    assert "No permission to create tickets in the queue 'No such queue'" in raised.value.message
    assert rt_direct.tickets_with_ref(ref) == []


async def test_unknown_ticket_is_not_found(rt: RtTicketing) -> None:
    with pytest.raises(NotFound):
        await rt.get_ticket("987654")
    with pytest.raises(InvalidInput):
        await rt.get_ticket("../queues/all")


async def test_bad_token_is_a_config_error(rt_instance: RtInstance) -> None:
    bad = RtConfig(base_url=rt_instance.base_url, token="1-99-" + "0" * 32, max_attempts=1)
    async with RtTicketing(bad) as client:
        with pytest.raises(ConfigError) as raised:
            await client.find_tickets("anything")
        assert raised.value.status == 401
        health = await client.health()
    assert not health.ok and "config" in health.detail


async def test_health_with_token_file(rt_instance: RtInstance) -> None:
    config = RtConfig(base_url=rt_instance.base_url, token_file=rt_instance.token_file)
    async with RtTicketing(config) as client:
        health = await client.health()
    assert health.ok and health.version and health.version.startswith("5.0")
    assert health.latency_ms > 0


async def test_missing_token_file_is_a_config_error(rt_instance: RtInstance) -> None:
    config = RtConfig(base_url=rt_instance.base_url, token_file=rt_instance.dir / "no-such-token")
    with pytest.raises(ConfigError):
        RtTicketing(config)
