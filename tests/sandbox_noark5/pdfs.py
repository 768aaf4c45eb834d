"""Small PDFs for archive tests (fpdf2), and a PDF/A-1b-marked one for format detection."""

from __future__ import annotations

from fpdf import FPDF

__all__ = ["make_pdf", "pdfa_1b"]


def make_pdf(text: str) -> bytes:
    """A one-page PDF whose bytes differ with ``text``."""
    pdf = FPDF()
    pdf.set_title(text)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text.encode("latin-1", "replace").decode("latin-1"))
    return bytes(pdf.output())


def pdfa_1b(text: str = "PDF/A") -> bytes:
    """A PDF carrying PDF/A-1b identification in its XMP metadata (pdfaid:part 1, B)."""
    xmp = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
           b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
           b"<pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
           b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    base = make_pdf(text)
    return base.replace(b"%%EOF", b"%" + xmp + b"\n%%EOF")
