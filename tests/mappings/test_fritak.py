"""Fritak (exemption) mappings: reading an application, its e-mail address and attachments,
and the description a case handler reads in the Prefect UI — with hostile input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from markdown_it import MarkdownIt

from hub.ports.forms import Answer, AttachmentRef, Submission, SubmissionMeta
from hub.privacy import contains_fnr
from hub.settings import OSLO
from mappings.fritak import (
    FritakApplication,
    decision_description,
    describe_content,
    email_address,
    pdf_problem,
    read_application,
)
from mappings.pdf import letter_pdf

FNR = "05499024837"  # synthetic D-nummer, valid check digits
OTHER_FNR = "15076500565"  # synthetic, valid check digits: typed into the grounds
SUBMITTED = datetime(2026, 11, 20, 14, 5, tzinfo=OSLO)
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def real_pdf(title: str = "Vitnemål") -> bytes:
    return letter_pdf(sender="Høgskolen i Innlandet", recipient=["Kari Nordmann"], date=SUBMITTED, title=title,
                      paragraphs=["Emner: Programmering 1, 7,5 studiepoeng."], signature="Studieadministrasjonen")


def submission(*, attachments: tuple[AttachmentRef, ...] | None = None, respondent_email: str | None = None,
               **answers: Any) -> Submission:
    values: dict[str, Any] = {"name": "Åsmund Bjørnstad-Ødegård", "student_number": "s351207", "fnr": FNR,
                              "email": "asmund.bjornstad@student.oslomet.no", "courses": ("DATA1100", "MATA1000"),
                              "grounds": "Jeg har tatt tilsvarende emner ved Høgskolen i Innlandet.",
                              "earlier_institution": "Høgskolen i Innlandet"}
    values.update(answers)
    built = [Answer(external_id=k, element_type="CHECKBOX", options=v) if k == "courses"
             else Answer(external_id=k, element_type="QUESTION", text=v) for k, v in values.items() if v is not None]
    if attachments is None:
        attachments = (AttachmentRef(attachment_id=71, filename="vitnemål.pdf", media_type="application/pdf",
                                     size=2048),)
    built += [Answer(external_id=f"attachment_{i}", element_type="ATTACHMENT", attachment=a)
              for i, a in enumerate(attachments, start=1)]
    return Submission(meta=SubmissionMeta(form_id=404102, submission_id=3000042, created=SUBMITTED),
                      answers=tuple(built), respondent_email=respondent_email)


def application(**answers: Any) -> FritakApplication:
    app, problems = read_application(submission(**answers))
    assert app is not None, problems
    return app


# ---- the e-mail address ---------------------------------------------------------------

def test_an_address_without_a_domain_is_a_problem_a_person_can_act_on() -> None:
    app, problems = read_application(submission(email="kari@"))
    assert app is None
    assert problems == ["the e-mail address 'kari@' is not valid: There must be something after the @-sign."]


@pytest.mark.parametrize(("typed", "why"), [
    ("kari@student", "It should have a period"),
    ("kari nordmann@oslomet.no", "SPACE"),
    ("kari@oslomet.no\nBcc: alle@oslomet.no", "invalid characters"),
    ("Kari <kari@oslomet.no>", "angle brackets"),
])
def test_other_hostile_addresses_are_refused_with_the_validators_reason(typed: str, why: str) -> None:
    app, problems = read_application(submission(email=typed))
    assert app is None and len(problems) == 1 and why in problems[0]


def test_an_address_holding_a_fodselsnummer_is_quoted_masked() -> None:
    _, problems = read_application(submission(email=f"{OTHER_FNR}@"))
    assert problems and not contains_fnr(problems[0]) and "***********@" in problems[0]


def test_a_bad_typed_address_is_a_problem_but_the_known_one_reaches_the_applicant() -> None:
    sub = submission(email="kari@", respondent_email="kari.nordmann@student.oslomet.no")
    assert email_address(sub) == ("kari.nordmann@student.oslomet.no",
                                  "the e-mail address 'kari@' is not valid: There must be something after the "
                                  "@-sign.")
    assert read_application(sub)[0] is None


def test_the_address_nettskjema_knows_is_used_when_none_is_typed_and_normalised() -> None:
    sub = submission(email=None, respondent_email="Kari.Nordmann@Student.OsloMet.no")
    found, problems = read_application(sub)
    assert found is not None and found.email == "Kari.Nordmann@student.oslomet.no", problems


def test_no_address_at_all_is_a_problem() -> None:
    assert email_address(submission(email=None)) == (None, "the e-mail address is missing")


# ---- attachments by their content ------------------------------------------------------

def test_a_real_pdf_passes() -> None:
    assert pdf_problem("vitnemål.pdf", real_pdf()) is None
    app, problems = read_application(submission(), contents={71: real_pdf()})
    assert app is not None, problems


def test_a_text_file_named_pdf_is_not_accepted() -> None:
    app, problems = read_application(submission(), contents={71: "Vitnemål\nKari Nordmann\n".encode()})
    assert app is None
    assert problems == ["attachment 'vitnemål.pdf' is not a PDF but plain text; only PDF is accepted"]


@pytest.mark.parametrize(("data", "what"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    (b"\xff\xd8\xff\xe0" + bytes(64), "a JPEG image"),
    (b"PK\x03\x04" + bytes(64), "a ZIP archive"),
    (b"<!DOCTYPE html><html><script>alert(1)</script>", "an HTML page"),
    (bytes(range(256)) * 4, "an unknown binary file"),
])
def test_what_a_non_pdf_is_is_said(data: bytes, what: str) -> None:
    assert describe_content(data).startswith(what)
    assert (pdf_problem("a.pdf", data) or "").startswith(f"attachment 'a.pdf' is not a PDF but {what}")


def test_a_cut_off_pdf_is_not_complete() -> None:
    problem = pdf_problem("emne.pdf", real_pdf()[:-200])
    assert problem == "attachment 'emne.pdf' is not a complete PDF (it has no end marker %%EOF; was the upload cut off?)"


def test_a_declared_other_type_is_refused_without_reading_the_file() -> None:
    odd = AttachmentRef(attachment_id=72, filename="cv.docx", media_type="application/msword", size=10)
    app, problems = read_application(submission(attachments=(odd,)), contents={})
    assert app is None and problems == ["attachment 'cv.docx' is application/msword; only PDF is accepted"]


# ---- what the case handler sees ---------------------------------------------------------

def _render(markdown: str) -> str:
    return MD.render(markdown)


def _tags(html: str) -> set[str]:
    import re

    return {m.lower() for m in re.findall(r"<\s*([a-zA-Z0-9]+)", html)}


def test_a_hostile_name_is_shown_not_rendered() -> None:
    app = application(name="Kari <b>Fet</b> <img src=x onerror=alert(1)>",
                      grounds="Se [her](javascript:alert(1)) og ![bilde](http://evil.example/x.png)\n<script>x</script>",
                      earlier_institution="<a href='http://evil.example'>HiNN</a>",
                      attachments=(AttachmentRef(attachment_id=71, filename="vitnemål<img src=y>.pdf",
                                                 media_type="application/pdf", size=2048),))
    description = decision_description(app, case_ref="2026/42",
                                       document_urls=["http://127.0.0.1:9/dok/1", "http://127.0.0.1:9/dok/2"])
    html = _render(description)
    assert _tags(html) <= {"h2", "h3", "p", "ul", "li", "strong", "a"}
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;Fet&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html and "&lt;a href='http://evil.example'&gt;" in html
    hrefs = [t.attrGet("href") for tok in MD.parse(description) for t in tok.children or [] if t.type == "link_open"]
    assert hrefs == ["http://127.0.0.1:9/dok/1", "http://127.0.0.1:9/dok/2"]  # only the hub's own links
    assert '<a href="http://127.0.0.1:9/dok/2">Vedlegg 1</a>: vitnemål&lt;img src=y&gt;.pdf' in html


def test_a_fodselsnummer_in_the_grounds_reaches_prefect_masked() -> None:
    app = application(grounds=f"Mitt fødselsnummer er {OTHER_FNR[:6]} {OTHER_FNR[6:]}, og jeg har 30 sp fra HiNN.\n"
                              f"Passnummer FH1234567.")
    description = decision_description(app, case_ref="2026/42", document_urls=[])
    assert OTHER_FNR[:6] not in description and "FH1234567" not in description
    assert not contains_fnr(description) and FNR not in description
    html = _render(description)
    assert "Mitt fødselsnummer er ***********, og jeg har 30 sp fra HiNN." in html
    assert "Passnummer ***********." in html


def test_the_description_keeps_what_the_case_handler_needs() -> None:
    app = application()
    description = decision_description(app, case_ref="2026/42", document_urls=["http://127.0.0.1:9/dok/1"])
    html = _render(description)
    assert "Åsmund Bjørnstad-Ødegård (s351207)" in html and "Received 20.11.2026 14:05. Case 2026/42." in html
    assert "<strong>DATA1100</strong> Programmering 1" in html and "Høgskolen i Innlandet" in html
    assert '<a href="http://127.0.0.1:9/dok/1">Dokument 1</a>' in html  # not as many documents as files
