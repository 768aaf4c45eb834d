"""Søknad om fritak (application for exemption) from a Nettskjema submission: read, validate.

A student applies to be exempted from courses on the grounds of earlier education. The
submission carries a fødselsnummer, which is validated here and then kept in a SecretStr:
it goes nowhere but into this object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.ports.forms import AttachmentRef, Submission
from hub.privacy import is_valid_fnr

__all__ = ["COURSES", "AttachmentRules", "FritakApplication", "Decision", "read_application"]

# The courses one can apply to be exempted from, as offered in the form (from FS, the
# student system, in production).
COURSES: dict[str, str] = {
    "DATA1100": "Programmering 1",
    "DATA1200": "Webutvikling og inkluderende design",
    "DAPE1400": "Programmering",
    "MATA1000": "Matematikk for ingeniørfag",
    "ITPE3100": "Datakommunikasjon",
}
_COURSE_CODE = re.compile(r"^[A-Z]{4}\d{4}$")
_STUDENT_NUMBER = re.compile(r"^s\d{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class AttachmentRules:
    media_types: frozenset[str] = frozenset({"application/pdf"})
    max_bytes: int = 10 * 1024 * 1024
    max_count: int = 3


class FritakApplication(BaseModel):
    model_config = ConfigDict(frozen=True)

    submission_id: int
    submitted: datetime
    name: str
    student_number: str
    national_id: SecretStr
    email: str
    courses: tuple[str, ...]
    grounds: str
    earlier_institution: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()

    @property
    def course_list(self) -> str:
        return ", ".join(self.courses)


@dataclass(frozen=True)
class Decision:
    """A case handler's decision: a verdict per course and a justification."""

    verdicts: Mapping[str, str]  # course code → "approved" | "rejected"
    justification: str
    decided_by: str = "case handler"
    decided_at: datetime | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def outcome(self) -> str:
        values = set(self.verdicts.values())
        if values == {"approved"}:
            return "approve"
        if values == {"rejected"}:
            return "reject"
        return "partial"

    @property
    def approved(self) -> list[str]:
        return [c for c, v in self.verdicts.items() if v == "approved"]

    @property
    def rejected(self) -> list[str]:
        return [c for c, v in self.verdicts.items() if v == "rejected"]


def _text(sub: Submission, key: str) -> str:
    answer = sub.answer(key)
    return (answer.text or "").strip() if answer else ""


def read_application(sub: Submission, *, courses: Mapping[str, str] = COURSES,
                     rules: AttachmentRules = AttachmentRules()) -> tuple[FritakApplication | None, list[str]]:
    """The application, or None and every problem found (in words an applicant understands).

    Problems never quote the fødselsnummer.
    """
    problems: list[str] = []
    name = _text(sub, "name")
    if not name:
        problems.append("the name is missing")
    student_number = _text(sub, "student_number").lower()
    if not _STUDENT_NUMBER.match(student_number):
        problems.append("the student number must look like s123456")
    national_id = re.sub(r"\s", "", _text(sub, "fnr"))
    if not national_id:
        problems.append("the fødselsnummer or D-nummer is missing")
    elif not (national_id.isdigit() and len(national_id) == 11 and is_valid_fnr(national_id)):
        problems.append("the fødselsnummer or D-nummer is not valid (check the 11 digits)")
    email = _text(sub, "email") or (sub.respondent_email or "")
    if not _EMAIL.match(email):
        problems.append("the e-mail address is missing or not valid")
    chosen = sub.answer("courses")
    codes = tuple(chosen.options) if chosen else ()
    if not codes:
        problems.append("no course was chosen")
    unknown = [c for c in codes if c not in courses or not _COURSE_CODE.match(c)]
    if unknown:
        problems.append(f"unknown course code(s): {', '.join(unknown)}")
    grounds = _text(sub, "grounds")
    if not grounds:
        problems.append("the grounds for the application are missing")
    attachments = tuple(sub.attachments)
    if not attachments:
        problems.append("at least one attachment (diploma or course description, as PDF) is required")
    if len(attachments) > rules.max_count:
        problems.append(f"at most {rules.max_count} attachments are accepted")
    for att in attachments:
        if att.media_type not in rules.media_types:
            problems.append(f"attachment '{att.filename}' is {att.media_type}; only PDF is accepted")
        if att.size > rules.max_bytes:
            problems.append(f"attachment '{att.filename}' is larger than {rules.max_bytes // (1024 * 1024)} MB")
    if problems:
        return None, problems
    return FritakApplication(
        submission_id=sub.meta.submission_id, submitted=sub.meta.created, name=name,
        student_number=student_number, national_id=SecretStr(national_id), email=email, courses=codes,
        grounds=grounds, earlier_institution=_text(sub, "earlier_institution") or None,
        attachments=attachments), []
