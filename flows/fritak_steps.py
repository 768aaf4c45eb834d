"""Steps of the exemption (fritak) service, one Prefect task each, each recorded in the ledger.

Tasks keep no results (``persist_result=False``): the application holds a fødselsnummer,
and a suspended case resumes by re-running its flow, in which every step finds its own
records again (search by external id) instead of relying on stored results.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, NoReturn, cast
from uuid import UUID

from prefect.input import RunInput, keyset_from_paused_state
from prefect.input.actions import aread_flow_run_input
from prefect.states import Suspended

from hub.errors import HubError, InvalidInput, PermanentError
from hub.flowkit import Run, step_task
from hub.ports.archive import CaseFile, JournalEntry
from hub.ports.forms import FormsPort, Submission
from hub.settings import OSLO
from mappings.fritak import (
    COURSES,
    AttachmentRules,
    Decision,
    FritakApplication,
    email_address,
    pdf_problem,
    read_application,
)
from mappings.fritak_decision import CourseVerdict, DecisionInput, decision_form_data, read_decision
from mappings.fritak_mail import decision_mail, rejected_application_mail
from mappings.fritak_to_noark import application_entry, case_file, decision_entry, decision_letter_pdf

__all__ = ["CourseVerdict", "FritakDecision", "read_fritak_application", "read_application_unless_failing",
           "fetch_application", "reject_application", "archive_application", "decision_form", "given_decision",
           "asking_runs", "ask_case_handler", "DECISION_KEY", "to_decision", "journal_decision", "close_case",
           "email_decision"]

log = logging.getLogger("hub.flow")


# The fields live in mappings.fritak_decision.DecisionInput; this is the input a suspended case
# waits for. The docstring is the form's description in its JSON schema: keep it as it is.
class FritakDecision(DecisionInput, RunInput):
    """The case handler's decision, entered in the Prefect UI (Resume) or by resume_flow_run."""


@step_task("read application", ports=("forms", "mail"), persist_result=False)
async def read_fritak_application(run: Run, submission_id: int) -> FritakApplication:
    """Fetch the submission and its attachments and validate them; an invalid one is answered
    by e-mail (when the applicant has a usable address) and dead-lettered."""
    async with run.step("read_application"):
        submission, application, problems = await fetch_application(run.ports.forms, submission_id,
                                                                    max_attachment_mb=run.settings.fritak.max_attachment_mb)
        if application is not None:
            return application
        await reject_application(run, submission, problems)


async def read_application_unless_failing(run: Run, submission_id: int) -> FritakApplication:
    """:func:`read_fritak_application` as a plain call that records no step when the read
    succeeds (two ledger writes fewer per case in the intake's batch). An application that is
    not valid (its problems, or the form service's verdict that the submission cannot be read
    as one) is answered and fails as that step; the form service failing otherwise is no
    verdict, so the application is read again as the step, with its retries."""
    try:
        submission, application, problems = await fetch_application(
            run.ports.forms, submission_id, max_attachment_mb=run.settings.fritak.max_attachment_mb)
    except InvalidInput as exc:
        async with run.step("read_application"):
            raise exc
    except HubError as exc:
        log.info("fritak %s: not read (%s); read again as a step", submission_id, exc.kind)
        return await read_fritak_application.fn(run, submission_id)
    if application is None:
        async with run.step("read_application"):
            await reject_application(run, submission, problems)
    return application


async def fetch_application(forms: FormsPort, submission_id: int, *, max_attachment_mb: int
                            ) -> tuple[Submission, FritakApplication | None, list[str]]:
    """The submission, the application read from it (None when it is not valid) and its problems."""
    submission = await forms.get_submission(submission_id)
    rules = AttachmentRules(max_bytes=max_attachment_mb * 1024 * 1024)
    contents = await _attachment_contents(forms, submission, rules)
    application, problems = read_application(submission, courses=COURSES, rules=rules, contents=contents)
    return submission, application, problems


async def reject_application(run: Run, submission: Submission, problems: list[str]) -> NoReturn:
    """Tell the applicant (once) why the application cannot be handled, then fail the item as
    invalid input: a dead letter that says whether the applicant was told."""
    told = await _tell_applicant(run, submission, problems)
    raise InvalidInput(f"fritak application {submission.meta.submission_id} is not valid: " + "; ".join(problems),
                       system="forms", hint=told + " A corrected application arrives as a new submission. "
                       "Nothing was archived.")


async def _attachment_contents(forms: FormsPort, submission: Submission, rules: AttachmentRules) -> dict[int, bytes]:
    """The files of the attachments worth checking (declared PDF, not too large)."""
    return {a.attachment_id: await forms.get_attachment(a.attachment_id)
            for a in submission.attachments[:rules.max_count]
            if a.media_type in rules.media_types and a.size <= rules.max_bytes}


async def _tell_applicant(run: Run, submission: Submission, problems: list[str]) -> str:
    """E-mail the applicant why the application cannot be handled (once); say what was done."""
    address, _ = email_address(submission)
    student = submission.answer("student_number")
    who = f"student number {student.text.strip()}" if student and student.text else "the name in the submission"
    if address is None:
        return (f"The applicant has no usable e-mail address, so nobody was told: contact them another way "
                f"({who}) and ask for a new application.")
    if run.ref("invalid_notice") is None:
        try:
            message_id = await run.ports.mail.send(
                rejected_application_mail(submission.meta.submission_id, address, problems))
        except PermanentError as exc:
            return (f"Telling the applicant by e-mail failed ({exc.message}): contact them another way "
                    f"({who}).")
        await run.remember("invalid_notice", system="mail", kind="message", ref=message_id)
    return "The applicant was told by e-mail."


@step_task("archive application", ports=("forms", "archive"), persist_result=False)
async def archive_application(run: Run, app: FritakApplication) -> tuple[CaseFile, JournalEntry]:
    """Case file + incoming journalpost: submission PDF (H) and each attachment (V), checksummed.

    Every file is checked to be a PDF by its content before anything is archived (they were
    checked when read too, but the form service serves them again here)."""
    async with run.step("archive_application"):
        forms, archive = run.ports.forms, run.ports.archive
        pdf = await forms.get_submission_pdf(app.submission_id)
        files = [(a.filename, await forms.get_attachment(a.attachment_id)) for a in app.attachments]
        wrong = [problem for name, data in [(f"soknad-{app.submission_id}.pdf", pdf), *files]
                 if (problem := pdf_problem(name, data))]
        if wrong:
            raise InvalidInput(f"fritak application {app.submission_id} cannot be archived: " + "; ".join(wrong),
                               system="forms", hint="Nothing was archived. Ask the applicant for a new "
                               "application with the documents as PDF, or check the form service.")
        case = await archive.ensure_case_file(case_file(app, series=run.settings.fritak.archive_series))
        await run.remember("case_file", system="archive", kind="case_file", ref=case.system_id, url=case.url,
                           key=case.external_id)
        entry = await archive.ensure_journal_entry(case, application_entry(app, pdf, files))
        await run.remember("application", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                           key=entry.external_id)
        return case, entry


def decision_form(app: FritakApplication, case: CaseFile, entry: JournalEntry) -> type[FritakDecision]:
    """The form a case handler sees (:func:`mappings.fritak_decision.decision_form_data`)."""
    return FritakDecision.with_initial_data(
        **decision_form_data(app, case_ref=case.case_number or case.system_id, document_urls=entry.document_ids))


DECISION_KEY = "decision"  # the pause key: the case handler's answer is stored under it, per flow run


async def ask_case_handler(form: type[FritakDecision]) -> FritakDecision:
    """Suspend this run until a case handler resumes it with ``form`` filled in (the process
    exits meanwhile; Prefect starts the run again with the answer)."""
    from prefect.flow_runs import suspend_flow_run

    given = await suspend_flow_run(wait_for_input=cast(Any, form), key=DECISION_KEY, timeout=None)
    return cast(FritakDecision, given)


def asking_runs(run: Run) -> list[str]:
    """The runs of this case that have asked for a decision, this one last (kept on the item)."""
    current = run.flow_run_id
    asked = [r for r in (run.item.data or {}).get("decision_runs", []) if r != current]
    return [*asked, current] if current else asked


async def given_decision(run: Run) -> FritakDecision | None:
    """The decision a case handler already gave this case, if any: to this run (created
    waiting by ``fritak-intake``, or suspended by itself, and resumed with the answer), or to an
    earlier run of this case that died before it acted on it (resumed, then killed while it
    was starting again; ``redrive-stuck`` started this run instead). The case handler is never
    asked a second time."""
    keyset = keyset_from_paused_state(Suspended(pause_key=DECISION_KEY))
    for asked in reversed(asking_runs(run)):
        value = await aread_flow_run_input(key=keyset["response"], flow_run_id=UUID(asked))
        if value:
            return FritakDecision(**value)
    return None


def to_decision(app: FritakApplication, given: FritakDecision) -> Decision:
    """The case handler's answer as a decision, decided now (:func:`mappings.fritak_decision.read_decision`)."""
    decision, problems = read_decision(app, given, decided_at=datetime.now(OSLO))
    if decision is None:
        raise InvalidInput("; ".join(problems), hint="Resume again with a verdict for every course.")
    return decision


@step_task("journal decision", ports=("archive",), persist_result=False)
async def journal_decision(run: Run, app: FritakApplication, case: CaseFile, decision: Decision) -> bytes:
    async with run.step("journal_decision"):
        # Dated when first decided, so a re-run produces the same letter and finds it.
        stored = run.ledger.item(run.item.id).data.get("decided_at")
        date = datetime.fromisoformat(stored) if stored else (decision.decided_at or datetime.now(OSLO))
        await asyncio.to_thread(run.ledger.update_data, run.item.id, decided_at=date.isoformat())
        pdf = decision_letter_pdf(app, decision, date=date)
        entry = await run.ports.archive.ensure_journal_entry(case, decision_entry(app, decision, pdf, date=date))
        await run.remember("decision", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                           key=entry.external_id)
        return pdf


@step_task("close case", ports=("archive",), persist_result=False)
async def close_case(run: Run, case: CaseFile) -> None:
    async with run.step("close_case"):
        await run.ports.archive.set_case_status(case, "A")


@step_task("e-mail decision", ports=("mail",), persist_result=False)
async def email_decision(run: Run, app: FritakApplication, decision: Decision, letter: bytes) -> None:
    if await run.step_done("email_decision"):
        return
    async with run.step("email_decision"):
        message_id = await run.ports.mail.send(decision_mail(app, decision, letter))
        await run.remember("decision_email", system="mail", kind="message", ref=message_id)
