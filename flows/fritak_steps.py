"""Steps of the exemption (fritak) service, one Prefect task each, each recorded in the ledger.

Tasks keep no results (``persist_result=False``): the application holds a fødselsnummer,
and a suspended case resumes by re-running its flow, in which every step finds its own
records again (search by external id) instead of relying on stored results.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from pydantic import BaseModel, Field

from hub.errors import InvalidInput
from hub.flowkit import Run, transient_only
from hub.ports.archive import CaseFile, JournalEntry
from hub.settings import OSLO
from mappings.fritak import COURSES, AttachmentRules, Decision, FritakApplication, read_application
from mappings.fritak_mail import decision_mail, rejected_application_mail
from mappings.fritak_to_noark import application_entry, case_file, decision_entry, decision_letter_pdf

__all__ = ["CourseVerdict", "FritakDecision", "read_fritak_application", "archive_application",
           "decision_form", "to_decision", "journal_decision", "close_case", "email_decision"]

STEP = dict(retries=3, retry_delay_seconds=[1, 5, 20], retry_condition_fn=transient_only,
            cache_policy=NO_CACHE, persist_result=False, log_prints=False)


class CourseVerdict(BaseModel):
    course: str = Field(description="Course code")
    verdict: Literal["approved", "rejected"] = Field("approved", description="Verdict for this course")


class FritakDecision(RunInput):
    """The case handler's decision, entered in the Prefect UI (Resume) or by resume_flow_run."""

    outcome: Literal["approve", "reject", "partial"] = Field(
        description="approve = every course; reject = none; partial = per course below")
    courses: list[CourseVerdict] = Field(description="Verdict per course (used when outcome is partial)")
    justification: str = Field(min_length=5, description="Begrunnelse: quoted in the decision letter")
    decided_by: str = Field("Saksbehandler", description="Your name, as it will sign the letter")


@task(name="read application", **STEP)
async def read_fritak_application(run: Run, submission_id: int) -> FritakApplication:
    """Fetch the submission and validate it; an invalid one is answered by e-mail and dead-lettered."""
    async with run.step("read_application"):
        submission = await run.ports.forms.get_submission(submission_id)
        cfg = run.settings.fritak
        rules = AttachmentRules(max_bytes=cfg.max_attachment_mb * 1024 * 1024)
        application, problems = read_application(submission, courses=COURSES, rules=rules)
        if application is not None:
            return application
        email = (submission.answer("email").text if submission.answer("email") else None) \
            or submission.respondent_email
        if email and run.ref("invalid_notice") is None:
            message_id = await run.ports.mail.send(rejected_application_mail(submission_id, email.strip(), problems))
            run.remember("invalid_notice", system="mail", kind="message", ref=message_id)
        raise InvalidInput(f"fritak application {submission_id} is not valid: " + "; ".join(problems),
                           system="forms", hint="The applicant was told by e-mail; a corrected "
                           "application arrives as a new submission. Nothing was archived.")


@task(name="archive application", **STEP)
async def archive_application(run: Run, app: FritakApplication) -> tuple[CaseFile, JournalEntry]:
    """Case file + incoming journalpost: submission PDF (H) and each attachment (V), checksummed."""
    async with run.step("archive_application"):
        forms, archive = run.ports.forms, run.ports.archive
        case = await archive.ensure_case_file(case_file(app, series=run.settings.fritak.archive_series))
        run.remember("case_file", system="archive", kind="case_file", ref=case.system_id, url=case.url,
                     key=case.external_id)
        pdf = await forms.get_submission_pdf(app.submission_id)
        files = [(a.filename, await forms.get_attachment(a.attachment_id)) for a in app.attachments]
        entry = await archive.ensure_journal_entry(case, application_entry(app, pdf, files))
        run.remember("application", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                     key=entry.external_id)
        return case, entry


def decision_form(app: FritakApplication, case: CaseFile, entry: JournalEntry) -> type[FritakDecision]:
    """The form a case handler sees: what they need to decide, and nothing more (no fnr)."""
    names = ["Søknad (hoveddokument)", *[f"Vedlegg: {a.filename}" for a in app.attachments]]
    if len(names) != len(entry.document_ids):
        names = [f"document {i}" for i in range(1, len(entry.document_ids) + 1)]
    docs = "\n".join(f"- [{name}]({url})" for name, url in zip(names, entry.document_ids, strict=True))
    courses = "\n".join(f"- **{c}** {COURSES.get(c, '')}" for c in app.courses)
    description = (
        f"## Søknad om fritak — {app.name} ({app.student_number})\n\n"
        f"Received {app.submitted.astimezone(OSLO):%d.%m.%Y %H:%M}. Case {case.case_number or case.system_id}.\n\n"
        f"### Courses\n{courses}\n\n### Grounds\n{app.grounds}\n\n"
        f"Earlier education: {app.earlier_institution or '(not given)'}\n\n"
        f"### Archived documents\n{docs or '- (none)'}\n\n"
        "Choose **approve** or **reject** for every course, or **partial** and set each course's "
        "verdict. The justification is quoted in the decision letter."
    )
    return FritakDecision.with_initial_data(
        description=description, outcome="approve",
        courses=[CourseVerdict(course=c, verdict="approved") for c in app.courses],
        justification="", decided_by="Saksbehandler")


def to_decision(app: FritakApplication, given: FritakDecision) -> Decision:
    """Normalise the input: approve/reject apply to every course; partial uses the per-course list."""
    if given.outcome == "partial":
        listed = {v.course: v.verdict for v in given.courses}
        missing = [c for c in app.courses if c not in listed]
        if missing:
            raise InvalidInput(f"the decision gives no verdict for {', '.join(missing)}",
                               hint="Resume again with a verdict for every course.")
        verdicts = {c: listed[c] for c in app.courses}
    else:
        verdicts = {c: ("approved" if given.outcome == "approve" else "rejected") for c in app.courses}
    return Decision(verdicts=verdicts, justification=given.justification, decided_by=given.decided_by,
                    decided_at=datetime.now(OSLO))


@task(name="journal decision", **STEP)
async def journal_decision(run: Run, app: FritakApplication, case: CaseFile, decision: Decision) -> bytes:
    async with run.step("journal_decision"):
        # Dated when first decided, so a re-run produces the same letter and finds it.
        stored = run.ledger.item(run.item.id).data.get("decided_at")
        date = datetime.fromisoformat(stored) if stored else (decision.decided_at or datetime.now(OSLO))
        await asyncio.to_thread(run.ledger.update_data, run.item.id, decided_at=date.isoformat())
        pdf = decision_letter_pdf(app, decision, date=date)
        entry = await run.ports.archive.ensure_journal_entry(case, decision_entry(app, decision, pdf, date=date))
        run.remember("decision", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                     key=entry.external_id)
        return pdf


@task(name="close case", **STEP)
async def close_case(run: Run, case: CaseFile) -> None:
    async with run.step("close_case"):
        await run.ports.archive.set_case_status(case, "A")


@task(name="e-mail decision", **STEP)
async def email_decision(run: Run, app: FritakApplication, decision: Decision, letter: bytes) -> None:
    if run.step_done("email_decision"):
        return
    async with run.step("email_decision"):
        message_id = await run.ports.mail.send(decision_mail(app, decision, letter))
        run.remember("decision_email", system="mail", kind="message", ref=message_id)
