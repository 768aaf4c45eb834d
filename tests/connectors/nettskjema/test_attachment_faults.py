"""A peer fault while downloading an attachment is Nettskjema's (or a proxy's), never the applicant's.

The sandbox's fault layer answers the attachment route with 200 and something that is not
the file — a proxy's HTML page, the file cut short, a 5xx error page — and the connector
must raise :class:`~hub.errors.MalformedResponse` (a ``TransientError``: the fritak step is
retried, then dead-lettered as transient) instead of handing the page over as the
applicant's file. A file Nettskjema delivered intact but which is not a PDF stays the
applicant's fault: the fritak step tells them and dead-letters it as ``invalid_input``.
Header-level shapes the sandbox cannot put on the wire (``text/html``, a body shorter than
its own ``Content-Length``, the recorded answer without any Content-Type) use
``httpx.MockTransport``, as ``test_parsing`` does.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.nettskjema import NettskjemaConfig, NettskjemaForms
from flows.fritak_steps import read_fritak_application
from hub.errors import InvalidInput, MalformedResponse, TransientError
from hub.ports.mail import OutgoingMail
from sandbox.nettskjema.forms import FRITAK_FORM_ID
from sandbox.nettskjema.seed import seed_submissions
from sandbox.procs import Proc
from tests.connectors.nettskjema.conftest import MakeForms, arm_fault, armed_faults, submit

ATTACHMENTS = "/api/v3/form/submission/attachment/"
NOT_A_PDF = b"Dette er ikke en PDF, bare tekst.\n" * 4


def fritak_body(content: bytes | None = None) -> dict[str, Any]:
    """The first seeded (valid) fritak application; ``content`` replaces its PDF, still declared a PDF."""
    body = next(b for b in seed_submissions(date.today()) if b["formId"] == FRITAK_FORM_ID)
    if content is not None:
        body["attachments"] = {"attachment_1": [{"filename": "vitnemål.pdf", "mediaType": "application/pdf",
                                                 "contentBase64": base64.b64encode(content).decode()}]}
    return body


async def download(make_forms: MakeForms, submission_id: int) -> tuple[Any, bytes]:
    async with make_forms() as forms:
        (ref,) = (await forms.get_submission(submission_id)).attachments
        return ref, await forms.get_attachment(ref.attachment_id)


@pytest.mark.parametrize("fault", [
    {"kind": "malformed", "malformed_as": "garbage"},  # a proxy's HTML page instead of the file
    {"kind": "malformed", "malformed_as": "truncate"},  # the real file, cut short
    {"kind": "malformed", "body": '{"status": 500, "error": "Internal Server Error"}'},  # a 5xx page, as 200
], ids=["proxy page", "cut short", "5xx page as 200"])
async def test_a_garbled_attachment_is_a_malformed_response_not_the_file(
        nettskjema: Proc, make_forms: MakeForms, fault: dict[str, Any]) -> None:
    added = submit(nettskjema, "fritak", fritak_body())
    async with make_forms() as forms:
        (ref,) = (await forms.get_submission(added)).attachments
        arm_fault(nettskjema, path=ATTACHMENTS, count=1, **fault)
        with pytest.raises(MalformedResponse) as caught:
            await forms.get_attachment(ref.attachment_id)
        assert armed_faults(nettskjema) == []
        intact = await forms.get_attachment(ref.attachment_id)  # the next try gets the file
    assert isinstance(caught.value, TransientError) and caught.value.kind == "transient"
    assert caught.value.system == "nettskjema" and f"attachment {ref.attachment_id}" in caught.value.message
    assert intact.startswith(b"%PDF") and len(intact) == ref.size


async def test_an_intact_file_that_is_not_a_pdf_is_delivered_as_it_is(nettskjema: Proc, make_forms: MakeForms) -> None:
    ref, data = await download(make_forms, submit(nettskjema, "fritak", fritak_body(NOT_A_PDF)))
    assert (ref.media_type, data) == ("application/pdf", NOT_A_PDF)


class StepRun:
    """What ``read_fritak_application`` needs of a run, around the real Nettskjema connector."""

    def __init__(self, forms: NettskjemaForms) -> None:
        self.sent: list[OutgoingMail] = []
        self.refs: dict[str, str] = {}
        self.settings = SimpleNamespace(fritak=SimpleNamespace(max_attachment_mb=10))
        self.ports = SimpleNamespace(forms=forms, mail=SimpleNamespace(send=self._send))

    async def _send(self, mail: OutgoingMail) -> str:
        self.sent.append(mail)
        return f"<{len(self.sent)}@test>"

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        yield

    def ref(self, name: str) -> str | None:
        return self.refs.get(name)

    async def remember(self, name: str, **details: Any) -> None:
        self.refs[name] = str(details.get("ref"))


async def test_a_proxy_page_for_an_attachment_is_retried_and_no_applicant_is_told(
        nettskjema: Proc, make_forms: MakeForms) -> None:
    added = submit(nettskjema, "fritak", fritak_body())
    arm_fault(nettskjema, path=ATTACHMENTS, count=1, kind="malformed", malformed_as="garbage")
    async with make_forms() as forms:
        run = StepRun(forms)
        with pytest.raises(MalformedResponse) as caught:
            await read_fritak_application.fn(run, added)
        assert run.sent == []  # nobody was told their application is invalid
        assert isinstance(caught.value, TransientError)  # transient_only: the step is retried...
        application = await read_fritak_application.fn(run, added)  # ...and the retry reads it
    assert application.submission_id == added and len(application.attachments) == 1
    assert run.sent == []


async def test_an_intact_file_that_is_not_a_pdf_is_still_the_applicants_to_fix(
        nettskjema: Proc, make_forms: MakeForms) -> None:
    added = submit(nettskjema, "fritak", fritak_body(NOT_A_PDF))
    async with make_forms() as forms:
        run = StepRun(forms)
        with pytest.raises(InvalidInput) as caught:
            await read_fritak_application.fn(run, added)
    assert "vitnemål.pdf' is not a PDF" in caught.value.message
    (mail,) = run.sent
    assert "vitnemål.pdf' is not a PDF" in mail.body


# ---- header shapes on a scripted transport -------------------------------------------------

PDF = b"%PDF-1.4\n" + b"x" * 200 + b"\n%%EOF\n"
SUBMISSION = {"submissionMetadata": {"formId": 1, "submissionId": 77, "createdDate": "2026-11-20T08:15:02"},
              "answers": [{"externalElementId": "attachment_1", "elementType": "ATTACHMENT",
                           "answerAttachmentId": 5, "filename": "vitnemål.pdf", "mediaType": "application/pdf",
                           "size": len(PDF)}]}


def scripted(attachment: httpx.Response) -> NettskjemaForms:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        if request.url.path == "/api/v3/form/submission/77":
            return httpx.Response(200, json=SUBMISSION)
        return attachment

    config = NettskjemaConfig(base_url="http://ns.test/api/v3", token_url="http://ns.test/oauth2/token",
                              client_id="c", client_secret=SecretStr("s"), max_attempts=1)
    return NettskjemaForms(config, transport=httpx.MockTransport(handler))


async def fetch_scripted(attachment: httpx.Response) -> bytes:
    async with scripted(attachment) as forms:
        (ref,) = (await forms.get_submission(77)).attachments
        return await forms.get_attachment(ref.attachment_id)


@pytest.mark.parametrize("answer", [
    httpx.Response(200, content=b"<html><body>502 Bad Gateway</body></html>",
                   headers={"content-type": "text/html; charset=utf-8"}),
    httpx.Response(200, content=PDF[:50], headers={"content-type": "application/pdf",
                                                   "content-length": str(len(PDF))}),
    httpx.Response(200, content=PDF[:50], headers={"content-type": "application/pdf"}),
    httpx.Response(302, content=b"", headers={"location": "https://login.example/"}),
    httpx.Response(203, content=b"Service Unavailable", headers={"content-type": "text/plain"}),
], ids=["text/html page", "shorter than its Content-Length", "shorter than the recorded size", "redirect",
        "not 200"])
async def test_what_nettskjema_never_sends_for_a_pdf_is_malformed(answer: httpx.Response) -> None:
    with pytest.raises(MalformedResponse):
        await fetch_scripted(answer)


@pytest.mark.parametrize("headers", [
    {},  # the recorded v3 answer for attachment 538819: no Content-Type at all
    {"content-type": "application/pdf"},
    {"content-type": "application/octet-stream"},
], ids=["no content-type", "as declared", "octet-stream"])
async def test_what_nettskjema_sends_for_a_file_is_accepted(headers: dict[str, str]) -> None:
    assert await fetch_scripted(httpx.Response(200, content=PDF, headers=headers)) == PDF
