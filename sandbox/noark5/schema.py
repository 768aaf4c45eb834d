"""What the sandbox knows about each Noark 5 entity: fields, code lists, required values.

Field names and code lists follow N5WS v1.1 chapter 7 (and the code list appendix) for
the entities the sandbox serves: arkivskaper, arkiv, arkivdel, mappe, saksmappe,
registrering, journalpost, korrespondansepartperson, dokumentbeskrivelse and dokumentobjekt. A POST or PUT with a
field the entity does not have, an unknown code or a date without a time zone is
answered 400, as a strict core would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sandbox.noark5.codes import CODE_LISTS

__all__ = [
    "CODE_LISTS",
    "KINDS",
    "Kind",
    "SERVER_FIELDS",
    "ValidationError",
    "VsmTypes",
    "parse_temporal",
    "validate",
]


class ValidationError(ValueError):
    """The object is not a legal instance of its entity (answered 400)."""


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
    _kind("arkivskaper", "arkivstruktur", {"arkivskaperID", "arkivskaperNavn", "beskrivelse"},
          required=("arkivskaperID", "arkivskaperNavn")),
    _kind("arkiv", "arkivstruktur",
          {"tittel", "beskrivelse", "arkivstatus", "dokumentmedium", "oppbevaringssted", *_CLOSING},
          codes=("arkivstatus", "dokumentmedium")),
    _kind("arkivdel", "arkivstruktur",
          {"tittel", "beskrivelse", "arkivdelstatus", "dokumentmedium", "oppbevaringssted",
           "arkivperiodeStartDato", "arkivperiodeSluttDato", "referanseForloeper",
           "referanseArvtaker", *_CLOSING, *_RETENTION},
          codes=("arkivdelstatus", "dokumentmedium")),
    _kind("mappe", "arkivstruktur", _MAPPE, codes=("dokumentmedium",)),
    _kind("saksmappe", "sakarkiv",
          {*_MAPPE, "saksaar", "sakssekvensnummer", "saksdato", "administrativEnhet",
           "referanseAdministrativEnhet", "saksansvarlig", "referanseSaksansvarlig",
           "journalenhet", "saksstatus", "utlaantDato", "utlaantTil", "referanseUtlaantTil"},
          codes=("saksstatus", "dokumentmedium")),
    _kind("registrering", "arkivstruktur", _REGISTRERING, codes=("dokumentmedium",)),
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


CodeLists = Mapping[str, Mapping[str, str]]
VsmTypes = Mapping[str, str]
"""virksomhetsspesifikkeMetadata field name → its type in the catalogue."""


def _check_code(name: str, value: Any, known: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(value, str):  # tolerate a bare code; stored as an object
        value = {"kode": value}
    if not isinstance(value, dict) or not isinstance(value.get("kode"), str):
        raise ValidationError(f"{name} must be a code object like {{\"kode\": \"...\"}}")
    if value["kode"] not in known:
        raise ValidationError(f"unknown {name} kode '{value['kode']}'; "
                              f"allowed: {', '.join(sorted(known))}")
    return {**value, "kodenavn": value.get("kodenavn") or known[value["kode"]]}


def _fits(type_: str, value: Any) -> bool:
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "decimal":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == "date":
        return isinstance(parse_temporal(value), date) and not isinstance(parse_temporal(value), datetime)
    if type_ == "datetime":
        return isinstance(parse_temporal(value), datetime)
    return isinstance(value, str)  # string, uri


def _check_vsm(bsm: Any, types: VsmTypes) -> None:
    """A JSON object; a field the catalogue knows must hold a value of its type."""
    if not isinstance(bsm, dict):
        raise ValidationError("virksomhetsspesifikkeMetadata must be a JSON object")
    for name, value in bsm.items():
        type_ = types.get(name)
        if type_ is not None and value is not None and not _fits(type_, value):
            raise ValidationError(f"virksomhetsspesifikkeMetadata field {name} is of type {type_} "
                                  f"(see the metadata catalogue), got {value!r}")


def validate(kind: Kind, data: dict[str, Any], codes: CodeLists | None = None,
             vsm: VsmTypes | None = None) -> dict[str, Any]:
    """Return a cleaned copy of ``data`` or raise :class:`ValidationError`.

    ``codes`` are the code lists to check against (default: the standard's); ``vsm`` the
    virksomhetsspesifikkeMetadata catalogue's field types.
    """
    codes = CODE_LISTS if codes is None else codes
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
            clean[name] = _check_code(name, clean[name], codes[code_list])
    for name, value in clean.items():
        if _DATE_FIELD.search(name) and name not in SERVER_FIELDS and parse_temporal(value) is None:
            raise ValidationError(f"{name} must be an ISO 8601 date or date-time with time zone, "
                                  f"got {value!r}")
    if "virksomhetsspesifikkeMetadata" in clean:
        _check_vsm(clean["virksomhetsspesifikkeMetadata"], vsm or {})
    if kind.name == "dokumentobjekt" and "filstoerrelse" in clean:
        size = clean["filstoerrelse"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValidationError("filstoerrelse must be a non-negative JSON number")
    return clean
