"""Laptop order reading with hostile input: the requester's Feide address and free text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.ports.forms import Answer, Submission, SubmissionMeta
from hub.settings import OSLO
from mappings.laptop import read_order

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
