"""Movers and leavers through the real flows: the employment-changes router, the leaver, the
laptop returns and the mover, with HR, archive, ticketing and mail in memory and a temporary
Prefect server holding the deployments the router schedules runs of."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State
from pydantic import SecretStr

import flows.employment
from flows.employment import employment_changes
from flows.employment_steps import load_snapshot, read_employment
from flows.leaver import laptop_returns, leaver
from flows.mover import mover
from flows.onboarding import onboarding
from hub.errors import TransientError
from hub.ledger import ItemState
from hub.ports.hr import Employee, OrgUnit, Position
from hub.settings import OSLO
from mappings.leaver import last_working_day
from tests.flows.conftest import Fakes

FNR = "05499024837"  # synthetic, valid check digits
LAPTOP = "Lenovo ThinkPad T14 Gen 5"
TODAY = datetime.now(OSLO).date()


@pytest.fixture
async def deployed(hub: Fakes) -> Fakes:
    """The leaver and mover deployments exist (no runner: their runs stay scheduled)."""
    for flow, name in ((leaver, "leaver"), (mover, "mover")):
        await (await flow.ato_deployment(name=name)).apply()
    return hub


def _staff(fakes: Fakes, **changes: object) -> Employee:
    fakes.hr.add(
        OrgUnit(id="U100", name="Institutt for informasjonsteknologi", manager_id="20002", location="PILESTREDET"),
        OrgUnit(id="U200", name="Institutt for bygg", manager_id="20003", location="KJELLER"),
        OrgUnit(id="U300", name="IT-avdelingen", manager_id="20004", location="PILESTREDET"),
        Position(id="P1", title="Universitetslektor", org_unit_id="U100"),
        Employee(id="20002", first_name="Mona", last_name="Leder", email="mona.leder@oslomet.no",
                 org_unit_id="U100", start_date=date(2015, 1, 1), is_manager=True),
        Employee(id="20003", first_name="Bjørn", last_name="Sjef", email="bjorn.sjef@oslomet.no",
                 org_unit_id="U200", start_date=date(2012, 1, 1), is_manager=True),
        Employee(id="20004", first_name="Aud", last_name="Direktør", email="aud.direktor@oslomet.no",
                 org_unit_id="U300", start_date=date(2010, 1, 1), is_manager=True),
    )
    person = Employee(**{"id": "10004", "first_name": "Håkon", "last_name": "Løvås", "national_id": SecretStr(FNR),
                         "username": "haklov", "email": "haklov@oslomet.no", "position_id": "P1",
                         "org_unit_id": "U100", "start_date": date(2019, 8, 1), **changes})  # type: ignore[arg-type]
    fakes.hr.add(person)
    return person


def _change(fakes: Fakes, **changes: object) -> None:
    fakes.hr.add(fakes.hr.employees["10004"].model_copy(update=changes))


async def _run_state(flow_run_id: str) -> tuple[str, datetime | None]:
    async with get_client() as client:
        run = await client.read_flow_run(uuid.UUID(flow_run_id))
    assert run.state is not None
    return run.state.type.value, run.state.state_details.scheduled_time


async def test_a_long_standing_employee_whose_record_changes_is_not_onboarded(hub: Fakes) -> None:
    _staff(hub)
    state = await onboarding(employee_id="10004", return_state=True)
    assert state.is_completed() and state.message.startswith("not a new hire")
    assert hub.ledger.get_item("onboarding", "10004") is None  # no item, no dead letter
    assert (hub.archive.case_files, hub.ticketing.tickets, hub.mail.sent) == ({}, {}, [])


async def test_an_end_date_schedules_the_leaver_who_is_offboarded_and_whose_laptop_returns_to_stock(
        deployed: Fakes) -> None:
    hub = deployed
    _staff(hub)
    laptop = hub.ticketing.stock("Laptops", "LT-0007", LAPTOP)
    hub.ticketing.hand_over(laptop.id, "haklov@oslomet.no")
    end = TODAY + timedelta(days=9)

    first = await employment_changes(employee_id="10004", return_state=True)  # first sight: snapshot only
    assert first.message == "first sight: snapshot recorded"
    _change(hub, end_date=end)
    await employment_changes(employee_id="10004")
    await employment_changes(employee_id="10004")  # the same change announced again: nothing new
    (item,) = hub.ledger.items(service="leaver")
    assert item.source_key == f"10004:{end.isoformat()}:1" and item.state == ItemState.PENDING
    state, when = await _run_state(item.flow_run_id or "")
    assert state == "SCHEDULED" and when == datetime.combine(end, time(6), tzinfo=OSLO)
    assert (hub.ticketing.tickets, hub.mail.sent) == ({}, [])  # nothing before the day

    assert await leaver(leaver_key=item.source_key) == "offboarded; waiting for the laptop(s) to be returned"
    tickets = {t.queue: t for t in hub.ticketing.tickets.values()}
    assert tickets["User accounts"].due == last_working_day(end)
    assert tickets["User accounts"].subject.startswith("Deactivate user account: DFØ employee 10004")
    assert "LT-0007" in hub.ticketing.bodies[tickets["Equipment"].id]
    assert all("Løvås" not in t.subject and FNR not in hub.ticketing.bodies[t.id] for t in tickets.values())
    (case,) = hub.archive.case_files.values()
    assert [e.new.public_title for e in case.entries] == ["Sluttbrev – *****"]
    (mail,) = hub.mail.sent
    assert mail.to == ("mona.leder@oslomet.no",) and "LT-0007" in mail.body and "checklist" in mail.body

    await laptop_returns()  # IT has not collected it yet
    assert hub.ledger.get_item("leaver", item.source_key).state == ItemState.WAITING  # type: ignore[union-attr]
    await hub.ticketing.set_status(tickets["Equipment"].id, "resolved")
    assert await laptop_returns() == {"checked": 1, "returned": 1}
    back = await hub.ticketing.get_asset(laptop.id, "Laptops")
    assert (back.status, back.held_by, back.external_ref) == ("new", [], None)
    assert [e.new.public_title for e in case.entries] == ["Sluttbrev – *****", "Innleveringskvittering LT-0007 – *****"]
    assert hub.ledger.get_item("leaver", item.source_key).state == ItemState.DONE  # type: ignore[union-attr]
    # free for the next hire
    assert (await hub.ticketing.allocate_asset("Laptops", holder="ny@oslomet.no", external_ref="next",
                                               model=LAPTOP)).id == laptop.id  # type: ignore[union-attr]
    before = (len(case.entries), dict(hub.ticketing.tickets), list(hub.mail.sent))
    await leaver(leaver_key=item.source_key)
    await laptop_returns()
    assert (len(case.entries), hub.ticketing.tickets, hub.mail.sent) == before

    # No fødselsnummer in what Prefect stored: flow parameters, states, task runs, artifacts.
    async with get_client() as client:
        stored = str([(r.name, r.parameters, r.state) for r in await client.read_flow_runs(limit=200)])
        stored += str([(t.name, t.task_inputs, t.state) for t in await client.read_task_runs(limit=200)])
        stored += str([(a.key, a.data, a.description) for a in await client.read_artifacts(limit=200)])
    assert "10004" in stored and FNR not in stored


async def test_a_moved_end_date_supersedes_the_run_and_a_withdrawn_one_cancels_it(deployed: Fakes) -> None:
    hub = deployed
    first_end, moved_end = TODAY + timedelta(days=20), TODAY + timedelta(days=30)
    _staff(hub, end_date=first_end)
    await employment_changes(employee_id="10004")  # first sight with an end date: scheduled
    _change(hub, end_date=moved_end)
    await employment_changes(employee_id="10004")
    old = hub.ledger.get_item("leaver", f"10004:{first_end.isoformat()}:1")
    new = hub.ledger.get_item("leaver", f"10004:{moved_end.isoformat()}:2")
    assert old is not None and old.state == ItemState.DONE and old.data["outcome"].startswith("superseded")
    assert (await _run_state(old.flow_run_id or ""))[0] == "CANCELLED"
    assert new is not None and (await _run_state(new.flow_run_id or ""))[0] == "SCHEDULED"

    _change(hub, end_date=None)  # withdrawn
    await employment_changes(employee_id="10004")
    assert (await _run_state(new.flow_run_id or ""))[0] == "CANCELLED"
    # had the run started anyway, it would stop cleanly: HR no longer ends the employment then
    state = await leaver(leaver_key=f"10004:{moved_end.isoformat()}:2", return_state=True)
    assert state.is_completed()
    _change(hub, end_date=first_end)  # set again to the first day: a new generation, a new run
    await employment_changes(employee_id="10004")
    again = hub.ledger.get_item("leaver", f"10004:{first_end.isoformat()}:3")
    assert again is not None and (await _run_state(again.flow_run_id or ""))[0] == "SCHEDULED"
    assert (hub.ticketing.tickets, hub.archive.case_files, hub.mail.sent) == ({}, {}, [])


async def test_a_move_informs_both_managers_once_and_a_campus_move_moves_the_laptop(deployed: Fakes) -> None:
    hub = deployed
    _staff(hub)
    laptop = hub.ticketing.stock("Laptops", "LT-0009", LAPTOP)
    hub.ticketing.hand_over(laptop.id, "haklov@oslomet.no")
    await employment_changes(employee_id="10004")
    _change(hub, org_unit_id="U200")  # to Kjeller
    routed_on = datetime.now(OSLO).date()  # the move takes effect the day it is routed (Oslo)
    await employment_changes(employee_id="10004")
    await employment_changes(employee_id="10004")  # announced twice
    (item,) = hub.ledger.items(service="mover")
    key, _, day = item.source_key.rpartition(":")
    assert key == "10004:U100>U200:20002>20003:P1>P1"
    assert day in (routed_on.isoformat(), (routed_on + timedelta(days=1)).isoformat())  # midnight in between

    assert (await mover(mover_key=item.source_key)).startswith("change recorded; equipment ticket")
    await mover(mover_key=item.source_key)  # again: nothing new
    assert sorted(m.to[0] for m in hub.mail.sent) == ["bjorn.sjef@oslomet.no", "mona.leder@oslomet.no"]
    (case,) = hub.archive.case_files.values()
    assert [e.new.public_title for e in case.entries] == ["Endring i arbeidsforhold – *****"]
    (ticket,) = hub.ticketing.tickets.values()
    assert ticket.subject.startswith("Move equipment to KJELLER") and "LT-0009" in hub.ticketing.bodies[ticket.id]

    _change(hub, org_unit_id="U100")  # reversed: its own change, not a duplicate
    await employment_changes(employee_id="10004")
    assert len(hub.ledger.items(service="mover")) == 2


async def test_reconciliation_lists_laptops_held_by_people_who_have_left(tmp_path: Path) -> None:
    from hub.ledger import Ledger
    from hub.reconcile import reconcile
    from tests.flows.fakes import MemoryHr, MemoryTicketing

    hr, ticketing = MemoryHr(), MemoryTicketing()
    hr.add(Employee(id="10008", first_name="Per", last_name="Ås", email="perasx@oslomet.no",
                    start_date=date(2010, 1, 1), end_date=TODAY - timedelta(days=20)),
           Employee(id="10009", first_name="Nora", last_name="Strøm", email="norstr@oslomet.no",
                    start_date=date(2010, 1, 1), end_date=TODAY + timedelta(days=3)))  # not left yet
    kept = ticketing.stock("Laptops", "LT-0100", LAPTOP)
    ticketing.hand_over(kept.id, "perasx@oslomet.no")
    ticketing.hand_over(ticketing.stock("Laptops", "LT-0101", LAPTOP).id, "norstr@oslomet.no")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")

    report = await reconcile(ledger, SimpleNamespace(hr=hr, ticketing=ticketing))  # type: ignore[arg-type]

    assert report.drift and report.summary()["left_holding"] == 1
    (finding,) = report.findings
    assert (finding.kind, finding.item, finding.what) == ("left_holding", "10008", "ticketing asset LT-0100 (#1)")
    assert "laptops held by leavers" in report.markdown(datetime.now(OSLO)) and "Ås" not in finding.detail


async def test_the_daily_catch_up_hands_a_lost_end_date_to_the_router_once(deployed: Fakes) -> None:
    """The event setting the end date was lost: the catch-up finds the sluttdato within 14 days
    that the snapshot does not hold, and the router schedules the leaver. Seen, it is not
    handed over again."""
    from flows.onboarding_catchup import onboarding_catchup
    from hub.ledger import EventState

    hub = deployed
    for flow, name in ((onboarding, "onboarding"), (employment_changes, "employment-changes")):
        await (await flow.ato_deployment(name=name)).apply()
    end = TODAY + timedelta(days=6)
    _staff(hub, end_date=end)

    counts = await onboarding_catchup()
    assert (counts["leaving_soon"], counts["leavers_dispatched"]) == (1, 1)
    (event,) = [e for e in hub.ledger.events() if e.source == "catchup"]
    assert event.state == EventState.DISPATCHED and event.subject_id == "10004"
    await employment_changes(employee_id="10004", event_id=event.id)  # the run the catch-up started
    (item,) = hub.ledger.items(service="leaver")
    assert item.source_key == f"10004:{end.isoformat()}:1"

    again = await onboarding_catchup()
    assert (again["leaving_soon"], again["leavers_dispatched"]) == (1, 0)
    assert hub.ledger.get_item("onboarding", "10004") is None


async def test_a_reversal_whose_event_was_lost_is_found_by_the_daily_catch_up(deployed: Fakes) -> None:
    """A move (U100 → U200) is routed, its reversal's message never reaches the hub, and no
    router run sees the reversal. The next catch-up finds the unit differing from the snapshot
    and hands the person to the router: the reversal is a mover item of its own. Seen, it is
    not handed over again."""
    from flows.onboarding_catchup import onboarding_catchup
    from hub.ledger import EventState

    hub = deployed
    for flow, name in ((onboarding, "onboarding"), (employment_changes, "employment-changes")):
        await (await flow.ato_deployment(name=name)).apply()
    _staff(hub)
    await employment_changes(employee_id="10004")  # the hub's snapshot: U100
    _change(hub, org_unit_id="U200")
    await employment_changes(employee_id="10004")  # the move's event
    _change(hub, org_unit_id="U100")  # reversed; its event is lost: no run

    counts = await onboarding_catchup()
    assert counts["moves_dispatched"] == 1
    (event,) = [e for e in hub.ledger.events() if e.source == "catchup"]
    assert (event.kind, event.subject_id, event.state) == ("dfo:stillinger", "10004", EventState.DISPATCHED)
    await employment_changes(employee_id="10004", event_id=event.id)  # the run the catch-up started
    keys = sorted(i.source_key for i in hub.ledger.items(service="mover"))
    assert [k.split(":")[1] for k in keys] == ["U100>U200", "U200>U100"]

    assert (await onboarding_catchup())["moves_dispatched"] == 0


async def test_a_reversal_routed_while_the_move_is_still_being_routed_waits_for_it(deployed: Fakes) -> None:
    """The move's run has read HR (U200) but not yet stored its snapshot when the reversal
    (back to U100) comes in. Compared with the snapshot from before the move, the reversal
    would look like no change at all, and the move's snapshot stored afterwards would hide it
    until the next morning. One person's changes are routed one after the other (a lease in the
    ledger), so the reversal compares with the move's snapshot and is a mover of its own."""
    hub = deployed
    _staff(hub)
    await employment_changes(employee_id="10004")  # the hub's snapshot: U100
    _change(hub, org_unit_id="U200")
    read_the_move, go_on = asyncio.Event(), asyncio.Event()
    plain_read = hub.hr.get_employee

    async def slow_first_read(employee_id: str) -> Employee:
        employee = await plain_read(employee_id)
        if not read_the_move.is_set():
            read_the_move.set()
            await go_on.wait()  # the move's run holds what it read (U200) for a while
        return employee

    hub.hr.get_employee = slow_first_read  # type: ignore[method-assign]
    move = asyncio.create_task(employment_changes(employee_id="10004"))
    await asyncio.wait_for(read_the_move.wait(), 60)
    _change(hub, org_unit_id="U100")  # reversed while the move is being routed
    reversal = asyncio.create_task(employment_changes(employee_id="10004"))
    await asyncio.sleep(2.0)  # the reversal's run gets as far as it can
    go_on.set()
    await asyncio.wait_for(asyncio.gather(move, reversal), 120)

    keys = sorted(i.source_key for i in hub.ledger.items(service="mover"))
    assert [k.split(":")[1] for k in keys] == ["U100>U200", "U200>U100"]
    snapshot = load_snapshot(hub.ledger, "10004")
    assert snapshot is not None and snapshot.unit == "U100"  # what HR says now


# ---- the router's own work item: dead letters, replay, retries ------------------------------------

async def _routed_by_the_run(flow_run_id: str) -> State:
    """What the runner would do with a run the hub started again: run it, with its parameters."""
    async with get_client() as client:
        run = await client.read_flow_run(uuid.UUID(flow_run_id))
    assert set(run.parameters) == {"event_id"}  # the event names the employee
    return await employment_changes(**run.parameters, return_state=True)


@pytest.fixture
async def router(deployed: Fakes) -> Fakes:
    await (await employment_changes.ato_deployment(name="employment-changes")).apply()
    _staff(deployed)
    await employment_changes(employee_id="10004")  # the hub's snapshot: U100
    return deployed


async def test_a_person_hr_no_longer_answers_for_is_a_dead_letter_and_the_replay_routes_the_move_once(
        router: Fakes) -> None:
    """HR moves a person the hub follows, but its API answers 404 for them: the change would be
    lost without a word. The router's item fails with a reason a person can act on; once HR
    answers again, the replay starts the mover once."""
    from hub.replay import replay_items

    hub = router
    moved = hub.hr.employees.pop("10004").model_copy(update={"org_unit_id": "U200"})
    state = await employment_changes(employee_id="10004", return_state=True)

    assert state.is_failed()
    (item,) = hub.ledger.items(service="employment", states=[ItemState.FAILED])
    assert item.error_kind == "not_found" and item.flow_run_id
    assert "HR no longer knows employee 10004, whose employment the hub follows" in (item.last_error or "")
    assert "replay this item" in (item.last_error or "") and item.title.startswith("Employment change: DFØ employee 10004")
    assert [s.name for s in item.steps if s.state == "failed"] == ["read_employment"]
    assert hub.ledger.items(service="mover") == []

    hub.hr.add(moved)  # HR answers again
    (replayed,) = await replay_items(hub.ledger, [item.id])
    assert replayed.outcome == "replayed" and replayed.flow_run_id
    routed = await _routed_by_the_run(replayed.flow_run_id)
    assert routed.message == "unit, manager or position changed; mover started"
    again = await _routed_by_the_run(replayed.flow_run_id)  # the replay's run started twice
    assert again.message == routed.message

    (move,) = hub.ledger.items(service="mover")
    assert move.source_key.startswith("10004:U100>U200:")
    done = hub.ledger.item(item.id)
    assert done.state == ItemState.DONE and done.data["outcome"] == routed.message
    assert (await employment_changes(employee_id="10004", return_state=True)).message == \
        "nothing the hub acts on changed"  # the snapshot was saved once the move was routed


async def test_hr_down_longer_than_the_retries_is_a_transient_dead_letter_the_hub_starts_again(
        router: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """DFØ answers 503: the read is retried within the run, then the item is a transient dead
    letter, which the automatic retry of redrive-stuck starts again; HR is back by then."""
    from dataclasses import replace

    from hub.recovery import RecoveryConfig
    from hub.replay import retry_transient

    hub = router
    _change(hub, org_unit_id="U200")
    asked: list[str] = []

    async def unavailable(employee_id: str) -> None:
        asked.append(employee_id)
        raise TransientError("DFØ answered 503 Service Unavailable", system="hr", status=503)

    monkeypatch.setattr(hub.hr, "get_employee", unavailable)
    monkeypatch.setattr(flows.employment, "read_employment", read_employment.with_options(retry_delay_seconds=0))
    assert (await employment_changes(employee_id="10004", return_state=True)).is_failed()
    assert asked == ["10004"] * 4  # tried, and retried three times
    (item,) = hub.ledger.dead_letters(kind="transient")
    assert item.service == "employment" and "503" in (item.last_error or "")

    monkeypatch.undo()  # DFØ is back
    (retried,) = await retry_transient(hub.ledger, replace(RecoveryConfig.from_env(), retry_after=(timedelta(0),)))
    assert retried.outcome == "retried" and retried.flow_run_id
    assert (await _routed_by_the_run(retried.flow_run_id)).message == \
        "unit, manager or position changed; mover started"
    assert len(hub.ledger.items(service="mover")) == 1
    assert hub.ledger.item(item.id).state == ItemState.DONE


async def test_a_burst_s_changes_go_to_one_run_each_its_own_item_and_a_second_delivery_writes_nothing(
        router: Fakes) -> None:
    """The intake hands a burst's changes to one router run (``burst``). Each is still its
    own work item: the move is routed, a newcomer's first sight recorded, and the person HR no
    longer answers for fails alone, with its reason, while the others go on. The same events
    reaching the router again, each alone (a group run whose answer was lost, handed over again
    by the sweeper), write nothing new."""
    hub = router
    hub.hr.add(hub.hr.employees["10004"].model_copy(update={"id": "10007", "username": "unnpet",
                                                            "email": "unnpet@oslomet.no"}))
    await employment_changes(employee_id="10007")  # followed by the hub
    hub.hr.employees.pop("10007")  # and then HR answers 404 for them
    _change(hub, org_unit_id="U200")
    hub.hr.add(Employee(id="10005", first_name="Nina", last_name="Ny", email="nina.ny@oslomet.no",
                        org_unit_id="U300", start_date=TODAY + timedelta(days=10)))
    events, burst = hub.hr_burst(["10004", "10005", "10007"], "burst")

    state = await employment_changes(burst=burst, return_state=True)

    assert state.is_failed() and (state.message or "").startswith("1 of 3 changes not routed")
    items = {i.source_key: i for i in hub.ledger.items(service="employment")}
    moved, newcomer, gone = (items[e.id] for e in events)
    assert moved.state == ItemState.DONE and moved.data["outcome"] == "unit, manager or position changed; mover started"
    assert newcomer.state == ItemState.DONE and newcomer.data["outcome"] == "first sight: snapshot recorded"
    assert gone.state == ItemState.FAILED and gone.error_kind == "not_found"
    assert "HR no longer knows employee 10007" in (gone.last_error or "")
    assert len(hub.ledger.items(service="mover")) == 1
    assert [s.name for s in hub.ledger.item(newcomer.id).steps][:1] == ["read_employment"]  # recorded in the ledger
    async with get_client() as client:  # and not as task runs: one per change was 200 for 200 hires
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    assert task_runs == []

    for event, item in ((events[0], moved), (events[1], newcomer)):
        again = await employment_changes(event_id=event.id, return_state=True)
        assert again.is_completed() and again.message == item.data["outcome"]
    assert len(hub.ledger.items(service="mover")) == 1  # the move started once
    assert [i.attempts for i in hub.ledger.items(service="employment") if i.id in (moved.id, newcomer.id)] == \
        [moved.attempts, newcomer.attempts]  # found done, not worked again
