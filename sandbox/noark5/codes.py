"""The code lists (kodelister) the sandbox knows, as N5WS v1.1 chapter 7 "Kodelister" lists them.

``CODE_LISTS`` holds every list the standard names for the two packages the sandbox
serves (Arkivstruktur and Sakarkiv), keyed by the field name that uses it, with the
values and ``kodenavn`` from the standard's tables. ``land`` and ``postnummer`` are
external registers in the standard (ISO 3166, Posten); the sandbox carries a few values
of each. A client adds values with the list's ``metadata/ny-<liste>/`` relation; those
live in the store (see :mod:`sandbox.noark5.metadata`).

``VSM_FIELDS`` is the catalogue of virksomhetsspesifikkeMetadata fields the sandbox
knows from the start: the ones the hub writes (``connectors.n5ws``).
"""

from __future__ import annotations

import uuid

__all__ = ["CODE_LISTS", "VSM_FIELDS", "VSM_TYPES", "rel_name"]

CODE_LISTS: dict[str, dict[str, str]] = {
    # Arkivstruktur
    "arkivdelstatus": {"A": "Aktiv periode", "O": "Overlappingsperiode", "P": "Avsluttet periode",
                       "U": "Uaktuelle mapper"},
    "arkivstatus": {"O": "Opprettet", "A": "Avsluttet"},
    "dokumentmedium": {"F": "Fysisk medium", "E": "Elektronisk arkiv",
                       "B": "Blandet fysisk og elektronisk arkiv"},
    "dokumentstatus": {"B": "Dokumentet er under redigering", "F": "Dokumentet er ferdigstilt"},
    "dokumenttype": {"B": "Brev", "R": "Rundskriv", "F": "Faktura", "O": "Ordrebekreftelse"},
    "format": {"av/0": "Ukjent format", "x-fmt/111": "Ren tekst", "fmt/353": "TIFF versjon 6",
               "fmt/95": "PDF/A 1a - ISO 19005-1:2005", "fmt/354": "PDF/A 1b - ISO 19005-1:2005",
               "fmt/101": "XML", "fmt/42": "JPEG", "av/1": "SOSI", "x-fmt/386": "MPEG-2",
               "fmt/134": "MP3", "fmt/11": "PNG"},
    "graderingskode": {"SH": "Strengt hemmelig (sikkerhetsgrad)", "H": "Hemmelig (sikkerhetsgrad)",
                       "K": "Konfidensielt (sikkerhetsgrad)", "B": "Begrenset (sikkerhetsgrad)",
                       "F": "Fortrolig (beskyttelsesgrad)", "SF": "Strengt fortrolig (beskyttelsesgrad)"},
    "kassasjonsvedtak": {"B": "Bevares", "K": "Kasseres", "G": "Vurderes senere"},
    "klassifikasjonstype": {"GBN": "Gårds- og bruksnummer", "FH": "Funksjonsbasert, hierarkisk",
                            "EH": "Emnebasert, hierarkisk arkivnøkkel", "E1": "Emnebasert, ett nivå",
                            "KK": "K-koder", "MF": "Mangefasettert, ikke hierarki",
                            "UO": "Objektbasert", "PNR": "Fødselsnummer"},
    "koordinatsystem": {"EPSG:32632": "UTM32N", "EPSG:4326": "WGS84"},
    "merknadstype": {"MS": "Merknad fra saksbehandler", "ML": "Merknad fra leder",
                     "MA": "Merknad fra arkivansvarlig"},
    "skjermingDokument": {"H": "Skjerming av hele dokumentet", "D": "Skjerming av deler av dokumentet"},
    "skjermingMetadata": {"KID": "Skjerming klasseID", "TKL": "Skjerming tittel klasse",
                          "TM1": "Skjerming tittel mappe - unntatt første linje",
                          "TMO": "Skjerming tittel mappe - utvalgte ord",
                          "NPS": "Skjerming navn part i sak",
                          "TR1": "Skjerming tittel registrering - unntatt første linje",
                          "TRO": "Skjerming tittel registrering - utvalgte ord",
                          "NA": "Skjerming navn avsender", "NM": "Skjerming navn mottaker",
                          "TD": "Skjerming tittel dokumentbeskrivelse", "MT": "Skjerming merknadstekst",
                          "M": "Midlertidig skjerming"},
    "slettingstype": {"SP": "Sletting av produksjonsformat", "SV": "Sletting av tidligere versjon",
                      "SS": "Sletting av variant med sladdet informasjon",
                      "SA": "Sletting av hele innholdet i arkivdelen"},
    "tilknyttetRegistreringSom": {"H": "Hoveddokument", "V": "Vedlegg"},
    "variantformat": {"P": "Produksjonsformat", "A": "Arkivformat",
                      "O": "Dokument hvor deler av innholdet er skjermet"},
    # Sakarkiv
    "avskrivningsmaate": {"BU": "Besvart med brev", "BE": "Besvart med e-post", "TLF": "Besvart på telefon",
                          "TE": "Tatt til etterretning", "TO": "Tatt til orientering",
                          "BN": "Besvart med notat", "SA": "Saken ble avsluttet"},
    "elektroniskSignaturSikkerhetsnivaa": {"SK": "Symmetrisk kryptert",
                                           "V": "Sendt med PKI/virksomhetssertifikat",
                                           "PS": 'Sendt med PKI/"person standard"-sertifikat',
                                           "PH": 'Sendt med PKI/"person høy"-sertifikat'},
    "elektroniskSignaturVerifisert": {"I": "Signatur påført, ikke verifisert",
                                      "V": "Signatur påført og verifisert"},
    "flytStatus": {"G": "Godkjent", "I": "Ikke godkjent",
                   "S": "Sendt tilbake til saksbehandler med kommentarer"},
    "journalposttype": {"I": "Inngående dokument", "U": "Utgående dokument",
                        "N": "Organinternt dokument for oppfølging",
                        "X": "Organinternt dokument uten oppfølging", "S": "Saksframlegg"},
    "journalstatus": {"J": "Journalført", "F": "Ferdigstilt fra saksbehandler",
                      "G": "Godkjent av leder", "E": "Ekspedert", "A": "Arkivert",
                      "U": "Utgår", "M": "Midlertidig registrering av innkommet dokument",
                      "S": "Saksbehandler har registrert innkommet dokument",
                      "R": "Reservert dokument"},
    "korrespondanseparttype": {"EA": "Avsender", "EM": "Mottaker", "EK": "Kopimottaker",
                               "GM": "Gruppemottaker", "IA": "Intern avsender", "IM": "Intern mottaker",
                               "IK": "Intern kopimottaker", "IS": "Medavsender"},
    "land": {"NO": "Norge", "SE": "Sverige", "DK": "Danmark", "FI": "Finland", "IS": "Island"},
    "postnummer": {"0130": "OSLO", "0167": "OSLO", "2007": "KJELLER", "5020": "BERGEN",
                   "7030": "TRONDHEIM", "9019": "TROMSØ"},
    "presedensStatus": {"G": "Gjeldende", "F": "Foreldet"},
    "partRolle": {"KLI": "Klient", "PAA": "Pårørende", "FORM": "Formynder", "ADV": "Advokat"},
    "saksstatus": {"B": "Under behandling", "A": "Avsluttet", "U": "Utgår",
                   "R": "Opprettet av saksbehandler", "S": "Avsluttet av saksbehandler",
                   "P": "Unntatt prosesstyring", "F": "Ferdig fra saksbehandler"},
}

VSM_TYPES = ("boolean", "date", "datetime", "integer", "decimal", "string", "uri")
"""The field types chapter 7 (VirksomhetsspesifikkeMetadata) allows."""

_VSM_NS = uuid.UUID("6b0f6d5e-1f43-4c1e-9a57-5d3c1f0a9e21")


def _vsm(navn: str, type_: str, beskrivelse: str) -> dict[str, str]:
    return {"systemID": str(uuid.uuid5(_VSM_NS, navn)), "navn": navn, "type": type_,
            "beskrivelse": beskrivelse}


VSM_FIELDS: tuple[dict[str, str], ...] = (
    _vsm("vnd-oslomet-v1:eksternid", "string",
         "Kildesystemets nøkkel for saken eller journalposten (f.eks. nettskjema:42); "
         "integrasjonshuben søker på den før den oppretter noe"),
    _vsm("vnd-oslomet-v1:klassering", "string",
         "Arkivkoden (klassering) saken skal ha, f.eks. 221"),
)


def rel_name(code_list: str) -> str:
    """The list's name in its relation: lower case (``tilknyttetregistreringsom``)."""
    return code_list.lower()
