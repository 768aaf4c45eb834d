"""The case handler's decision on a fritak application: the form they are shown, and what
their answer means (every outcome, and an answer that leaves a course undecided)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from hub.privacy import contains_fnr
from hub.settings import OSLO
from mappings.fritak_decision import CourseVerdict, DecisionInput, decision_form_data, read_decision
from tests.mappings.test_fritak import FNR, application

DECIDED = datetime(2026, 11, 27, 10, 15, tzinfo=OSLO)
DOCS = ["http://127.0.0.1:9/dok/1", "http://127.0.0.1:9/dok/2"]


def test_the_form_starts_with_every_course_approved_and_no_justification(golden) -> None:
    app = application()  # applies for DATA1100 and MATA1000
    data = decision_form_data(app, case_ref="2026/42", document_urls=DOCS)
    golden("fritak_decision_form", data)
    assert data["outcome"] == "approve" and data["justification"] == "" and data["decided_by"] == "Saksbehandler"
    assert data["courses"] == [CourseVerdict(course="DATA1100", verdict="approved"),
                               CourseVerdict(course="MATA1000", verdict="approved")]
    assert FNR not in str(data) and not contains_fnr(str(data))


def _given(outcome: str, courses: dict[str, str] | None = None, **more: Any) -> DecisionInput:
    return DecisionInput(outcome=outcome, justification="Tilsvarende emner er bestått ved HiNN.",
                         courses=[{"course": c, "verdict": v} for c, v in (courses or {}).items()], **more)


@pytest.mark.parametrize(("given", "verdicts", "outcome"), [
    pytest.param(_given("approve"), {"DATA1100": "approved", "MATA1000": "approved"}, "approve",
                 id="approve applies to every course"),
    pytest.param(_given("reject"), {"DATA1100": "rejected", "MATA1000": "rejected"}, "reject",
                 id="reject applies to every course"),
    pytest.param(_given("approve", {"DATA1100": "rejected"}), {"DATA1100": "approved", "MATA1000": "approved"},
                 "approve", id="approve ignores the per-course list"),
    pytest.param(_given("partial", {"DATA1100": "approved", "MATA1000": "rejected"}),
                 {"DATA1100": "approved", "MATA1000": "rejected"}, "partial", id="partial per course"),
    pytest.param(_given("partial", {"MATA1000": "approved", "DATA1100": "approved"}),
                 {"DATA1100": "approved", "MATA1000": "approved"}, "approve",
                 id="partial approving all is an approval, in the application's order"),
    pytest.param(_given("partial", {"DATA1100": "rejected", "MATA1000": "approved", "ITPE3100": "approved"}),
                 {"DATA1100": "rejected", "MATA1000": "approved"}, "partial",
                 id="a verdict for a course not applied for is ignored"),
])
def test_an_answer_becomes_a_verdict_per_course(given: DecisionInput, verdicts: dict[str, str],
                                                outcome: str) -> None:
    decision, problems = read_decision(application(), given, decided_at=DECIDED)
    assert problems == [] and decision is not None
    assert list(decision.verdicts.items()) == list(verdicts.items())
    assert decision.outcome == outcome
    assert decision.justification == "Tilsvarende emner er bestått ved HiNN."
    assert decision.decided_by == "Saksbehandler" and decision.decided_at == DECIDED


def test_the_signature_is_the_case_handlers_name() -> None:
    decision, _ = read_decision(application(), _given("approve", decided_by="Ola Saksbehandler"), decided_at=DECIDED)
    assert decision is not None and decision.decided_by == "Ola Saksbehandler"


@pytest.mark.parametrize(("courses", "problem"), [
    ({"DATA1100": "approved"}, "the decision gives no verdict for MATA1000"),
    ({}, "the decision gives no verdict for DATA1100, MATA1000"),
    ({"ITPE3100": "approved"}, "the decision gives no verdict for DATA1100, MATA1000"),
])
def test_a_partial_answer_must_decide_every_course(courses: dict[str, str], problem: str) -> None:
    assert read_decision(application(), _given("partial", courses), decided_at=DECIDED) == (None, [problem])


@pytest.mark.parametrize("fields", [
    {"outcome": "approve", "courses": [], "justification": "ok"},  # too short to quote in a letter
    {"outcome": "maybe", "courses": [], "justification": "Tilsvarende emner."},
    {"outcome": "partial", "courses": [{"course": "DATA1100", "verdict": "perhaps"}],
     "justification": "Tilsvarende emner."},
    {"outcome": "approve", "courses": [], "justification": "Tilsvarende emner.", "signed": "x"},
])
def test_an_answer_the_form_does_not_allow_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DecisionInput(**fields)
