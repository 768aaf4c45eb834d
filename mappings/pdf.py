"""Generated letters as PDF (fpdf2), reproducible byte for byte.

The creation date is the letter's own date, not "now", so generating the same letter twice
gives the same bytes and the same checksum — a re-run archives nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fpdf import FPDF

__all__ = ["letter_pdf"]

_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2022": "-"}


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1 (æ, ø, å included); replace typographic extras."""
    for src, dst in _REPLACEMENTS.items():
        text = text.replace(src, dst)
    return text.encode("latin-1", "replace").decode("latin-1")


def letter_pdf(*, sender: str, recipient: Sequence[str], date: datetime, title: str,
               paragraphs: Sequence[str], signature: str, reference: str | None = None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(date)
    pdf.set_title(_latin1(title))
    pdf.set_author(_latin1(sender))
    pdf.set_creator("OsloMet tjenesteplattform hub")
    pdf.add_page()
    pdf.set_margins(25, 25, 25)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, _latin1(sender), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.ln(8)
    for line in recipient:
        pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    meta = f"Oslo, {date.strftime('%d.%m.%Y')}"
    if reference:
        meta += f"    Vår referanse: {reference}"
    pdf.cell(0, 5, _latin1(meta), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 11)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 5.5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.ln(6)
    pdf.cell(0, 5, _latin1(signature), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
