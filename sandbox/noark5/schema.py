"""What the sandbox knows about each Noark 5 entity: fields, code lists, required values.

Field names and code lists follow N5WS v1.1 chapter 7 (and the code list appendix) for
the entities the sandbox serves: arkiv, arkivdel, saksmappe, journalpost,
korrespondansepartperson, dokumentbeskrivelse and dokumentobjekt. A POST or PUT with a
field the entity does not have, an unknown code or a date without a time zone is
answered 400, as a strict core would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "CODE_LISTS",
    "KINDS",
    "Kind",
    "SERVER_FIELDS",
    "ValidationError",
    "parse_temporal",
    "validate",
]


class ValidationError(ValueError):
    """The object is not a legal instance of its entity (answered 400)."""


CODE_LISTS: dict[str, dict[str, str]] = {
    "journalposttype": {"I": "Inngående dokument", "U": "Utgående dokument",
                        "N": "Organinternt dokument for oppfølging",
                        "X": "Organinternt dokument uten oppfølging", "S": "Saksframlegg"},
    "journalstatus": {"J": "Journalført", "F": "Ferdigstilt fra saksbehandler",
                      "G": "Godkjent av leder", "E": "Ekspedert", "A": "Arkivert",
                      "U": "Utgår", "M": "Midlertidig registrering av innkommet dokument",
                      "S": "Saksbehandler har registrert innkommet dokument",
                      "R": "Reservert dokument"},
    "dokumenttype": {"B": "Brev", "R": "Rundskriv", "F": "Faktura", "O": "Ordrebekreftelse"},
    "dokumentstatus": {"B": "Dokumentet er under redigering", "F": "Dokumentet er ferdigstilt"},
    "tilknyttetRegistreringSom": {"H": "Hoveddokument", "V": "Vedlegg"},
    "korrespondanseparttype": {"EA": "Avsender", "EM": "Mottaker", "EK": "Kopimottaker",
                               "IA": "Intern avsender", "IM": "Intern mottaker",
                               "IK": "Intern kopimottaker", "IS": "Intern sekundær"},
    "saksstatus": {"B": "Under behandling", "A": "Avsluttet", "U": "Utgår",
                   "R": "Opprettet av saksbehandler", "S": "Avsluttet av saksbehandler",
                   "P": "Unntatt prosesstyring", "F": "Ferdigstilt fra saksbehandler"},
    "variantformat": {"P": "Produksjonsformat", "A": "Arkivformat",
                      "O": "Dokument hvor deler av innholdet er skjermet"},
    "format": {"fmt/354": "PDF/A - ISO 19005-1:2005 (PDF 1.4) - Part 1B",
               "fmt/95": "PDF/A - ISO 19005-1:2005 (PDF 1.4) - Part 1A",
               "av/0": "Ukjent format"},
    "dokumentmedium": {"E": "Elektronisk arkiv", "F": "Fysisk arkiv",
                       "B": "Blandet fysisk og elektronisk arkiv"},
    "arkivstatus": {"O": "Opprettet", "A": "Avsluttet"},
    "arkivdelstatus": {"A": "Aktiv periode", "O": "Overlappingsperiode", "P": "Avsluttet periode",
                       "U": "Uaktuelle mapper"},
}

_ARKIVENHET = {"systemID", "opprettetDato", "opprettetAv", "referanseOpprettetAv",
               "endretDato", "endretAv", "referanseEndretAv"}
_CLOSING = {"avsluttetDato", "avsluttetAv", "referanseAvsluttetAv"}
_RETENTION = {"kassasjon", "utfoertKassasjon", "sletting", "skjerming", "gradering"}
_MAPPE = {"mappeID", "tittel", "offentligTittel", "beskrivelse", "noekkelord", "dokumentmedium",
          "oppbevaringssted", "referanseForelderMappe", "virksomhetsspesifikkeMetadata",
          *_CLOSING, *_RETENTION}
_REGISTRERING = {"arkivertDato", "arkivertAv", "referanseArkivertAv", "referanseArkivdel",
                 "registreringsID", "tittel", "offentligTittel", "beskrivelse", "noekkelord",
                 "forfatter", "dokumentmedium", "oppbevaringssted",
                 "virksomhetsspesifikkeMetadata", *_RETENTION}

SERVER_FIELDS = frozenset({
    "systemID", "opprettetDato", "opprettetAv", "referanseOpprettetAv", "endretDato",
    "endretAv", "referanseEndretAv", "mappeID", "saksaar", "sakssekvensnummer", "journalaar",
    "journalsekvensnummer", "journalpostnummer", "registreringsID", "dokumentnummer",
    "referanseDokumentfil", "tilknyttetDato", "tilknyttetAv",
})
"""Set by the core; a client's value is ignored on create and update."""


@dataclass(frozen=True)
class Kind:
    """One entity type: where it lives in the API and what a legal instance holds."""

    name: str
    package: str
    fields: frozenset[str]
    required: tuple[str, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)

    @property
    def entity_rel(self) -> str:
        return f"{self.package}/{self.name}/"


def _kind(name: str, package: str, fields: set[str], required: tuple[str, ...] = ("tittel",),
          codes: tuple[str, ...] = ()) -> Kind:
    return Kind(name=name, package=package, fields=frozenset(fields | _ARKIVENHET),
                required=required, codes={c: c for c in codes})


KINDS: dict[str, Kind] = {k.name: k for k in [
    _kind("arkiv", "arkivstruktur",
          {"tittel", "beskrivelse", "arkivstatus", "dokumentmedium", "oppbevaringssted", *_CLOSING},
          codes=("arkivstatus", "dokumentmedium")),
    _kind("arkivdel", "arkivstruktur",
          {"tittel", "beskrivelse", "arkivdelstatus", "dokumentmedium", "oppbevaringssted",
           "arkivperiodeStartDato", "arkivperiodeSluttDato", "referanseForloeper",
           "referanseArvtaker", *_CLOSING, *_RETENTION},
          codes=("arkivdelstatus", "dokumentmedium")),
    _kind("saksmappe", "sakarkiv",
          {*_MAPPE, "saksaar", "sakssekvensnummer", "saksdato", "administrativEnhet",
           "referanseAdministrativEnhet", "saksansvarlig", "referanseSaksansvarlig",
           "journalenhet", "saksstatus", "utlaantDato", "utlaantTil", "referanseUtlaantTil"},
          codes=("saksstatus", "dokumentmedium")),
    _kind("journalpost", "sakarkiv",
          {*_REGISTRERING, "journalaar", "journalsekvensnummer", "journalpostnummer",
           "journalposttype", "journalstatus", "journaldato", "dokumentetsDato", "mottattDato",
           "sendtDato", "forfallsdato", "offentlighetsvurdertDato", "antallVedlegg",
           "utlaantDato", "utlaantTil", "referanseUtlaantTil", "journalenhet",
           "elektroniskSignatur"},
          codes=("journalposttype", "journalstatus", "dokumentmedium")),
    _kind("korrespondansepartperson", "arkivstruktur",
          {"korrespondanseparttype", "virksomhetsspesifikkeMetadata", "personidentifikator",
           "navn", "postadresse", "bostedsadresse", "kontaktinformasjon"},
          required=("navn",), codes=("korrespondanseparttype",)),
    _kind("dokumentbeskrivelse", "arkivstruktur",
          {"dokumenttype", "dokumentstatus", "tittel", "beskrivelse", "forfatter",
           "dokumentmedium", "oppbevaringssted", "tilknyttetRegistreringSom", "dokumentnummer",
           "tilknyttetDato", "tilknyttetAv", "referanseTilknyttetAv", "elektroniskSignatur",
           "eksternReferanse", "virksomhetsspesifikkeMetadata", *_RETENTION},
          codes=("dokumenttype", "dokumentstatus", "tilknyttetRegistreringSom", "dokumentmedium")),
    _kind("dokumentobjekt", "arkivstruktur",
          {"versjonsnummer", "variantformat", "format", "formatDetaljer", "referanseDokumentfil",
           "filnavn", "sjekksum", "mimeType", "sjekksumAlgoritme", "filstoerrelse",
           "elektroniskSignatur"},
          required=(), codes=("variantformat", "format")),
]}

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})$")
_DATE_FIELD = re.compile(r"(Dato|dato)$")


def parse_temporal(value: Any) -> datetime | date | None:
    """An ISO 8601 date or date-time *with* time zone, or None if it is not one."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    match = _DATE.match(value)
    if match:
        return date(int(match[1]), int(match[2]), int(match[3]))
    if "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _check_code(name: str, value: Any, code_list: str) -> dict[str, Any]:
    if isinstance(value, str):  # tolerate a bare code; stored as an object
        value = {"kode": value}
    if not isinstance(value, dict) or not isinstance(value.get("kode"), str):
        raise ValidationError(f"{name} must be a code object like {{\"kode\": \"...\"}}")
    known = CODE_LISTS[code_list]
    if value["kode"] not in known:
        raise ValidationError(f"unknown {name} kode '{value['kode']}'; "
                              f"allowed: {', '.join(sorted(known))}")
    return {**value, "kodenavn": value.get("kodenavn") or known[value["kode"]]}


def validate(kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    """Return a cleaned copy of ``data`` or raise :class:`ValidationError`."""
    unknown = sorted(k for k in data if k not in kind.fields and k != "_links")
    if unknown:
        raise ValidationError(f"{kind.name} has no field(s) {', '.join(unknown)}")
    clean = {k: v for k, v in data.items() if k != "_links" and v is not None}
    for name in kind.required:
        value = clean.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{name} is required for {kind.name}")
    for name, code_list in kind.codes.items():
        if name in clean:
            clean[name] = _check_code(name, clean[name], code_list)
    for name, value in clean.items():
        if _DATE_FIELD.search(name) and name not in SERVER_FIELDS and parse_temporal(value) is None:
            raise ValidationError(f"{name} must be an ISO 8601 date or date-time with time zone, "
                                  f"got {value!r}")
    bsm = clean.get("virksomhetsspesifikkeMetadata")
    if bsm is not None and not isinstance(bsm, dict):
        raise ValidationError("virksomhetsspesifikkeMetadata must be a JSON object")
    if kind.name == "dokumentobjekt" and "filstoerrelse" in clean:
        size = clean["filstoerrelse"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValidationError("filstoerrelse must be a non-negative JSON number")
    return clean
