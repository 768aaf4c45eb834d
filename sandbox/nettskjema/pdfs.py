"""PDFs the sandbox serves: seeded attachments and ``GET form/submission/{id}/pdf``.

fpdf2 with a core font (Helvetica, WinAnsi/Latin-1): æ, ø and å are in Latin-1; anything
outside it is replaced, never an error. The creation date is fixed (the submission's own
time), so the same submission renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF

from sandbox.nettskjema.forms import ATTACHMENT, MATRIX_TYPES, Form

__all__ = ["latin1", "document_pdf", "submission_pdf"]

OSLO = ZoneInfo("Europe/Oslo")

_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                 "\u201d": '"', "\u2022": "-", "\u2026": "...", "\u00a0": " "}


def latin1(text: str) -> str:
    """Text a PDF core font can draw: typographic extras mapped, the rest outside Latin-1 → ``?``."""
    for src, dst in _REPLACEMENTS.items():
        text = text.replace(src, dst)
    return text.encode("latin-1", "replace").decode("latin-1")


def _new_pdf(title: str, created: datetime) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(latin1(title))
    pdf.set_creator("Nettskjema sandbox")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return pdf


def document_pdf(title: str, paragraphs: Sequence[str], created: datetime) -> bytes:
    """A small one-page document (a seeded vitnemål, emnebeskrivelse, ...)."""
    pdf = _new_pdf(title, created)
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 11)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 5.5, latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


def _answer_lines(form: Form, answers: Iterable[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(question text, answer lines) in form order, options shown by their text."""
    by_element: dict[int, list[dict[str, Any]]] = {}
    for answer in answers:
        by_element.setdefault(int(answer["elementId"]), []).append(answer)
    lines: list[tuple[str, list[str]]] = []
    for element in form.questions:
        given = by_element.get(element.element_id)
        if not given:
            continue
        shown: list[str] = []
        for answer in given:
            chosen = [o.text for o in element.options if o.option_id in answer.get("answerOptionIds", [])]
            if element.element_type in MATRIX_TYPES:
                row = next((r.text for r in element.rows if r.sub_element_id == answer.get("subElementId")), "?")
                shown.append(f"{row}: {', '.join(chosen)}")
            elif element.element_type == ATTACHMENT:
                shown.append(f"{answer.get('filename')} ({answer.get('mediaType')}, {answer.get('size')} byte)")
            elif chosen:
                shown.extend(chosen)
            else:
                shown.append(str(answer.get("textAnswer") or ""))
        lines.append((element.text, shown))
    return lines


def submission_pdf(form: Form, submission_id: int, created: str, answers: Iterable[dict[str, Any]]) -> bytes:
    """The submission as Nettskjema prints it: form title, delivery time, each question and answer."""
    created_at = datetime.fromisoformat(created).replace(tzinfo=OSLO)
    pdf = _new_pdf(f"{form.title} - innsending {submission_id}", created_at)
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, latin1(form.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, latin1(f"Skjema {form.form_id} - innsending {submission_id} - levert "
                          f"{created_at.strftime('%d.%m.%Y kl. %H:%M')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for question, shown in _answer_lines(form, answers):
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, latin1(question), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        for line in shown:
            pdf.multi_cell(0, 5.5, latin1(line) or "-", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())
