"""The Public 360 sandbox's data: one JSON file in ``--data-dir``, plus the standard code tables.

Every change is written back at once (a temporary file then replaces the store), so a
restart keeps cases, documents, files and contacts. One lock guards every
read-modify-write sequence (record numbers, case and document sequences).

Code tables are those of a standard install (SIF manual §10; see
/work/shared/reference/public360-sif.md §4). A code-table property accepts the code
(``"B"``, ``"J"``), its description (``"Dokument inn"``), ``"recno:<n>"`` or a bare recno.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.common import JsonFileStore

__all__ = ["P360Store", "CodeTable", "CASE_STATUS", "DOCUMENT_STATUS", "DOCUMENT_CATEGORY", "CONTACT_ROLE",
           "CASE_ROLE", "ACCESS_CODE", "LAW", "SUB_ARCHIVE", "DOCUMENT_ARCHIVE", "CASE_TYPE", "CLOSED_CASE",
           "CODE_TABLES", "sif_now", "CUSTOM_FIELDS"]


class CodeTable:
    """``(recno, code, description)`` rows; :meth:`find` takes any of the accepted spellings."""

    def __init__(self, name: str, rows: list[tuple[int, str, str]], extra: dict[str, str] | None = None) -> None:
        self.name = name
        self.rows = rows
        self.extra = extra or {}  # code → another column (the journal type of a category)

    def find(self, value: Any) -> tuple[int, str, str] | None:
        text = str(value).strip() if value is not None else ""
        if not text:
            return None
        if text.lower().startswith("recno:"):
            text = text[6:].strip()
            return next((r for r in self.rows if str(r[0]) == text), None)
        for row in self.rows:
            if text.casefold() in (row[1].casefold(), row[2].casefold()):
                return row
        return next((r for r in self.rows if str(r[0]) == text), None)  # a bare number "sometimes" works

    def description(self, code: str) -> str:
        row = self.find(code)
        return row[2] if row else code

    def rows_json(self) -> list[dict[str, Any]]:
        return [{"Recno": r, "Code": c, "Description": d, "IsExpired": False, "Language": "NOR"}
                for r, c, d in self.rows]


CASE_STATUS = CodeTable("code table: Case status", [
    (4, "R", "Reservert"), (5, "B", "Under behandling"), (6, "A", "Avsluttet"),
    (7, "X", "Ikke gjenstand for oppfølging"), (8, "U", "Utgår"), (9, "KU", "Kopiert utdrag"),
    (17, "AS", "Avsluttet av saksbehandler")])
CLOSED_CASE = frozenset({"A", "AS", "U"})
DOCUMENT_STATUS = CodeTable("code table: Journal status", [
    (1, "R", "Reservert"), (2, "M", "Midlertidig journalført"), (3, "S", "Registrert av ansvarlig"),
    (4, "F", "Ferdig fra ansvarlig"), (5, "E", "Ekspedert"), (6, "J", "Journalført"),
    (7, "A", "Registrering avsluttet"), (8, "U", "Utgår"), (9, "T", "Til godkjenning"), (10, "G", "Godkjent"),
    (11, "I", "Ikke godkjent"), (12, "K", "Til kommentering")])
DOCUMENT_CATEGORY = CodeTable("code table: Document category", [
    (110, "110", "Dokument inn"), (111, "111", "Dokument ut"), (112, "112", "Referat"),
    (113, "113", "Internt notat med oppfølging"), (114, "114", "E-post inn"), (115, "115", "E-post ut"),
    (118, "118", "Møteinnkalling"), (125, "125", "Kontrakt"), (218, "218", "Saksfremlegg/innstilling"),
    (60005, "60005", "Internt notat uten oppfølging"), (60006, "60006", "Vedtak")],
    extra={"110": "I", "111": "U", "112": "N", "113": "N", "114": "I", "115": "U", "118": "U", "125": "N",
           "218": "S", "60005": "X", "60006": "U"})
JOURNAL_TYPE = {"I": "Inngående dokument", "U": "Utgående dokument", "N": "Organinternt dokument for oppfølging",
                "X": "Organinternt dokument uten oppfølging", "S": "Saksframlegg"}
CONTACT_ROLE = CodeTable("code table: Activity - Contact role", [
    (1, "1", "Kontakt"), (5, "5", "Avsender"), (6, "6", "Mottaker"), (7, "7", "Medavsender"),
    (8, "8", "Kopi til"), (20, "20", "Blindkopi")])
CASE_ROLE = CodeTable("code table: Contact - Case role", [(1, "1", "Sakspart"), (2, "2", "Kontakt")])
ACCESS_CODE = CodeTable("code table: Access code", [
    (0, "U", "Offentlig"), (13, "13", "Taushetsplikt"), (14, "14", "Organinterne dokument"),
    (25, "25", "Personalsaker"), (26, "26", "Personopplysninger")])
LAW = CodeTable("code table: Law", [
    (1, "13", "Offl. § 13 jf. fvl. § 13 (1) nr.1"), (2, "14", "Offl. § 14"), (3, "25", "Offl. § 25"),
    (4, "26", "Offl. § 26 femte ledd")])
SUB_ARCHIVE = CodeTable("Noark Subarchive", [
    (4, "Elev", "Elev"), (60001, "Sakarkiv", "Sakarkiv"), (60002, "Personalarkiv", "Personalarkiv"),
    (60003, "Studentarkiv", "Studentarkiv")])
DOCUMENT_ARCHIVE = CodeTable("code table: Document archive", [
    (2, "Saksdokument", "Saksdokument"), (3, "Elevdokument", "Elevdokument"),
    (4, "Personaldokument", "Personaldokument")])
CASE_TYPE = CodeTable("code table: Case type", [(2, "Sak", "Noark sak"), (3, "Elev", "Elevmappe"),
                                                (4, "Personal", "Personalmappe")])
CODE_TABLES = {t.name: t for t in (CASE_STATUS, DOCUMENT_STATUS, DOCUMENT_CATEGORY, CONTACT_ROLE, CASE_ROLE,
                                   ACCESS_CODE, LAW, SUB_ARCHIVE, DOCUMENT_ARCHIVE, CASE_TYPE)}

# The installation's meta-model: the custom fields (AdditionalFields) it knows, per entity.
# Any other name is silently ignored, as SIF does (SIF manual §4.4.4).
CUSTOM_FIELDS = {"case": ("CF_hubReference",), "document": ("CF_hubReference",)}


def sif_now(moment: datetime | None = None) -> str:
    """SIF's output format: local time without an offset, ``2026-12-02T11:37:38``."""
    return (moment or datetime.now()).strftime("%Y-%m-%dT%H:%M:%S")


def _empty() -> dict[str, Any]:
    return {"counters": {"recno": 200000, "cases": {}}, "cases": {}, "documents": {}, "files": {},
            "contacts": {}, "external_types": ["SIF WS Case", "SI WS Case"]}


class P360Store(JsonFileStore):
    filename = "p360.json"

    def fresh(self) -> dict[str, Any]:
        return _empty()

    def next_recno(self) -> int:
        counters = self.data["counters"]
        counters["recno"] = int(counters["recno"]) + 1
        return int(counters["recno"])

    def next_case_number(self, now: datetime) -> str:
        """``26/00012``: two-digit year, then a sequence per year."""
        year = now.strftime("%y")
        per_year = self.data["counters"]["cases"]
        per_year[year] = int(per_year.get(year, 0)) + 1
        return f"{year}/{per_year[year]:05d}"

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in self.data.items() if isinstance(value, dict) and name != "counters"}
