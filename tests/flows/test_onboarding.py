"""Onboarding, through the real flow, with HR, archive, ticketing and mail in memory."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from pydantic import SecretStr

from flows.onboarding import onboarding
from flows.onboarding_catchup import onboarding_catchup
from hub.ledger import ItemState
from hub.ports.hr import Employee, OrgUnit, OtherId, Position
from hub.settings import OSLO, get_settings
from tests.flows.conftest import Fakes

FNR = "05499024837"  # synthetic D-nummer, valid check digits
LAPTOP_MODEL = "Lenovo ThinkPad T14 Gen 5"  # HUB_ONBOARDING__LAPTOP_MODEL's default


def _staff(hr_fakes: Fakes, *, hire: dict[str, object] | None = None) -> None:
    hr_fakes.hr.add(
        OrgUnit(id="U100", name="Institutt for informasjonsteknologi", manager_id="20002"),
        Position(id="P1", title="Universitetslektor", org_unit_id="U100"),
        Employee(id="20002", first_name="Mona", last_name="Leder", email="mona.leder@oslomet.no", org_unit_id="U100",
                 start_date=date(2015, 1, 1), is_manager=True),
        Employee(**{"id": "10001", "first_name": "Kari", "last_name": "Nordmann", "national_id": SecretStr(FNR),
                    "username": "karinor", "email": "kari.nordmann@oslomet.no", "position_id": "P1",
                    "org_unit_id": "U100", "start_date": date(2027, 1, 4), **(hire or {})}),  # type: ignore[arg-type]
    )


async def test_a_new_hire_gets_a_personnel_file_a_welcome_letter_tickets_a_laptop_and_her_manager_a_mail(
        hub: Fakes) -> None:
    _staff(hub)
    hub.ticketing.stock("Laptops", "LT-0001", "Dell Latitude 7450")
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)

    assert await onboarding(employee_id="10001") == "onboarded"

    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == "dfo:ansatt:10001"
    assert stored.case_file.title == "Personalmappe – Kari Nordmann"
    assert stored.case_file.public_title == "Personalmappe – *****"  # no name in the public title
    assert stored.new.series == "Personalarkiv"
    (letter,) = stored.entries
    assert letter.entry.external_id == "onboarding:10001:velkomstbrev"
    assert letter.entry.journal_type == "U"
    assert [c.email for c in letter.new.correspondents] == ["kari.nordmann@oslomet.no"]
    (pdf,) = letter.new.documents
    assert pdf.content.startswith(b"%PDF") and pdf.filename == "velkomstbrev-10001.pdf"

    tickets = {t.queue: t for t in hub.ticketing.tickets.values()}
    assert set(tickets) == {"User accounts", "Equipment"}
    assert all(t.due == date(2027, 1, 4) for t in tickets.values())
    assert all(FNR not in t.subject and FNR not in hub.ticketing.bodies[t.id] for t in tickets.values())

    (laptop,) = await hub.ticketing.find_assets("Laptops", held_by="kari.nordmann@oslomet.no")
    assert (laptop.name, laptop.model, laptop.status) == ("LT-0002", LAPTOP_MODEL, "allocated")
    assert hub.ticketing.comments[tickets["Equipment"].id] == [
        f"Allocated laptop LT-0002 ({LAPTOP_MODEL}), held by kari.nordmann@oslomet.no."]

    (mail,) = hub.mail.sent
    assert mail.to == ("mona.leder@oslomet.no",)
    assert "Kari Nordmann starts as Universitetslektor" in mail.body
    assert "allocated laptop LT-0002" in mail.body and stored.case_file.case_number in mail.body
    assert FNR not in mail.body

    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and item.state == ItemState.DONE
    refs = {r.name: r.ref for r in hub.ledger.item(item.id).refs}
    assert refs["case_file"] == stored.case_file.system_id and refs["laptop"] == laptop.id


async def test_running_twice_writes_nothing_new(hub: Fakes) -> None:
    _staff(hub)
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)
    hub.ticketing.stock("Laptops", "LT-0003", LAPTOP_MODEL)
    await onboarding(employee_id="10001")
    before = (len(hub.archive.journal_entries), dict(hub.ticketing.tickets), dict(hub.ticketing.assets),
              {k: list(v) for k, v in hub.ticketing.comments.items()}, list(hub.mail.sent))

    state = await onboarding(employee_id="10001", return_state=True)

    assert state.is_completed() and state.message == "already onboarded; nothing new written"
    assert len(hub.archive.case_files) == 1
    assert (len(hub.archive.journal_entries), hub.ticketing.tickets, hub.ticketing.assets,
            hub.ticketing.comments, hub.mail.sent) == before
    assert [a.name for a in await hub.ticketing.find_assets("Laptops", status="new")] == ["LT-0003"]


async def test_a_hire_whose_manager_has_no_email_waits_as_a_dead_letter_and_a_replay_onboards_once(
        hub: Fakes) -> None:
    """The manager has no e-mail yet: the item fails before anything is written. HR fixes it;
    the replayed run files and mails once."""
    _staff(hub)
    hub.hr.add(Employee(id="20002", first_name="Mona", last_name="Leder", org_unit_id="U100"))
    first = await onboarding(employee_id="10001", return_state=True)
    assert first.is_failed()
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "has no manager with an e-mail" in (item.last_error or "")

    hub.hr.add(Employee(id="20002", first_name="Mona", last_name="Leder", email="mona.leder@oslomet.no",
                        org_unit_id="U100"))
    assert hub.ledger.reset_for_replay(item.id)
    assert await onboarding(employee_id="10001") == "onboarded"

    assert len(hub.archive.case_files) == 1 and len(hub.archive.journal_entries) == 1
    assert len(hub.ticketing.tickets) == 2
    assert [m.to for m in hub.mail.sent] == [("mona.leder@oslomet.no",)]
    assert "asked IT to find a laptop (none was free)" in hub.mail.sent[0].body  # no stock: a manual step
    done = hub.ledger.get_item("onboarding", "10001")
    assert done is not None and done.state == ItemState.DONE


async def test_an_invalid_hr_record_is_a_dead_letter_and_nothing_is_written(hub: Fakes) -> None:
    _staff(hub, hire={"national_id": SecretStr("05499024838"), "start_date": None})  # bad check digits
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)

    state = await onboarding(employee_id="10001", return_state=True)

    assert state.is_failed()
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "no start date (startdato)" in (item.last_error or "")
    assert "the fødselsnummer fails its check digits" in (item.last_error or "")
    assert "05499024838" not in (item.last_error or "")
    assert hub.archive.case_files == {} and hub.ticketing.tickets == {} and hub.mail.sent == []
    assert [a.status for a in hub.ticketing.assets.values()] == ["new"]


async def test_an_employee_hr_does_not_know_is_a_dead_letter(hub: Fakes) -> None:
    state = await onboarding(employee_id="99999", return_state=True)

    assert state.is_failed()
    item = hub.ledger.get_item("onboarding", "99999")
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "not_found"
    assert hub.archive.case_files == {} and hub.mail.sent == []


async def test_a_laptop_another_allocator_is_claiming_is_passed_over(hub: Fakes) -> None:
    """Each laptop is claimed under a ledger lease of its own (hub.leases.asset_claims), not
    under one slot for every allocation: a laptop another process is claiming just now (its
    lease held) is passed over, and the hire gets the next free one."""
    _staff(hub)
    busy = hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)
    hub.ticketing.stock("Laptops", "LT-0003", LAPTOP_MODEL)
    assert hub.ledger.take_lease(f"asset:Laptops:{busy.id}", "a laptop order elsewhere", ttl=timedelta(minutes=1))

    assert await onboarding(employee_id="10001") == "onboarded"

    (laptop,) = await hub.ticketing.find_assets("Laptops", held_by="kari.nordmann@oslomet.no")
    assert laptop.name == "LT-0003" and hub.ticketing.guarded == [True]
    assert hub.ticketing.assets[busy.id].status == "new"


async def test_a_burst_s_hires_go_to_one_run_each_its_own_item_its_steps_no_task_runs(hub: Fakes) -> None:
    """The intake hands a burst's hires to one run (``burst``). Each is its own item: one HR
    does not know is a dead letter of its own and the others are onboarded. The steps are
    recorded in the ledger, not as task runs, and a second delivery writes nothing new."""
    _staff(hub)
    hub.hr.add(hub.hr.employees["10001"].model_copy(update={"id": "10003", "username": "olanor",
                                                            "email": "ola.nordmann@oslomet.no"}))
    for tag in ("LT-0002", "LT-0003"):
        hub.ticketing.stock("Laptops", tag, LAPTOP_MODEL)
    events, burst = hub.hr_burst(["10001", "99999", "10003"], "hired")

    state = await onboarding(burst=burst, return_state=True)

    assert state.is_failed() and (state.message or "").startswith("1 of 3 hires not onboarded")
    items = {i.source_key: i for i in hub.ledger.items(service="onboarding")}
    assert items["10001"].state == items["10003"].state == ItemState.DONE
    assert items["99999"].state == ItemState.FAILED and items["99999"].error_kind == "not_found"
    steps = [s.name for s in hub.ledger.item(items["10003"].id).steps]
    assert steps[:2] == ["fetch_employee", "validate"] and "email_manager" in steps
    async with get_client() as client:
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
        group_run = await client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert task_runs == [] and group_run.name == "onboarding-3-hires"
    assert sorted(h for a in hub.ticketing.assets.values() for h in a.held_by) == [
        "kari.nordmann@oslomet.no", "ola.nordmann@oslomet.no"]
    written = (len(hub.archive.journal_entries), len(hub.ticketing.tickets), len(hub.mail.sent))

    again = await onboarding(employee_id="10003", event_id=events[2].id, return_state=True)
    assert again.message == "already onboarded; nothing new written"
    assert (len(hub.archive.journal_entries), len(hub.ticketing.tickets), len(hub.mail.sent)) == written == (2, 4, 2)


async def test_a_new_hire_is_read_from_hr_once_and_a_replay_reads_it_again(hub: Fakes) -> None:
    """Telling a hire from another change reads HR's record of a new employee; the item's first
    step takes that record instead of reading it again (one read per new hire, as the bare
    client makes). An employee seen before is read by the step itself: a replay works on
    what HR says now."""
    _staff(hub)
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)

    assert await onboarding(employee_id="10001") == "onboarded"
    assert hub.hr.reads["10001"] == 1
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and [s.name for s in hub.ledger.item(item.id).steps][0] == "fetch_employee"

    hub.ledger.finish_item(item.id, ItemState.FAILED, error="forced replay in a test", error_kind="test")
    hub.hr.add(hub.hr.employees["10001"].model_copy(update={"email": "kari.n@oslomet.no"}))
    assert await onboarding(employee_id="10001") == "onboarded"
    assert hub.hr.reads["10001"] == 2  # the step's own read: HR's record as it is now


# ---- identities as DFØ really sends them ---------------------------------------------------------

PASSPORT = "YB3390172"
PASSPORT_ID = OtherId(kind="passport", number=SecretStr(PASSPORT), country="BR")


async def test_a_foreign_hire_with_a_placeholder_fnr_is_onboarded_once_on_the_passport(hub: Fakes) -> None:
    _staff(hub, hire={"national_id": SecretStr("12039100100"), "other_ids": (PASSPORT_ID,)})
    hub.ticketing.stock("Laptops", "LT-0002", LAPTOP_MODEL)

    assert await onboarding(employee_id="10001") == "onboarded"
    again = await onboarding(employee_id="10001", return_state=True)

    assert again.is_completed() and again.message == "already onboarded; nothing new written"
    assert len(hub.archive.case_files) == 1 and len(hub.archive.journal_entries) == 1
    assert len(hub.ticketing.tickets) == 2 and len(hub.mail.sent) == 1
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and item.state == ItemState.DONE
    assert item.data["identified_by"] == "passport"
    assert "another identifier (passport, BR)" in item.data["identity_note"]
    assert PASSPORT not in item.data["identity_note"]
    written = [t.subject + hub.ticketing.bodies[t.id] for t in hub.ticketing.tickets.values()]
    written += [m.subject + m.body for m in hub.mail.sent]
    written += [c.case_file.title + (c.case_file.public_title or "") for c in hub.archive.case_files.values()]
    assert all(PASSPORT not in text and "12039100100" not in text for text in written)


@pytest.mark.parametrize(("fnr", "other_ids", "reason"), [
    ("00000000000", (), "no Norwegian national identity number yet (a placeholder in fnr) and no other identifier"),
    ("12345678", (PASSPORT_ID,), "the fødselsnummer is malformed (not 11 digits)"),
])
async def test_a_hire_hr_cannot_identify_is_a_dead_letter_naming_the_field(
        hub: Fakes, fnr: str, other_ids: tuple[OtherId, ...], reason: str) -> None:
    _staff(hub, hire={"national_id": SecretStr(fnr), "other_ids": other_ids})

    state = await onboarding(employee_id="10001", return_state=True)

    assert state.is_failed()
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and item.error_kind == "invalid_input" and reason in (item.last_error or "")
    assert fnr not in (item.last_error or "") and PASSPORT not in (item.last_error or "")
    assert hub.archive.case_files == {} and hub.mail.sent == []


async def test_synthetic_identities_are_refused_where_the_setting_says_so(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    _staff(hub)  # FNR is a synthetic D-nummer (month + 40)
    monkeypatch.setenv("HUB_ONBOARDING__ACCEPT_SYNTHETIC_IDS", "false")
    get_settings.cache_clear()

    state = await onboarding(employee_id="10001", return_state=True)

    assert state.is_failed()
    item = hub.ledger.get_item("onboarding", "10001")
    assert item is not None and "synthetic test identity" in (item.last_error or "")


async def test_an_event_id_without_its_leading_zero_and_the_catch_up_give_one_onboarding(hub: Fakes) -> None:
    """DFØ lists the hire as 05001234; the event said 5001234. One item, one manager e-mail, and
    the daily catch-up finds the hire already onboarded instead of starting a second run."""
    _staff(hub, hire={"id": "05001234", "start_date": datetime.now(OSLO).date() + timedelta(days=5)})

    assert await onboarding(employee_id="5001234") == "onboarded"
    again = await onboarding(employee_id="05001234", return_state=True)
    counts = await onboarding_catchup()

    assert again.message == "already onboarded; nothing new written"
    assert counts == {"starting_soon": 1, "already_done": 1, "dispatched": 0, "leaving_soon": 0,
                      "leavers_dispatched": 0, "moves_dispatched": 0}
    assert [i.source_key for i in hub.ledger.items(limit=None) if i.service == "onboarding"] == ["5001234"]
    assert len(hub.mail.sent) == 1 and len(hub.archive.case_files) == 1
    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == "dfo:ansatt:5001234"
    assert {t.external_ref for t in hub.ticketing.tickets.values()} == {
        "onboarding:5001234:account", "onboarding:5001234:laptop"}


async def test_a_job_title_with_its_sap_code_never_reaches_the_letter_or_the_tickets(hub: Fakes) -> None:
    _staff(hub)
    hub.hr.add(Position(id="P1", title="1011 Førsteamanuensis", org_unit_id="U100"))

    assert await onboarding(employee_id="10001") == "onboarded"

    texts = [t.subject + hub.ticketing.bodies[t.id] for t in hub.ticketing.tickets.values()]
    texts += [m.body for m in hub.mail.sent]
    assert all("1011" not in text for text in texts)
    assert "Kari Nordmann starts as Førsteamanuensis" in hub.mail.sent[0].body
