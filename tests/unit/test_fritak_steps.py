"""The fritak steps with hostile submissions, on stand-in ports: the mail stand-in builds each
message with the SMTP connector's own ``build_message``, so a message the connector could
not build fails here as it would on the stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.smtp.message import build_message
from flows.fritak_steps import (
    FritakDecision,
    archive_application,
    decision_form,
    read_fritak_application,
    to_decision,
)
from hub.errors import InvalidInput
from hub.ports.archive import CaseFile, JournalEntry
from hub.ports.forms import Submission
from hub.ports.mail import OutgoingMail
from hub.settings import OSLO
from mappings.fritak_decision import decision_form_data
from tests.mappings.test_fritak import application, real_pdf, submission


class FakeRun:
    def __init__(self, sub: Submission, files: dict[int, bytes]) -> None:
        self.sent: list[OutgoingMail] = []
        self.archived: list[str] = []
        self.refs: dict[str, str] = {}
        self.settings = SimpleNamespace(fritak=SimpleNamespace(max_attachment_mb=10, archive_series="Sakarkiv"))
        self.ports = SimpleNamespace(forms=SimpleNamespace(get_submission=self._submission,
                                                           get_attachment=self._attachment,
                                                           get_submission_pdf=self._pdf),
                                     mail=SimpleNamespace(send=self._send),
                                     archive=SimpleNamespace(ensure_case_file=self._archive,
                                                             ensure_journal_entry=self._archive))
        self._sub, self._files = sub, files

    async def _submission(self, submission_id: int) -> Submission:
        assert submission_id == self._sub.meta.submission_id
        return self._sub

    async def _attachment(self, attachment_id: int) -> bytes:
        return self._files[attachment_id]

    async def _pdf(self, submission_id: int) -> bytes:
        return real_pdf("Søknad")

    async def _send(self, mail: OutgoingMail) -> str:
        message = build_message(mail, "tjenesteplattform@oslomet.no")
        self.sent.append(mail)
        return str(message["Message-ID"])

    async def _archive(self, *args: Any) -> Any:
        self.archived.append(type(args[-1]).__name__)
        raise AssertionError("nothing may be archived")

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        yield

    def ref(self, name: str) -> str | None:
        return self.refs.get(name)

    async def remember(self, name: str, **details: Any) -> None:
        self.refs[name] = str(details.get("ref"))


async def _read(run: FakeRun) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        await read_fritak_application.fn(run, 3000042)
    return caught.value


async def test_kari_at_with_no_other_address_is_a_readable_dead_letter_and_nothing_is_sent() -> None:
    """``kari@`` used to reach the SMTP header parser, which crashed with IndexError."""
    run = FakeRun(submission(email="kari@"), {71: real_pdf()})
    error = await _read(run)
    assert error.message == ("fritak application 3000042 is not valid: the e-mail address 'kari@' is not valid: "
                             "There must be something after the @-sign.")
    assert "nobody was told" in error.hint and "student number s351207" in error.hint
    assert run.sent == []


async def test_kari_at_is_told_at_the_address_nettskjema_knows() -> None:
    run = FakeRun(submission(email="kari@", respondent_email="kari.nordmann@student.oslomet.no"), {71: real_pdf()})
    error = await _read(run)
    assert "the e-mail address 'kari@' is not valid" in error.message and "told by e-mail" in error.hint
    (mail,) = run.sent
    assert mail.to == ("kari.nordmann@student.oslomet.no",)
    assert "- the e-mail address 'kari@' is not valid: There must be something after the @-sign." in mail.body


async def test_a_text_file_named_pdf_is_refused_by_its_content_and_the_applicant_told() -> None:
    run = FakeRun(submission(), {71: b"Dette er ikke en PDF.\n"})
    error = await _read(run)
    assert "attachment 'vitnemål.pdf' is not a PDF but plain text" in error.message
    (mail,) = run.sent
    assert "vitnemål.pdf' is not a PDF but plain text; only PDF is accepted" in mail.body


async def test_a_file_that_is_no_pdf_by_now_is_not_archived() -> None:
    run = FakeRun(submission(), {71: b"<html><body>byttet ut</body></html>"})
    with pytest.raises(InvalidInput) as caught:
        await archive_application.fn(run, application())
    assert caught.value.message == ("fritak application 3000042 cannot be archived: attachment 'vitnemål.pdf' is "
                                    "not a PDF but an HTML page; only PDF is accepted")
    assert run.archived == []


# ---- the case handler's decision -------------------------------------------------------------

def test_the_decision_form_is_a_run_input_with_the_forms_description_and_initial_answers() -> None:
    app = application()
    case = CaseFile(system_id="sys-7", external_id="fritak:3000042", title="Søknad om fritak", case_number="2026/42")
    entry = JournalEntry(system_id="jp-9", external_id="fritak:3000042:soknad", title="Søknad", journal_type="I",
                         document_ids=["http://127.0.0.1:9/dok/1", "http://127.0.0.1:9/dok/2"])
    form = decision_form(app, case, entry)
    assert form.__name__ == "FritakDecision" and issubclass(form, FritakDecision)
    assert form._description == decision_form_data(app, case_ref="2026/42",
                                                   document_urls=entry.document_ids)["description"]
    assert form(justification="Tilsvarende emner.").model_dump() == {
        "outcome": "approve", "justification": "Tilsvarende emner.", "decided_by": "Saksbehandler",
        "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "approved"}]}
    schema = FritakDecision.model_json_schema()
    assert schema["title"] == "FritakDecision" and schema["additionalProperties"] is False
    assert schema["description"] == "The case handler's decision, entered in the Prefect UI (Resume) or by " \
                                    "resume_flow_run."


def test_a_case_handler_who_leaves_a_course_undecided_is_told_to_resume_again() -> None:
    given = FritakDecision(outcome="partial", courses=[{"course": "MATA1000", "verdict": "rejected"}],
                           justification="Matematikk er ikke tilsvarende.")
    with pytest.raises(InvalidInput) as caught:
        to_decision(application(), given)
    assert caught.value.message == "the decision gives no verdict for DATA1100"
    assert caught.value.hint == "Resume again with a verdict for every course."


def test_a_decision_is_dated_when_it_is_read() -> None:
    before = datetime.now(OSLO)
    decision = to_decision(application(), FritakDecision(outcome="reject", courses=[], justification="Ikke nok."))
    assert decision.verdicts == {"DATA1100": "rejected", "MATA1000": "rejected"}
    assert decision.decided_at is not None and before <= decision.decided_at <= datetime.now(OSLO)
