"""Golden-file tests of the onboarding mappings (pure functions, no I/O)."""

from __future__ import annotations

import io
from datetime import datetime

from pypdf import PdfReader

from hub.privacy import contains_fnr
from mappings.dfo_to_noark import personnel_case_file, welcome_letter_entry, welcome_letter_pdf
from mappings.dfo_to_rt import NO_FREE_LAPTOP, account_ticket, allocated_comment, laptop_holder, laptop_ticket
from mappings.hire import Hire
from mappings.onboarding_mail import manager_mail


def test_personnel_case_file(golden, hire: Hire) -> None:
    case = personnel_case_file(hire)
    golden("personnel_case_file", case)
    assert case.title == "Personalmappe – Åse Marie Østby-Ærø"
    assert "Åse" not in case.public_title and "*****" in case.public_title
    assert case.external_id == "dfo:ansatt:10007"


def test_welcome_letter_entry(golden, hire: Hire, letter_date: datetime) -> None:
    pdf = welcome_letter_pdf(hire, date=letter_date, hr_contact="hr@oslomet.no")
    entry = welcome_letter_entry(hire, pdf, date=letter_date)
    golden("welcome_letter_entry", entry)
    assert entry.journal_type == "U"
    assert [c.kind for c in entry.correspondents] == ["EM"]
    assert entry.documents[0].role == "H" and entry.documents[0].content == pdf
    assert "*****" in entry.public_title


def test_welcome_letter_pdf_is_reproducible_and_readable(hire: Hire, letter_date: datetime) -> None:
    first = welcome_letter_pdf(hire, date=letter_date, hr_contact="hr@oslomet.no")
    second = welcome_letter_pdf(hire, date=letter_date, hr_contact="hr@oslomet.no")
    assert first == second, "same letter, same bytes: a re-run must not look like a new document"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(first)).pages)
    assert "Velkommen til OsloMet" in text and "Østby-Ærø" in text and "01.12.2026" in text
    assert not contains_fnr(text)


def test_tickets(golden, hire: Hire) -> None:
    account = account_ticket(hire, queue="User accounts")
    laptop = laptop_ticket(hire, queue="Equipment")
    golden("ticket_account", account)
    golden("ticket_laptop", laptop)
    for ticket in (account, laptop):
        assert ticket.due == hire.start
        assert not contains_fnr(ticket.subject) and not contains_fnr(ticket.body)
        assert "15076500565" not in ticket.body
    assert account.external_ref != laptop.external_ref


def test_laptop_allocation(hire: Hire) -> None:
    assert laptop_holder(hire) == ("asmost@oslomet.no", "onboarding:10007:laptop-asset")
    assert allocated_comment("LT-0042", "Lenovo ThinkPad T14 Gen 5", "asmost@oslomet.no") == \
        "Allocated laptop LT-0042 (Lenovo ThinkPad T14 Gen 5), held by asmost@oslomet.no."
    assert allocated_comment("LT-0043", None, "asmost@oslomet.no") == "Allocated laptop LT-0043, held by asmost@oslomet.no."
    assert "allocate one by hand" in NO_FREE_LAPTOP and "HeldBy" in NO_FREE_LAPTOP


def test_manager_mail(golden, hire: Hire) -> None:
    mail = manager_mail(hire, tickets={"Create user account": "#1", "Deliver laptop": "#2"},
                        laptop="LT-1001", case_number="2026/3")
    golden("manager_mail", mail)
    assert mail.to == ("karnor@oslomet.no",)
    assert not contains_fnr(mail.body)


def test_onboarding_summary_renders_hostile_hr_text_as_text(hire: Hire) -> None:
    """HR text in the operators' summary artifact is inert: no HTML, no links it did not
    choose, and no fødselsnummer (the Prefect UI renders markdown with raw HTML)."""
    import dataclasses

    from markdown_it import MarkdownIt

    from flows.onboarding_steps import onboarding_summary

    hostile = dataclasses.replace(hire, employee=hire.employee.model_copy(
        update={"first_name": "<img src=x onerror=alert(1)>", "last_name": "[click](http://evil.example)"}))
    markdown = onboarding_summary(
        hostile, [("case_file", "archive", "ref|1", "http://127.0.0.1:8702/x"), ("ticket", "rt", "<b>7</b>", None)],
        ["call 15076500565 <script>"])

    html = MarkdownIt("commonmark").enable(["table"]).render(markdown)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert 'href="http://evil.example"' not in html
    assert 'href="http://127.0.0.1:8702/x"' in html  # the hub's own link stays a link
    assert "15076500565" not in markdown
    assert html.count("<tr>") == 3, "a pipe in a cell must not split the table"
