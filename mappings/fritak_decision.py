"""A case handler's decision on a søknad om fritak: the form they fill in, and what it means.

The form is shown in the Prefect UI when a fritak case suspends. :class:`DecisionInput` is
its content as a plain pydantic model; the Prefect ``RunInput`` the flow suspends with
(``flows.fritak_steps.FritakDecision``) derives from it, so this module stays free of
Prefect. :func:`decision_form_data` is what the form starts with (the description above it
and the initial answers), :func:`read_decision` turns the answer into a :class:`Decision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mappings.fritak import Decision, FritakApplication, decision_description

__all__ = ["CourseVerdict", "DecisionInput", "decision_form_data", "read_decision"]


class CourseVerdict(BaseModel):
    course: str = Field(description="Course code")
    verdict: Literal["approved", "rejected"] = Field("approved", description="Verdict for this course")


class DecisionInput(BaseModel):
    """The case handler's decision, as entered in the Prefect UI (Resume) or by resume_flow_run."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["approve", "reject", "partial"] = Field(
        description="approve = every course; reject = none; partial = per course below")
    courses: list[CourseVerdict] = Field(description="Verdict per course (used when outcome is partial)")
    justification: str = Field(min_length=5, description="Begrunnelse: quoted in the decision letter")
    decided_by: str = Field("Saksbehandler", description="Your name, as it will sign the letter")


def decision_form_data(app: FritakApplication, *, case_ref: str, document_urls: Sequence[str]) -> dict[str, Any]:
    """The form a case handler sees: what they need to decide, and nothing more.

    ``description`` is the markdown above the form (personal data masked, the applicant's
    text escaped: :func:`mappings.fritak.decision_description`); the other keys are the
    form's initial answers, which hold course codes only: approve every course, no
    justification yet.
    """
    return {
        "description": decision_description(app, case_ref=case_ref, document_urls=document_urls),
        "outcome": "approve",
        "courses": [CourseVerdict(course=c, verdict="approved") for c in app.courses],
        "justification": "",
        "decided_by": "Saksbehandler",
    }


def read_decision(app: FritakApplication, given: DecisionInput,
                  *, decided_at: datetime) -> tuple[Decision | None, list[str]]:
    """The decision, or None and what is wrong with the answer.

    ``approve`` and ``reject`` apply to every course applied for; ``partial`` takes each
    course's verdict from the list, which must give one for every course (verdicts for
    courses not applied for are ignored).
    """
    if given.outcome == "partial":
        listed = {v.course: v.verdict for v in given.courses}
        missing = [c for c in app.courses if c not in listed]
        if missing:
            return None, [f"the decision gives no verdict for {', '.join(missing)}"]
        verdicts = {c: listed[c] for c in app.courses}
    else:
        verdicts = {c: ("approved" if given.outcome == "approve" else "rejected") for c in app.courses}
    return Decision(verdicts=verdicts, justification=given.justification, decided_by=given.decided_by,
                    decided_at=decided_at), []
