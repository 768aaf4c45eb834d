"""Deterministic seed submissions for the two hub forms (and one for the unshared form).

Given the same ``today`` the seed is the same, byte for byte (PDFs carry fixed dates).
Times are relative to ``today`` so that ``needed_by`` lies ahead and ``createdDate`` behind.

Bestille laptop (404101), in submission order:
  1-4 valid orders from employees in the DFØ seed (sigkva, norstr, haklov, torbra);
  5   from ``ukjent.person@oslomet.no`` (nobody in HR) — a dead letter;
  6   for ``surface-laptop`` (not stocked by IT) — a dead letter.
Søknad om fritak (404102):
  1-3 valid (synthetic fødselsnummer, month +40, born in the 1990s; #3 a D-nummer) with
      1-3 PDF attachments (#2's karakterutskrift.pdf is downloaded without a Content-Type,
      as the real service sends some files);
  4   fødselsnummer with a wrong check digit;
  5   no attachment at all;
  6   a ``.docx`` attachment instead of a PDF.
Bestille grupperom (404103), created after every other seed (the ids above do not move):
  1-2 valid bookings a few days ahead (one for a named room, one for ``any`` room).
Avbestille grupperom (404104): no seed.
"""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.dfo.seed import synthetic_fnr
from sandbox.nettskjema.forms import (
    DOCX_MEDIA_TYPE,
    FRITAK_FORM_ID,
    LAPTOP_FORM_ID,
    ROOMS_FORM_ID,
    UNSHARED_FORM_ID,
)
from sandbox.nettskjema.pdfs import document_pdf

__all__ = ["seed_submissions", "wrong_check_digit", "docx_bytes"]

OSLO = ZoneInfo("Europe/Oslo")

# (feide, model, location, cost centre, justification, days ago, needed in days, accessories, score, name)
_LAPTOP: list[tuple[str, str, str, str, str, int, int, dict[str, str], int, str]] = [
    ("sigkva@oslomet.no", "thinkpad-t14", "pilestredet", "2000",
     "Ny rådgiver i fakultetsadministrasjonen; trenger bærbar PC til møter og hjemmekontor.",
     6, 3, {"dock": "yes", "headset": "yes"}, 3, "Sigrid Kværnø"),
    ("norstr@oslomet.no", "macbook-air-13", "kjeller", "2000",
     "Dagens maskin er fem år gammel og tåler ikke undervisningsopptak på Kjeller.",
     5, 14, {"bag": "yes"}, 2, "Nora Strøm"),
    ("haklov@oslomet.no", "latitude-7450", "sandvika", "2110",
     "Forskningsprosjekt med feltarbeid; behøver en lett maskin med god batteritid.",
     4, 21, {"dock": "yes", "bag": "yes"}, 1, "Håkon Løvås"),
    ("torbra@oslomet.no", "thinkpad-t14", "pilestredet", "7300",
     "Utskifting av defekt PC (skjermen er knust). Haster før eksamensperioden.",
     3, 7, {"dock": "yes", "headset": "yes", "bag": "yes"}, 1, "Tor Egil Bråten"),
    ("ukjent.person@oslomet.no", "latitude-7450", "kjeller", "2110",
     "Jeg begynner snart og vil gjerne ha PC-en klar på første arbeidsdag.",
     2, 10, {}, 4, "Ukjent Person"),
    ("lingro@oslomet.no", "surface-laptop", "sandvika", "7300",
     "Ønsker en Surface fordi jeg tegner mye med penn i skissearbeid.",
     1, 12, {"headset": "yes"}, 2, "Line Grønås"),
]

# (name, student number, birth, female, d-number, fnr fault, courses, grounds, institution,
#  completed, credits, level, attachments (title, filename), days ago)
_FRITAK: list[tuple[Any, ...]] = [
    ("Ingeborg Ødegård", "s351234", date(1999, 4, 12), True, False, None, ["DATA1100"],
     "Jeg har fullført Programmering 1 (IN1000) ved Universitetet i Oslo med karakter B.",
     "Universitetet i Oslo", "15.06.2024", "10", {"bachelor": "yes", "master": "no"},
     [("Vitnemål", "vitnemål.pdf")], 9),
    ("Bjørn Åsheim", "s352345", date(1997, 11, 3), False, False, None, ["DATA1200", "MATA1000"],
     "Tilsvarende emner er bestått ved NTNU i Gjøvik; emnebeskrivelser og karakterutskrift følger.",
     "NTNU", "20.12.2023", "15", {"bachelor": "yes", "master": "no"},
     [("Vitnemål", "vitnemål_ntnu.pdf"), ("Emnebeskrivelse", "emnebeskrivelse_IDATG2001.pdf"),
      ("Karakterutskrift", "karakterutskrift.pdf")], 8),
    ("Søren Kjærgaard", "s353456", date(1998, 2, 27), False, True, None, ["ITPE3100"],
     "Datakommunikation bestået ved Københavns Universitet (7,5 ECTS).",
     "Københavns Universitet", "24.01.2025", "7,5", {"bachelor": "yes", "master": "no"},
     [("Eksamensbevis", "eksamensbevis.pdf"), ("Emnebeskrivelse", "kursusbeskrivelse.pdf")], 7),
    ("Tuva Bræk", "s354567", date(1996, 8, 19), True, False, "check-digit", ["DAPE1400"],
     "Fullført programmering ved Høgskolen i Østfold.", "Høgskolen i Østfold", "14.06.2025", "10",
     {"bachelor": "yes", "master": "no"}, [("Vitnemål", "vitnemål_hiof.pdf")], 6),
    ("Even Sæbø", "s355678", date(1995, 1, 30), False, False, None, ["MATA1000"],
     "Matematikk R2 og ett år ved Universitetet i Bergen. Dokumentasjon ettersendes.",
     "Universitetet i Bergen", "18.06.2022", "10", {"bachelor": "yes", "master": "no"}, [], 5),
    ("Hanne Grøtting", "s356789", date(1999, 6, 5), True, False, None, ["DATA1100", "DAPE1400"],
     "Emnebeskrivelsen ligger vedlagt som Word-dokument.", "Universitetet i Agder", "10.06.2024",
     "20", {"bachelor": "yes", "master": "no"}, [("Emnebeskrivelse", "emnebeskrivelse.docx")], 4),
]


def wrong_check_digit(fnr: str) -> str:
    """The same number with its last (check) digit changed — shaped right, invalid."""
    return fnr[:-1] + str((int(fnr[-1]) + 1) % 10)


def docx_bytes(title: str) -> bytes:
    """A tiny but real .docx (a zip with fixed timestamps, so it is deterministic)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType='
        '"application/xml"/></Types>',
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://'
        f'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{title}'
        f'</w:t></w:r></w:p></w:body></w:document>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 6, 1, 12, 0, 0)), text)
    return buffer.getvalue()


def _stamp(today: date, days_ago: int, minute: int) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(9, minute, 2 + minute % 50))


# Files whose download comes without a Content-Type header (their answer records the mediaType).
_WITHOUT_CONTENT_TYPE = frozenset({"karakterutskrift.pdf"})


def _file(title: str, filename: str, name: str, institution: str, created: datetime) -> dict[str, Any]:
    if filename.endswith(".docx"):
        data, media_type = docx_bytes(f"{title} - {name}"), DOCX_MEDIA_TYPE
    else:
        data = document_pdf(f"{title} - {name}", [
            f"Utstedt av {institution} for {name}.",
            "Dokumentet bekrefter beståtte emner med omfang, nivå og karakterer (æ ø å Æ Ø Å).",
        ], created)
        media_type = "application/pdf"
    return {"filename": filename, "mediaType": media_type,
            "contentBase64": base64.b64encode(data).decode("ascii"),
            "servedWithoutContentType": filename in _WITHOUT_CONTENT_TYPE}


def _laptop(today: date) -> list[dict[str, Any]]:
    bodies = []
    for index, row in enumerate(_LAPTOP):
        feide, model, location, cost, why, ago, needed, accessories, score, name = row
        answers: dict[str, Any] = {
            "feide": feide, "model": model, "location": location, "cost_centre": cost,
            "justification": why, "needed_by": (today + timedelta(days=needed)).strftime("%d.%m.%Y"),
            "accessories": accessories, "current_satisfaction": str(score)}
        bodies.append({"formId": LAPTOP_FORM_ID, "answers": answers,
                       "createdDate": _stamp(today, ago, 11 + index).isoformat(),
                       "person": {"name": name, "email": feide}, "answerTime": 61000 + 977 * index})
    return bodies


def _fritak(today: date) -> list[dict[str, Any]]:
    bodies = []
    for index, row in enumerate(_FRITAK):
        (name, student, birth, female, d_number, fault, courses, grounds, institution, completed,
         credits, level, files, ago) = row
        fnr = synthetic_fnr(birth, female=female, d_number=d_number, start=211 + 53 * index)
        if fault == "check-digit":
            fnr = wrong_check_digit(fnr)
        created = _stamp(today, ago, 31 + index)
        attachments: dict[str, list[dict[str, Any]]] = {}
        for number, (title, filename) in enumerate(files, 1):
            attachments[f"attachment_{number}"] = [_file(title, filename, name, institution, created)]
        email = f"{student}@oslomet.no"
        answers = {"name": name, "student_number": student, "fnr": fnr, "email": email,
                   "courses": courses, "grounds": grounds, "earlier_institution": institution,
                   "completed": completed, "credits": credits, "level": level}
        bodies.append({"formId": FRITAK_FORM_ID, "answers": answers, "attachments": attachments,
                       "createdDate": created.isoformat(), "person": {"name": name, "email": email},
                       "answerTime": 240000 + 13001 * index})
    return bodies


# (booker, room, people, days ahead, start, end, purpose, name)
_ROOMS: list[tuple[str, str, int, int, str, str, str, str]] = [
    ("s351234@oslomet.no", "P35-U102", 5, 3, "10:00", "12:00", "Kollokvie i DATA1100", "Ingeborg Ødegård"),
    ("s352345@oslomet.no", "any", 3, 5, "13:00", "14:30", "Gruppearbeid, bacheloroppgave", "Bjørn Åsheim"),
]


def _rooms(today: date) -> list[dict[str, Any]]:
    bodies = []
    for index, (booker, room, people, ahead, start, end, purpose, name) in enumerate(_ROOMS):
        answers = {"booker": booker, "room": room, "min_capacity": str(people),
                   "date": (today + timedelta(days=ahead)).strftime("%d.%m.%Y"), "start": start, "end": end,
                   "purpose": purpose}
        bodies.append({"formId": ROOMS_FORM_ID, "answers": answers,
                       "createdDate": _stamp(today, 1, 55 + index).isoformat(),  # after every other seed
                       "person": {"name": name, "email": booker}, "answerTime": 45000 + 1009 * index})
    return bodies


def seed_submissions(today: date) -> list[dict[str, Any]]:
    """Simple bodies (see :mod:`sandbox.nettskjema.answers`) with ``formId``, oldest first."""
    unshared = {"formId": UNSHARED_FORM_ID, "answers": {"trivsel": "6", "kommentar": "Godt arbeidsmiljø."},
                "createdDate": _stamp(today, 10, 5).isoformat(), "person": {"name": None, "email": None},
                "answerTime": 42000}
    bodies = [unshared, *_fritak(today), *_laptop(today), *_rooms(today)]
    return sorted(bodies, key=lambda body: str(body["createdDate"]))
