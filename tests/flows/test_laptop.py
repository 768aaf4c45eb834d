"""Laptop orders and their delivery, through the real ``laptop-orders`` and ``laptop-delivery``
flows, with forms, HR, ticketing, archive and mail in memory."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from flows.laptop_delivery import laptop_delivery
from flows.laptop_order import laptop_orders
from hub.ledger import ItemState
from hub.ports.forms import Answer, Submission, SubmissionMeta
from hub.ports.hr import Employee
from hub.settings import OSLO
from tests.flows.conftest import Fakes

FORM = 404101  # HUB_LAPTOP__FORM_ID's default
T14 = "Lenovo ThinkPad T14 Gen 5"  # what the form option thinkpad-t14 means (HUB_LAPTOP__MODELS)


def _order(hub: Fakes, submission_id: int, **answers: Any) -> None:
    values: dict[str, Any] = {"feide": "karinor@oslomet.no", "model": "thinkpad-t14", "location": "pilestredet",
                              "cost_centre": "12345", "justification": "Ny stilling"}
    values.update(answers)
    built = tuple(Answer(external_id=k, element_type="SELECT", options=(v,)) if k in ("model", "location")
                  else Answer(external_id=k, element_type="QUESTION", text=v) for k, v in values.items())
    created = datetime(2026, 11, 20, 9, 0, tzinfo=OSLO)
    hub.forms.submit(Submission(meta=SubmissionMeta(form_id=FORM, submission_id=submission_id, created=created),
                                answers=built))


def _employ(hub: Fakes) -> None:
    hub.hr.add(Employee(id="10001", first_name="Kari", last_name="Nordmann", username="karinor",
                        email="kari.nordmann@oslomet.no", org_unit_id="U100", start_date=date(2020, 8, 1)))


def _item(hub: Fakes, key: int) -> Any:
    item = hub.ledger.get_item("laptop", str(key))
    assert item is not None
    return item


async def test_an_order_gets_a_ticket_and_a_reserved_laptop_and_waits_for_delivery(hub: Fakes) -> None:
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0001", "Dell Latitude 7450")
    hub.ticketing.stock("Laptops", "LT-0002", T14)
    _order(hub, 5000001, feide="Kari.Nordmann@OsloMet.no")  # the e-mail address, in any case, as Feide id

    counts = await laptop_orders()

    assert counts == {"new": 1, "handled": 1, "failed": 0}
    (ticket,) = hub.ticketing.tickets.values()
    assert (ticket.queue, ticket.external_ref) == ("Equipment", "laptop-order:5000001:order")
    assert ticket.subject == f"Laptop order #5000001: {T14} for Kari Nordmann"
    (reserved,) = await hub.ticketing.find_assets("Laptops", external_ref="laptop-order:5000001:asset")
    assert (reserved.name, reserved.status, reserved.held_by) == ("LT-0002", "allocated", [])
    assert hub.ticketing.comments[ticket.id] == [
        f"Reserved LT-0002 ({T14}). Deliver it, set HeldBy to the employee, then resolve this ticket."]
    item = _item(hub, 5000001)
    assert item.state == ItemState.WAITING and item.data["stage"] == "awaiting_delivery"
    assert item.data["employee_id"] == "10001"
    assert hub.mail.sent == [] and hub.archive.case_files == {}

    await laptop_orders()  # the next poll: the order is not due again
    assert len(hub.ticketing.tickets) == 1 and len(hub.ticketing.comments[ticket.id]) == 1


async def test_an_order_whose_reading_fails_twice_on_a_garbled_answer_is_done_in_the_same_run(hub: Fakes) -> None:
    """A transient error retries the batch item within the run (as a step task retries), not
    only minutes later; its ticket and reservation are written once."""
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0002", T14)
    _order(hub, 5000009)
    hub.forms.garbled_reads[5000009] = 2

    counts = await laptop_orders()

    assert counts == {"new": 1, "handled": 1, "failed": 0}
    item = _item(hub, 5000009)
    assert item.state == ItemState.WAITING and item.data["stage"] == "awaiting_delivery"
    assert len(hub.ticketing.tickets) == 1 and hub.forms.garbled_reads[5000009] == 0


async def test_invalid_orders_are_turned_down_before_valid_ones_wait_for_ticketing(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """New orders are read first, side by side: the invalid ones are dead letters before the
    valid ones queue for the ticketing system (under hostile load they waited behind them)."""
    monkeypatch.setenv("HUB_BATCH_PARALLEL", "1")  # one worker: the order of the work shows
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0009", T14)
    hub.ticketing.slow_tickets = 0.5
    _order(hub, 5000021)  # valid, the earliest
    for submission_id in (5000022, 5000023, 5000024):
        _order(hub, submission_id, model="surface-laptop")  # not offered by IT

    counts = await laptop_orders()

    assert counts == {"new": 4, "handled": 4, "failed": 3}
    ticket_written = hub.ledger.step(_item(hub, 5000021).id, "ensure_ticket")
    assert ticket_written is not None and ticket_written.finished_at is not None
    for submission_id in (5000022, 5000023, 5000024):
        item = _item(hub, submission_id)
        assert item.state == ItemState.FAILED and "not offered by IT" in (item.last_error or "")
        assert item.updated_at < ticket_written.started_at, "an invalid order waited behind a valid one"
    assert len(hub.ticketing.tickets) == 1


async def test_without_stock_the_order_waits_and_is_reserved_when_a_laptop_arrives(hub: Fakes) -> None:
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0001", "Dell Latitude 7450")  # not the model ordered
    _order(hub, 5000002)

    await laptop_orders()

    (ticket,) = hub.ticketing.tickets.values()
    assert hub.ticketing.comments[ticket.id] == [
        f"No free {T14} in the Laptops catalog now. The hub reserves one as soon as one is free."]
    item = _item(hub, 5000002)
    assert item.state == ItemState.WAITING and item.data["stage"] == "awaiting_asset"
    assert [a.status for a in hub.ticketing.assets.values()] == ["new"]

    await laptop_orders()  # still none: no second ticket, no second note
    assert len(hub.ticketing.tickets) == 1 and len(hub.ticketing.comments[ticket.id]) == 1

    hub.ticketing.stock("Laptops", "LT-0009", T14)
    await laptop_orders()

    assert len(hub.ticketing.tickets) == 1  # the same ticket, found by its external reference
    (reserved,) = await hub.ticketing.find_assets("Laptops", external_ref="laptop-order:5000002:asset")
    assert reserved.name == "LT-0009"
    assert hub.ticketing.comments[ticket.id][-1].startswith("Reserved LT-0009")
    assert _item(hub, 5000002).data["stage"] == "awaiting_delivery"


async def test_orders_run_side_by_side_but_the_last_laptop_goes_to_the_earliest_order(hub: Fakes) -> None:
    """The earliest order is the slowest to read; the batch goes on with the others meanwhile,
    but the one laptop in stock is still reserved for the earliest order."""
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0009", T14)
    for submission_id in (5000011, 5000012, 5000013):
        _order(hub, submission_id)
    hub.forms.slow.update({5000011: 2.0, 5000012: 1.0, 5000013: 1.0})  # the earliest order is the slowest

    await laptop_orders()

    assert hub.forms.most_read_at_once > 1, "the orders were read one after the other"
    (reserved,) = await hub.ticketing.find_assets("Laptops", external_ref="laptop-order:5000011:asset")
    assert reserved.name == "LT-0009"
    assert [_item(hub, k).data.get("stage") for k in (5000012, 5000013)] == ["awaiting_asset"] * 2


async def test_an_order_from_someone_hr_does_not_know_is_a_dead_letter_without_a_ticket(hub: Fakes) -> None:
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0002", T14)
    _order(hub, 5000003, feide="ukjent@oslomet.no")
    _order(hub, 5000004, model="gaming-rig")

    counts = await laptop_orders()

    assert counts == {"new": 2, "handled": 2, "failed": 2}
    unknown, bad_model = _item(hub, 5000003), _item(hub, 5000004)
    assert unknown.state == ItemState.FAILED and unknown.error_kind == "invalid_input"
    assert "nobody with Feide id ukjent@oslomet.no is employed" in unknown.last_error
    assert bad_model.state == ItemState.FAILED and "the model 'gaming-rig' is not offered by IT" in bad_model.last_error
    assert hub.ticketing.tickets == {}
    assert [a.status for a in hub.ticketing.assets.values()] == ["new"]


async def test_a_delivered_laptop_is_receipted_in_the_personnel_file_and_the_requester_told(hub: Fakes) -> None:
    _employ(hub)
    hub.ticketing.stock("Laptops", "LT-0002", T14)
    _order(hub, 5000005)
    await laptop_orders()
    (ticket,) = hub.ticketing.tickets.values()

    assert await laptop_delivery() == {"checked": 1, "delivered": 0}  # IT has not handed it over yet
    assert hub.archive.case_files == {} and hub.mail.sent == []

    (asset,) = await hub.ticketing.find_assets("Laptops", external_ref="laptop-order:5000005:asset")
    hub.ticketing.assets[asset.id] = asset.model_copy(update={"held_by": ["karinor@oslomet.no"]})
    await hub.ticketing.set_status(ticket.id, "resolved")

    assert await laptop_delivery() == {"checked": 1, "delivered": 1}

    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == "dfo:ansatt:10001" and stored.new.series == "Personalarkiv"
    (receipt,) = stored.entries
    assert receipt.entry.external_id == "laptop-order:5000005:receipt"
    assert all(d.content.startswith(b"%PDF") for d in receipt.new.documents)
    (mail,) = hub.mail.sent
    assert mail.to == ("karinor@oslomet.no",) and mail.subject == "Laptop delivered: LT-0002"
    assert _item(hub, 5000005).state == ItemState.DONE

    assert await laptop_delivery() == {"checked": 0, "delivered": 0}
    assert len(hub.mail.sent) == 1 and len(hub.archive.journal_entries) == 1


@pytest.mark.parametrize("fnr", ["12345678", "5499024837", "00000000000"])  # 8 or 10 digits, DFØ's placeholder
async def test_an_order_for_an_employee_with_a_malformed_fnr_goes_through(hub: Fakes, fnr: str) -> None:
    """A malformed national id is HR's to correct; it never makes the orderer 'nobody'."""
    hub.hr.add(Employee(id="10001", first_name="Kari", last_name="Nordmann", username="karinor",
                        email="kari.nordmann@oslomet.no", org_unit_id="U100", start_date=date(2020, 8, 1),
                        national_id=SecretStr(fnr)))
    hub.ticketing.stock("Laptops", "LT-0002", T14)
    _order(hub, 5000009)

    assert await laptop_orders() == {"new": 1, "handled": 1, "failed": 0}
    (ticket,) = hub.ticketing.tickets.values()
    assert "Kari Nordmann" in ticket.subject and fnr not in hub.ticketing.bodies[ticket.id]
    assert _item(hub, 5000009).state == ItemState.WAITING
