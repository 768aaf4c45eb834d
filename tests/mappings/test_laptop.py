"""Laptop orders: reading one with hostile input (the requester's Feide address and free text),
the comments the hub writes on the order's RT ticket, and when a laptop counts as delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hub.ports.forms import Answer, Submission, SubmissionMeta
from hub.ports.ticketing import Asset, Ticket
from hub.settings import OSLO
from mappings.laptop import LaptopOrder, awaited_delivery, no_stock_comment, read_order, reserved_comment

MODELS = {"standard": "Dell Latitude 7450"}


def submission(**answers: Any) -> Submission:
    values: dict[str, Any] = {"feide": "kari@oslomet.no", "model": "standard", "location": "pilestredet",
                              "cost_centre": "12345", "justification": "Ny stilling"}
    values.update(answers)
    built = [Answer(external_id=k, element_type="SELECT", options=(v,)) if k in ("model", "location")
             else Answer(external_id=k, element_type="QUESTION", text=v) for k, v in values.items()]
    return Submission(meta=SubmissionMeta(form_id=404101, submission_id=5000001,
                                          created=datetime(2026, 11, 20, 9, 0, tzinfo=OSLO)), answers=tuple(built))


def test_a_valid_order_is_read() -> None:
    order, problems = read_order(submission(), models=MODELS)
    assert order is not None and order.feide == "kari@oslomet.no", problems


def test_a_feide_address_the_validator_refuses_is_a_problem() -> None:
    """The Feide pattern lets ``kari@oslomet..no`` through; email-validator does not."""
    order, problems = read_order(submission(feide="kari@oslomet..no"), models=MODELS)
    assert order is None
    assert problems == ["the Feide id 'kari@oslomet..no' is not a valid address: An email address cannot have "
                        "two periods in a row."]


def test_a_fodselsnummer_typed_as_feide_id_is_quoted_masked() -> None:
    _, problems = read_order(submission(feide="15076500565"), models=MODELS)
    assert problems == ["'***********' is not a Feide id like name@oslomet.no"]


# ---- what the hub writes on the order's ticket ------------------------------------------

def order() -> LaptopOrder:
    found, problems = read_order(submission(), models=MODELS)
    assert found is not None, problems
    return found


def asset(**changes: Any) -> Asset:
    fields: dict[str, Any] = dict(id="17", name="LAPTOP-0017", catalog="Laptops", status="allocated",
                                  model="Dell Latitude 7450 (2025)", external_ref="laptop-order:5000001:asset")
    fields.update(changes)
    return Asset(**fields)


def test_the_ticket_comments(golden) -> None:
    comments = {"no_stock": no_stock_comment(order(), catalog="Laptops"),
                "reserved": reserved_comment(order(), asset()),
                "reserved_asset_without_model": reserved_comment(order(), asset(model=None))}
    golden("laptop_ticket_comments", comments)
    assert comments["reserved"].startswith("Reserved LAPTOP-0017 (Dell Latitude 7450 (2025)).")
    assert comments["reserved_asset_without_model"].startswith("Reserved LAPTOP-0017 (Dell Latitude 7450).")


def ticket(status: str) -> Ticket:
    return Ticket(id="4711", external_ref="laptop-order:5000001:order", queue="Equipment",
                  subject="Laptop order #5000001", status=status)


@pytest.mark.parametrize(("status", "held_by", "awaited"), [
    pytest.param("resolved", ["kari@oslomet.no"], None, id="resolved and held by the requester"),
    pytest.param("resolved", ["it-lager", "Kari@OsloMet.no"], None, id="held by the requester among others, any case"),
    pytest.param("open", ["kari@oslomet.no"], "IT to deliver LAPTOP-0017: ticket open, HeldBy kari@oslomet.no",
                 id="handed over but the ticket still open"),
    pytest.param("resolved", [], "IT to deliver LAPTOP-0017: ticket resolved, HeldBy nobody",
                 id="resolved but held by nobody"),
    pytest.param("resolved", ["ola@oslomet.no", "it-lager"],
                 "IT to deliver LAPTOP-0017: ticket resolved, HeldBy ola@oslomet.no, it-lager",
                 id="resolved but held by someone else"),
    pytest.param("new", [], "IT to deliver LAPTOP-0017: ticket new, HeldBy nobody", id="not started"),
])
def test_a_laptop_is_delivered_when_the_ticket_is_resolved_and_the_requester_holds_it(
        status: str, held_by: list[str], awaited: str | None) -> None:
    assert awaited_delivery(ticket(status), asset(held_by=held_by), feide="kari@oslomet.no") == awaited
