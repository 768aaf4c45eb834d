"""Movers and leavers end to end on the real stack: DFØ sandbox → signed events → the
employment-changes router → the leaver and mover runs → RT, the archive core and mail.

Each test registers its own long-standing employees in DFØ (units 10000110, leader
Øystein Ødegård, and 10000200, leader Åse Bjørnstad), so it depends on no other test.
"""

from __future__ import annotations

import time as clock
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.states import Scheduled

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger, WorkItem
from hub.settings import OSLO, get_settings
from mappings.leaver import last_working_day
from sandbox.common import control_headers
from sandbox.dfo.seed import synthetic_fnr
from tests.e2e.conftest import mail_to, rt_laptops_held_by, rt_tickets, send_event, wait_item

pytestmark = pytest.mark.e2e

OLD_MANAGER, NEW_MANAGER = "oysode@oslomet.no", "asebjo@oslomet.no"  # leaders of 10000110, 10000200
MODEL = "Lenovo ThinkPad T14 Gen 5"  # what onboarding allocates


def _dfo(stack: Stack, path: str, body: dict[str, Any]) -> httpx.Response:
    response = httpx.post(f"{stack.dfo_url}/_sandbox/{path}", headers=control_headers(stack.sandbox_token),
                          json=body, timeout=30)
    assert response.status_code in (201, 202), response.text
    return response


def _employee(stack: Stack, employee_id: str, first: str, last: str, *, start: date = date(2018, 1, 2)) -> str:
    """HR registers a person in unit 10000110 (not announced: the hub has never seen them)."""
    user = f"{first[:3]}{last[:3]}".lower()
    _dfo(stack, "ansatte", {"id": employee_id, "fornavn": first, "etternavn": last, "brukerident": user,
                            "epost": f"{user}@oslomet.no", "startdato": start.isoformat(), "organisasjonId": 10000110,
                            "tittel": "Rådgiver", "fnr": synthetic_fnr(date(1985, 3, 9), female=False,
                                                                      start=int(employee_id) % 400)})
    return f"{user}@oslomet.no"


def _end_date(stack: Stack, employee_id: str, end: date | None) -> None:
    _dfo(stack, f"ansatte/{employee_id}/sluttdato", {"sluttdato": end.isoformat() if end else None})


def _first_sunday_after(days: int) -> date:
    day = date.today() + timedelta(days=days)
    return day + timedelta(days=(6 - day.weekday()) % 7)


def _wait(what: str, found: Any, timeout: float = 90) -> Any:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        if (value := found()) is not None:
            return value
        clock.sleep(0.3)
    raise AssertionError(f"{what} did not happen in {timeout} s")


def _scheduled_leaver(ledger: Ledger, key: str) -> WorkItem:
    return _wait(f"leaver {key} scheduled", lambda: (i if (i := ledger.get_item("leaver", key)) and i.flow_run_id
                                                       else None))


async def _run(flow_run_id: str) -> Any:
    async with get_client() as client:
        return await client.read_flow_run(uuid.UUID(flow_run_id))


async def _router_done(event_id: str, timeout: float = 120) -> Any:
    """The employment-changes run the event started, once it has finished."""
    import asyncio

    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    deadline = clock.monotonic() + timeout
    async with get_client() as client:
        while clock.monotonic() < deadline:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["employment-changes"])), limit=200)
            done = [r for r in runs if r.parameters.get("event_id") == event_id and r.state and r.state.is_final()]
            if done:
                return done[0]
            await asyncio.sleep(0.5)
    raise AssertionError(f"no finished employment-changes run for event {event_id} in {timeout} s")


async def _trail(archive: Any, rt_http: httpx.Client, employee_id: str) -> tuple[list[str], list[str]]:
    """Journal entry titles in the personnel file, and the leaver/mover tickets' subjects."""
    cases = await archive.find_case_files(f"dfo:ansatt:{employee_id}")
    titles = [e.title for c in cases for e in await archive.list_journal_entries(c)]
    tickets = (rt_tickets(rt_http, f"'CF.{{ExternalRef}}' LIKE 'leaver:{employee_id}:'")
               + rt_tickets(rt_http, f"'CF.{{ExternalRef}}' LIKE 'mover:{employee_id}:'"))
    return titles, [t["Subject"] for t in tickets]


def _rt_put(rt_http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    rt_http.put(path, json=body).raise_for_status()


def _lowest_free_laptop(stack: Stack, rt_http: httpx.Client) -> dict[str, Any]:
    """The free laptop of the hires' model with the lowest id (what onboarding allocates next);
    when the tests before this one took them all, IT buys one first (as RT's root)."""
    query = {"query": f"Catalog = 'Laptops' AND Status = 'new' AND 'CF.{{Model}}' = '{MODEL}'"}
    params: dict[str, str | int] = {"fields": "Name,Status", "per_page": 100, "orderby": "id"}
    free = rt_http.post("/assets", params=params, data=query)
    free.raise_for_status()
    if not free.json()["items"]:
        password = (stack.rt_dir / "root-password").read_text().strip()
        bought = httpx.post(f"{stack.rt_url}/REST/2.0/asset", auth=("root", password), timeout=30, json={
            "Name": "LT-E0001", "Catalog": "Laptops", "CustomFields": {"Model": MODEL}})
        assert bought.status_code < 300, bought.text
        free = rt_http.post("/assets", params=params, data=query)
        free.raise_for_status()
    return min(free.json()["items"], key=lambda a: int(a["id"]))


async def test_a_leaver_is_offboarded_on_the_day_the_laptop_returns_to_stock_and_goes_to_the_next_hire(
        stack: Stack, ledger: Ledger, archive: Any, rt_http: httpx.Client) -> None:
    email = _employee(stack, "10201", "Leif", "Avgang")
    laptop = _lowest_free_laptop(stack, rt_http)  # the next hire's pick, once back
    _rt_put(rt_http, f"/asset/{laptop['id']}", {"HeldBy": [email], "Status": "in-use"})  # IT handed it out

    end = _first_sunday_after(8)  # a Sunday: the last working day is the Friday before
    _end_date(stack, "10201", end)
    key = f"10201:{end.isoformat()}:1"
    item = _scheduled_leaver(ledger, key)
    # On the right day: scheduled for the sluttdato at the start hour, Europe/Oslo.
    run = await _run(item.flow_run_id or "")
    assert run.state.is_scheduled()
    start_hour = get_settings().onboarding.start_hour
    assert run.state.state_details.scheduled_time == datetime.combine(end, time(start_hour), tzinfo=OSLO)
    assert await _trail(archive, rt_http, "10201") == ([], [])  # nothing before the day

    async with get_client() as client:  # the day has come
        await client.set_flow_run_state(run.id, Scheduled(scheduled_time=datetime.now(OSLO)), force=True)
    waiting = wait_item(ledger, "leaver", key, timeout=120)
    assert waiting.state == ItemState.WAITING and waiting.data["stage"] == "awaiting_return", waiting.last_error
    account = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'leaver:10201:{end.isoformat()}:deactivate'")
    assert len(account) == 1 and account[0]["Due"].startswith(last_working_day(end).isoformat())
    assert last_working_day(end) < end and "Avgang" not in account[0]["Subject"]
    collect = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'leaver:10201:{end.isoformat()}:collect-laptops'")
    assert len(collect) == 1
    checklist = [m for m in mail_to(stack, OLD_MANAGER) if "Leif Avgang" in str(m["Subject"])]
    assert len(checklist) == 1 and laptop["Name"] in checklist[0].get_body(("plain",)).get_content()

    # IT collects the laptop and resolves the ticket; the returns check puts it back in stock.
    _rt_put(rt_http, f"/ticket/{collect[0]['id']}", {"Status": "resolved"})
    returns = await run_deployment("laptop-returns/laptop-returns", timeout=180, poll_interval=0.5)
    assert returns.state.is_completed(), returns.state
    assert ledger.get_item("leaver", key).state == ItemState.DONE  # type: ignore[union-attr]
    assert rt_laptops_held_by(rt_http, email) == []
    titles, _ = await _trail(archive, rt_http, "10201")
    assert sorted(t.split(" – ")[0] for t in titles) == ["Innleveringskvittering " + laptop["Name"], "Sluttbrev"]

    # The same change again (a new event, the same record): nothing new anywhere.
    before = (titles, len(mail_to(stack, OLD_MANAGER)), ledger.items(service="leaver", limit=None))
    again = send_event(stack, "10201", date.today() - timedelta(days=1))
    assert again.status_code == 202
    routed = await _router_done(again.json()["event_id"])
    assert routed.state.message == "nothing the hub acts on changed"
    assert (await _trail(archive, rt_http, "10201"))[0] == titles
    assert (len(mail_to(stack, OLD_MANAGER)), len(ledger.items(service="leaver", limit=None))) == \
        (before[1], len(before[2]))

    # The next hire gets the returned laptop.
    hire_email = _employee(stack, "10202", "Nina", "Nyansatt", start=date.today() + timedelta(days=5))
    assert send_event(stack, "10202").status_code == 202
    assert wait_item(ledger, "onboarding", "10202", timeout=120).state == ItemState.DONE
    assert [a["id"] for a in rt_laptops_held_by(rt_http, hire_email)] == [laptop["id"]]


async def test_a_withdrawn_end_date_leaves_no_ticket_and_no_letter(stack: Stack, ledger: Ledger, archive: Any,
                                                                   rt_http: httpx.Client) -> None:
    _employee(stack, "10203", "Vera", "Angrer")
    end = date.today() + timedelta(days=10)
    _end_date(stack, "10203", end)
    item = _scheduled_leaver(ledger, f"10203:{end.isoformat()}:1")
    _end_date(stack, "10203", None)
    cancelled = _wait("the leaver superseded", lambda: (
        i if (i := ledger.get_item("leaver", item.source_key)) and i.state == ItemState.DONE else None))
    assert cancelled.data["outcome"].startswith("superseded: end date withdrawn")
    assert (await _run(item.flow_run_id or "")).state.is_cancelled()
    assert await _trail(archive, rt_http, "10203") == ([], [])
    assert not [m for m in mail_to(stack, OLD_MANAGER) if "Vera Angrer" in str(m["Subject"])]


async def test_a_move_to_another_unit_informs_both_managers_once(stack: Stack, ledger: Ledger, archive: Any,
                                                                 rt_http: httpx.Client) -> None:
    _employee(stack, "10204", "Frida", "Flytter")
    seen = send_event(stack, "10204")  # HR's record as the hub first sees it (onboarding: not a new hire)
    assert seen.status_code == 202
    assert (await _router_done(seen.json()["event_id"])).state.message == "first sight: snapshot recorded"
    _dfo(stack, "ansatte/10204/flytt", {"organisasjonId": 10000200})
    item = _wait("the mover", lambda: next((i for i in ledger.items(service="mover", limit=None)
                                           if i.source_key.startswith("10204:")), None))
    key = item.source_key
    assert key.startswith("10204:10000110>10000200:10002>10003:")
    assert wait_item(ledger, "mover", key, timeout=120).state == ItemState.DONE

    # Announced again (DFØ's retry, a new event): nothing new.
    again = _dfo(stack, "announce", {"id": "10204", "uri": "dfo:stillinger",
                                     "gyldigEtter": (date.today() - timedelta(days=1)).isoformat()})
    routed = await _router_done(again.json()["event_id"])
    assert routed.state.message == "nothing the hub acts on changed"
    for manager in (OLD_MANAGER, NEW_MANAGER):
        mails = [m for m in mail_to(stack, manager) if "Frida Flytter" in str(m["Subject"])]
        assert len(mails) == 1, (manager, [m["Subject"] for m in mails])
    titles, tickets = await _trail(archive, rt_http, "10204")
    assert [t.split(" – ")[0] for t in titles] == ["Endring i arbeidsforhold"] and tickets == []  # same campus
    assert [i.source_key for i in ledger.items(service="mover", limit=None)
            if i.source_key.startswith("10204:")] == [key]
    assert ledger.get_item("onboarding", "10204") is None  # a long-standing employee is not onboarded


async def test_a_move_reversed_from_the_same_day_is_routed_as_its_own_change(stack: Stack, ledger: Ledger,
                                                                             archive: Any, rt_http: httpx.Client) -> None:
    """DFØ's events carry no change id: a move and its reversal from the same day are the same
    (uri, id, gyldigEtter). The reversal's message is routed as a change of its own, so both
    managers hear of the move and of the reversal, once each; announced yet again, nothing new."""
    _employee(stack, "10205", "Randi", "Returnert")
    seen = send_event(stack, "10205")
    assert (await _router_done(seen.json()["event_id"])).state.message == "first sight: snapshot recorded"
    day = datetime.now(OSLO).date().isoformat()
    moved = "unit, manager or position changed; mover started"

    async def move(from_unit: int, to_unit: int) -> str:
        """HR moves the person from ``day`` and announces it; its event, once the mover is done."""
        answer = _dfo(stack, "ansatte/10205/flytt", {"organisasjonId": to_unit, "gyldigEtter": day})
        assert (await _router_done(answer.json()["event_id"])).state.message == moved
        assert ledger.get_item("employment", answer.json()["event_id"]).state == ItemState.DONE  # type: ignore[union-attr]
        key = _wait("the mover", lambda: next((i.source_key for i in ledger.items(service="mover", limit=None)
                                               if i.source_key.startswith(f"10205:{from_unit}>{to_unit}:")), None))
        assert wait_item(ledger, "mover", key, timeout=120).state == ItemState.DONE
        return str(answer.json()["event_id"])

    there = await move(10000110, 10000200)
    back = await move(10000200, 10000110)
    assert ledger.get_event(back).payload["repeats"] == there  # type: ignore[union-attr]

    def told(manager: str) -> list[bool]:  # one mail per change; True: "no longer reports to you"
        mails = [m for m in mail_to(stack, manager) if "Randi Returnert" in str(m["Subject"])]
        return sorted("no longer reports to you" in m.get_body(("plain",)).get_content() for m in mails)

    assert told(OLD_MANAGER) == told(NEW_MANAGER) == [False, True]
    titles, _ = await _trail(archive, rt_http, "10205")
    assert [t.split(" – ")[0] for t in titles] == ["Endring i arbeidsforhold"] * 2

    # The reversal announced yet again (a new message; HR's record as the router last saw it).
    again = _dfo(stack, "announce", {"id": "10205", "uri": "dfo:stillinger", "gyldigEtter": day})
    assert again.status_code == 202 and again.json()["repeats"] == there
    assert (await _router_done(again.json()["event_id"])).state.message == "nothing the hub acts on changed"
    assert told(OLD_MANAGER) == told(NEW_MANAGER) == [False, True]
    assert len((await _trail(archive, rt_http, "10205"))[0]) == 2
    assert len([i for i in ledger.items(service="mover", limit=None) if i.source_key.startswith("10205:")]) == 2


async def test_the_new_services_are_deployed_like_the_others(stack: Stack) -> None:
    """What the Prefect UI lists: each new deployment with its service tag and description."""
    async with get_client() as client:
        for name, tag in (("employment-changes/employment-changes", "service:employment"),
                          ("leaver/leaver", "service:leaver"), ("laptop-returns/laptop-returns", "service:leaver"),
                          ("mover/mover", "service:mover")):
            deployment = await client.read_deployment_by_name(name)
            assert tag in deployment.tags and deployment.description, name
