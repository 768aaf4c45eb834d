"""Order and deliver a laptop, end to end: Nettskjema → RT ticket + reservation → IT delivers
→ receipt in the personnel file + e-mail. Invalid orders become dead letters."""

from __future__ import annotations

import httpx
import pytest
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from sandbox.common import control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from tests.e2e.conftest import mail_to, rt_comments, rt_tickets, submit

pytestmark = pytest.mark.e2e

REQUESTER = "norstr@oslomet.no"  # Nora Strøm, DFØ employee 10009


def _order(stack: Stack, feide: str, model: str) -> int:
    return submit(stack, LAPTOP_FORM_ID, {
        "feide": feide, "model": model, "location": "pilestredet", "cost_centre": "2110",
        "justification": "Trenger en lettere maskin til undervisning på Kjeller og i Pilestredet.",
        "needed_by": "15.12.2026"})


async def _run(name: str) -> None:
    run = await run_deployment(name, timeout=180, poll_interval=0.5)
    assert run.state.is_completed(), run.state


def _asset(rt_http: httpx.Client, ref: str) -> list[dict]:
    response = rt_http.post("/assets", params={"fields": "Name,Status,HeldBy,CustomFields",
                                               "fields[HeldBy]": "EmailAddress"},
                            data={"query": f"Catalog = 'Laptops' AND 'CF.{{ExternalRef}}' = '{ref}'"})
    response.raise_for_status()
    return response.json()["items"]


async def test_order_is_ticketed_reserved_delivered_and_filed(stack: Stack, ledger: Ledger, rt_http: httpx.Client,
                                                              archive) -> None:
    sid = _order(stack, REQUESTER, "macbook-air-13")  # ThinkPads are the new hires' standard
    await _run("laptop-orders/laptop-orders")
    item = ledger.get_item("laptop", str(sid))
    assert item.state == ItemState.WAITING and item.data["stage"] == "awaiting_delivery", item.last_error
    tickets = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{sid}:order'")
    assert len(tickets) == 1 and "Apple MacBook Air 13 M3" in tickets[0]["Subject"]
    reserved = _asset(rt_http, f"laptop-order:{sid}:asset")
    assert len(reserved) == 1 and reserved[0]["Status"] == "allocated" and not reserved[0].get("HeldBy")

    # The same submission seen again: nothing new.
    await _run("laptop-orders/laptop-orders")
    assert len(rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{sid}:order'")) == 1
    assert len(_asset(rt_http, f"laptop-order:{sid}:asset")) == 1

    # Not delivered yet: the follow-up leaves it waiting.
    await _run("laptop-delivery/laptop-delivery")
    assert ledger.get_item("laptop", str(sid)).state == ItemState.WAITING

    # IT hands it over: HeldBy the employee, ticket resolved (what a person does in RT).
    rt_http.put(f"/asset/{reserved[0]['id']}", json={"HeldBy": [REQUESTER]}).raise_for_status()
    rt_http.put(f"/ticket/{tickets[0]['id']}", json={"Status": "resolved"}).raise_for_status()
    await _run("laptop-delivery/laptop-delivery")
    done = ledger.get_item("laptop", str(sid))
    assert done.state == ItemState.DONE, done.last_error
    cases = await archive.find_case_files("dfo:ansatt:10009")
    assert len(cases) == 1  # the personnel file, created because Nora had none
    receipts = [e for e in await archive.list_journal_entries(cases[0]) if "Utleveringskvittering" in e.title]
    assert len(receipts) == 1 and receipts[0].journal_type == "U"
    assert (await archive.fetch_document(receipts[0].document_ids[0])).startswith(b"%PDF")
    assert len([m for m in mail_to(stack, REQUESTER) if "Laptop delivered" in str(m["Subject"])]) == 1

    await _run("laptop-delivery/laptop-delivery")  # again: nothing new
    assert len([e for e in await archive.list_journal_entries(cases[0]) if "Utleveringskvittering" in e.title]) == 1


async def test_no_free_laptop_waits_without_failing(stack: Stack, ledger: Ledger, rt_http: httpx.Client) -> None:
    first = _order(stack, "haklov@oslomet.no", "latitude-7450")  # one Dell in stock (the seed may take it)
    second = _order(stack, "torbra@oslomet.no", "latitude-7450")
    await _run("laptop-orders/laptop-orders")
    states = {sid: ledger.get_item("laptop", str(sid)) for sid in (first, second)}
    assert all(item.state == ItemState.WAITING for item in states.values())
    assert states[first].data["stage"] in ("awaiting_delivery", "awaiting_asset")
    assert states[second].data["stage"] == "awaiting_asset"  # the Dell went to an earlier order
    assert "no free Dell Latitude 7450" in states[second].last_error
    ticket = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{second}:order'")[0]
    assert any("No free Dell Latitude 7450" in text for text in rt_comments(rt_http, ticket["id"]))


async def test_invalid_orders_are_dead_letters_and_replay_after_a_fix(stack: Stack, ledger: Ledger,
                                                                      rt_http: httpx.Client) -> None:
    unknown = _order(stack, "ny.kollega@oslomet.no", "macbook-air-13")
    unstocked = _order(stack, REQUESTER, "surface-laptop")
    await _run("laptop-orders/laptop-orders")
    for sid, reason in ((unknown, "nobody with Feide id ny.kollega@oslomet.no"), (unstocked, "not offered")):
        item = ledger.get_item("laptop", str(sid))
        assert item.state == ItemState.FAILED and item.error_kind in ("invalid_input", "not_found")
        assert reason in item.last_error and "replay" in item.last_error.lower()
        assert rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{sid}:order'") == []
    # Never retried blindly: another run leaves them failed.
    await _run("laptop-orders/laptop-orders")
    assert ledger.get_item("laptop", str(unknown)).attempts == 1

    # The fix: HR registers the person. Then the dead letter is replayed.
    httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", headers=control_headers(stack.sandbox_token), json={
        "id": "10101", "fornavn": "Ny", "etternavn": "Kollega", "brukerident": "nykoll",
        "epost": "ny.kollega@oslomet.no", "startdato": "2026-01-05", "organisasjonId": "10000110",
        "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False}).raise_for_status()
    assert ledger.reset_for_replay(ledger.get_item("laptop", str(unknown)).id)
    await _run("laptop-orders/laptop-orders")
    replayed = ledger.get_item("laptop", str(unknown))
    assert replayed.state == ItemState.WAITING and replayed.data["replays"] == 1
    assert len(rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{unknown}:order'")) == 1
