"""Søknad om fritak (application for exemption) from a Nettskjema submission: read, validate,
and describe it to the case handler.

A student applies to be exempted from courses on the grounds of earlier education. The
submission carries a fødselsnummer, which is validated here and then kept in a SecretStr:
it goes nowhere but into this object.

Everything else the student typed is hostile until shown otherwise: the e-mail address is
checked with ``email-validator``, each attachment must *be* a PDF (its bytes, not its name
or declared type: :func:`pdf_problem`), and :func:`decision_description` — the markdown the
case handler sees in the Prefect UI — masks personal data and escapes every piece of user
text (:mod:`hub.text`), so a name like ``<img src=x>`` is shown, not rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.ports.forms import AttachmentRef, Submission
from hub.privacy import is_valid_fnr, mask
from hub.text import for_prefect, markdown_link, normalise_email

__all__ = ["COURSES", "AttachmentRules", "FritakApplication", "Decision", "read_application",
           "email_address", "pdf_problem", "describe_content", "decision_description"]

OSLO = ZoneInfo("Europe/Oslo")

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
# A PDF starts with "%PDF-1.x" or "%PDF-2.x" (readers accept it within the first 1024 bytes)
# and ends with "%%EOF" (readers accept trailing bytes after it, so look near the end).
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_PDF_WINDOW = 1024


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


def email_address(sub: Submission) -> tuple[str | None, str | None]:
    """(where the applicant can be reached, what is wrong with the address they gave).

    The address is the one typed in the form, else the one Nettskjema knows of the
    respondent, normalised. A typed address that is not valid is a problem even when
    Nettskjema knows a good one (which is then where the applicant is told about it). The
    problem quotes the address, with any fødselsnummer in it masked.
    """
    typed = _text(sub, "email")
    known = (sub.respondent_email or "").strip()
    reach: str | None = None
    problem: str | None = None
    for candidate in (typed, known):
        if not candidate or reach is not None:
            continue
        try:
            reach = normalise_email(candidate)
        except ValueError as exc:
            problem = problem or f"the e-mail address '{mask(candidate)}' is not valid: {exc}"
    if not typed and not known:
        problem = "the e-mail address is missing"
    return reach, problem


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive (a Word or other Office document is one)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc/.xls)"), (b"{\\rtf", "an RTF document"),
    (b"\x7fELF", "a program"), (b"MZ", "a Windows program"),
)


def describe_content(data: bytes) -> str:
    """What a file is by its first bytes, in a few words (for a message to a person)."""
    if not data:
        return "empty"
    head = data[:_PDF_WINDOW]
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if stripped.startswith((b"<?xml", b"<svg")):
        return "an XML or SVG document"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the window's end
            return "an unknown binary file"
    return "plain text"


def pdf_problem(filename: str, data: bytes) -> str | None:
    """None if ``data`` is a PDF by its content (``%PDF-`` header, ``%%EOF`` trailer); else
    what is wrong, naming the attachment and what it is instead."""
    name = mask(filename)
    if not _PDF_HEADER.search(data[:_PDF_WINDOW]):
        return f"attachment '{name}' is not a PDF but {describe_content(data)}; only PDF is accepted"
    if b"%%EOF" not in data[-_PDF_WINDOW:]:
        return (f"attachment '{name}' is not a complete PDF (it has no end marker %%EOF; "
                "was the upload cut off?)")
    return None


def read_application(sub: Submission, *, courses: Mapping[str, str] = COURSES,
                     rules: AttachmentRules = AttachmentRules(),
                     contents: Mapping[int, bytes] | None = None) -> tuple[FritakApplication | None, list[str]]:
    """The application, or None and every problem found (in words an applicant understands).

    ``contents`` (attachment id → bytes) are the attachments' files: each must be a PDF by
    its content. Problems never quote the fødselsnummer.
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
    email, email_problem = email_address(sub)
    if email_problem:
        problems.append(email_problem)
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
        filename = mask(att.filename)
        if att.media_type not in rules.media_types:
            problems.append(f"attachment '{filename}' is {mask(att.media_type)}; only PDF is accepted")
        elif att.size > rules.max_bytes:
            problems.append(f"attachment '{filename}' is larger than {rules.max_bytes // (1024 * 1024)} MB")
        elif contents is not None and att.attachment_id in contents:
            problem = pdf_problem(att.filename, contents[att.attachment_id])
            if problem:
                problems.append(problem)
    if problems or email is None:
        return None, problems
    return FritakApplication(
        submission_id=sub.meta.submission_id, submitted=sub.meta.created, name=name,
        student_number=student_number, national_id=SecretStr(national_id), email=email, courses=codes,
        grounds=grounds, earlier_institution=_text(sub, "earlier_institution") or None,
        attachments=attachments), []


def decision_description(app: FritakApplication, *, case_ref: str, document_urls: Sequence[str]) -> str:
    """The markdown a case handler reads above the decision form in the Prefect UI.

    ``document_urls`` are the archived documents: the submission, then each attachment.
    Every piece of the applicant's text is masked for personal data and escaped
    (:func:`hub.text.for_prefect`): it is shown as typed, and never becomes HTML, a link or
    an image. Link labels are the hub's own words; a file name stands beside its link (the
    Prefect UI shows a link's label verbatim, escapes included).
    """
    names = ["", *[f": {for_prefect(a.filename, inline=True)}" for a in app.attachments]]
    labels = ["Søknad (hoveddokument)", *[f"Vedlegg {i}" for i in range(1, len(app.attachments) + 1)]]
    if len(labels) != len(document_urls):
        names, labels = [""] * len(document_urls), [f"Dokument {i}" for i in range(1, len(document_urls) + 1)]
    docs = "\n".join(f"- {markdown_link(label, url)}{name}"
                     for label, name, url in zip(labels, names, document_urls, strict=True))
    courses = "\n".join(f"- **{for_prefect(c, inline=True)}** {for_prefect(COURSES.get(c, ''), inline=True)}"
                        for c in app.courses)
    earlier = for_prefect(app.earlier_institution, inline=True) if app.earlier_institution else "(not given)"
    return (
        f"## Søknad om fritak — {for_prefect(app.name, inline=True)} "
        f"({for_prefect(app.student_number, inline=True)})\n\n"
        f"Received {app.submitted.astimezone(OSLO):%d.%m.%Y %H:%M}. Case {for_prefect(case_ref, inline=True)}.\n\n"
        f"### Courses\n{courses}\n\n### Grounds\n{for_prefect(app.grounds) or '(none)'}\n\n"
        f"Earlier education: {earlier}\n\n"
        f"### Archived documents\n{docs or '- (none)'}\n\n"
        "Choose **approve** or **reject** for every course, or **partial** and set each course's "
        "verdict. The justification is quoted in the decision letter."
    )
