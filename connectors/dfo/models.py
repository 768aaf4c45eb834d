"""Pydantic models of the DFØ-SAP payloads (field names as DFØ spells them).

Tolerant the way production consumers have learnt to be: extra fields are ignored;
``""`` means absent; ids may come as numbers or strings; a one-element list may arrive
unwrapped and an empty one missing, or hold ``null``; ``9999-12-31`` closes an open period;
a job title may carry its SAP code (``"1011 Førsteamanuensis"``: the code is dropped).
Dates must be ``YYYY-MM-DD``. :func:`to_employee`, :func:`to_position` and
:func:`to_org_unit` map them to the hub's HR port models; employee ids become
:func:`~hub.ports.hr.canonical_employee_id`.

``fnr`` is a :class:`~pydantic.SecretStr` and never rejects the employee: a leading zero
lost to an integer (or to a spreadsheet: 10 digits) is restored when the check digits then
hold; anything else is kept as sent, and the port's
:attr:`~hub.ports.hr.Employee.national_id_status` says it is malformed, a placeholder
(a foreign hire without a Norwegian number yet: all zeros or ``…00100``) or invalid.
``annenId`` numbers (passports) are SecretStr too, and :func:`to_employee` registers them
with :func:`hub.privacy.remember_identifier` so the logs' masking hides them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from hub.ports.hr import (
    Employee,
    NationalIdStatus,
    OrgUnit,
    OtherId,
    Position,
    canonical_employee_id,
    national_id_status,
    plain_title,
)
from hub.privacy import remember_identifier

__all__ = [
    "AnnenId", "Tilleggsstilling", "Ansatt", "Innehaver", "Stillingskategori", "Stilling",
    "Leder", "Orgenhet", "to_employee", "to_position", "to_org_unit",
]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _blank(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else value


def _id(value: Any) -> Any:
    value = _blank(value)
    if isinstance(value, bool):
        raise ValueError("expected an identifier")
    return str(value) if isinstance(value, int) else value


def _date(value: Any) -> Any:
    value = _blank(value)
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)
    raise ValueError("expected a date as YYYY-MM-DD")


def _end_date(value: Any) -> Any:
    parsed = _date(value)
    return None if isinstance(parsed, date) and parsed.year == 9999 else parsed


def _list(value: Any) -> Any:
    if _blank(value) is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if item is not None]
    return value


def _flag(value: Any) -> Any:
    value = _blank(value)
    if value is None:
        return None
    return True if value == "X" else value


def _percent(value: Any) -> Any:
    value = _blank(value)
    return value.replace(",", ".") if isinstance(value, str) else value


def _title(value: Any) -> Any:
    """``"1011 Førsteamanuensis"`` → ``"Førsteamanuensis"`` (SAP's stillingskode in front)."""
    value = _blank(value)
    return plain_title(value) if isinstance(value, str) else value


def _fnr(value: Any) -> Any:
    """Never fails: a malformed number is kept (as a secret) for the service to judge."""
    value = _blank(value)
    if value is None or isinstance(value, SecretStr):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return SecretStr(str(value))
    text = str(value).replace(" ", "")
    if text.isdigit() and len(text) == 10:  # the leading zero went missing on the way
        restored = "0" + text
        if national_id_status(restored) in (NationalIdStatus.VALID, NationalIdStatus.SYNTHETIC):
            text = restored
    return SecretStr(text)


Text = Annotated[str | None, BeforeValidator(_blank)]
Title = Annotated[str | None, BeforeValidator(_title)]
DfoId = Annotated[str, BeforeValidator(_id)]
OptionalId = Annotated[str | None, BeforeValidator(_id)]
Day = Annotated[date | None, BeforeValidator(_date)]
EndDay = Annotated[date | None, BeforeValidator(_end_date)]
Flag = Annotated[bool | None, BeforeValidator(_flag)]
Percent = Annotated[float | None, BeforeValidator(_percent)]
NationalId = Annotated[SecretStr | None, BeforeValidator(_fnr)]


class DfoModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class AnnenId(DfoModel):
    """Another identity document (passport, foreign national id)."""

    idType: Text = None
    idBeskrivelse: Text = None
    idNr: Annotated[SecretStr | None, BeforeValidator(_id)] = None
    idStartdato: Day = None
    idSluttdato: EndDay = None
    idLand: Text = None


class Tilleggsstilling(DfoModel):
    stillingId: OptionalId = None
    startdato: Day = None
    sluttdato: EndDay = None
    dellonnsprosent: Percent = None
    ekstraStilling: Text = None


class Ansatt(DfoModel):
    """``ansatte/{id}`` → ``{"ansatt": [Ansatt]}``."""

    id: DfoId
    brukerident: Text = None
    dfoBrukerident: Text = None
    eksternIdent: Text = None
    tittel: Title = None
    fornavn: Text = None
    etternavn: Text = None
    fnr: NationalId = None
    annenId: Annotated[list[AnnenId], BeforeValidator(_list)] = Field(
        default_factory=list, validation_alias=AliasChoices("annenId", "annenID", "annenid", "annen_id"))
    fdato: Day = None
    kjonn: Text = None
    medarbeidergruppe: OptionalId = None
    medarbeiderundergruppe: OptionalId = None
    startdato: Day = None
    sluttdato: EndDay = None
    stillingId: OptionalId = Field(None, validation_alias=AliasChoices("stillingId", "stillingsId",
                                                                        "stilling_id"))
    dellonnsprosent: Percent = None
    kostnadssted: OptionalId = None
    organisasjonId: OptionalId = Field(None, validation_alias=AliasChoices("organisasjonId", "organisasjonsId",
                                                                           "organisasjon_id"))
    tilleggsstilling: Annotated[list[Tilleggsstilling], BeforeValidator(_list)] = Field(
        default_factory=list)
    lederflagg: Flag = False
    eksternbruker: Flag = True
    reservasjonPublisering: Flag = False
    epost: Text = None
    tjenestetelefon: Text = None
    mobilnummer: Text = None
    endretDato: Day = None


class Innehaver(DfoModel):
    innehaverAnsattnr: OptionalId = None
    innehaverStartdato: Day = None
    innehaverSluttdato: EndDay = None


class Stillingskategori(DfoModel):
    stillingskatId: OptionalId = None
    stillingskatStartdato: Day = None
    stillingskatSluttdato: EndDay = None
    stillingskatBetegn: Text = None


class Stilling(DfoModel):
    """``stillinger/{id}`` → ``{"stilling": [Stilling]}``."""

    id: DfoId
    stillingsnavn: Title = None
    stillingskode: OptionalId = None
    stillingstittel: Title = None
    organisasjonId: OptionalId = Field(
        None, validation_alias=AliasChoices("organisasjonId", "organisasjon_id"))
    yrkeskode: Text = None
    yrkeskodetekst: Text = None
    innehaver: Annotated[list[Innehaver], BeforeValidator(_list)] = Field(default_factory=list)
    stillingskat: Annotated[list[Stillingskategori], BeforeValidator(_list)] = Field(
        default_factory=list)


class Leder(DfoModel):
    lederAnsattnr: OptionalId = None
    lederBrukerident: Text = None


class Orgenhet(DfoModel):
    """``orgenhet/{id}`` → ``{"organisasjon": [Orgenhet]}``."""

    id: DfoId
    orgKortnavn: Text = None
    organisasjonsnavn: Text = None
    leder: Annotated[list[Leder], BeforeValidator(_list)] = Field(default_factory=list)
    type: Text = None
    orgKostnadssted: OptionalId = None
    overordnOrgenhetId: OptionalId = None
    dbhKode: Text = None
    lokasjonId: Text = None


_PASSPORT_TYPES = {"02"}  # DFØ's idType for "Passnummer"


def _other_id(annen: AnnenId) -> OtherId | None:
    if annen.idNr is None:
        return None
    number = annen.idNr.get_secret_value()
    remember_identifier(number)  # from now on, masked in this process's logs
    described = (annen.idBeskrivelse or "").lower()
    kind = ("passport" if annen.idType in _PASSPORT_TYPES or "pass" in described
            else annen.idBeskrivelse or f"id type {annen.idType or '?'}")
    return OtherId(kind=kind, number=annen.idNr, country=annen.idLand, valid_until=annen.idSluttdato)


def to_employee(ansatt: Ansatt) -> Employee:
    national_id = ansatt.fnr
    if national_id is not None and national_id_status(national_id.get_secret_value()) not in (
            NationalIdStatus.VALID, NationalIdStatus.SYNTHETIC):
        remember_identifier(national_id.get_secret_value())  # a malformed number escapes the shape mask
    others = [o for o in (_other_id(a) for a in ansatt.annenId) if o is not None]
    return Employee(
        id=canonical_employee_id(ansatt.id),
        first_name=ansatt.fornavn or "",
        last_name=ansatt.etternavn or "",
        national_id=national_id,
        other_ids=tuple(others),
        birth_date=ansatt.fdato,
        username=ansatt.brukerident,
        email=ansatt.epost,
        position_id=ansatt.stillingId,
        org_unit_id=ansatt.organisasjonId,
        title=ansatt.tittel,
        start_date=ansatt.startdato,
        end_date=ansatt.sluttdato,
        is_manager=bool(ansatt.lederflagg),
        reserved_from_publication=bool(ansatt.reservasjonPublisering),
        employee_group=ansatt.medarbeidergruppe,
        cost_centre=ansatt.kostnadssted,
    )


def to_position(stilling: Stilling) -> Position:
    return Position(
        id=stilling.id,
        title=stilling.stillingstittel or stilling.stillingsnavn or "",
        org_unit_id=stilling.organisasjonId,
        position_code=stilling.stillingskode,
    )


def to_org_unit(orgenhet: Orgenhet) -> OrgUnit:
    manager = next((canonical_employee_id(leder.lederAnsattnr) for leder in orgenhet.leder
                    if leder.lederAnsattnr), None)
    return OrgUnit(
        id=orgenhet.id,
        name=orgenhet.organisasjonsnavn or orgenhet.orgKortnavn or orgenhet.id,
        short_name=orgenhet.orgKortnavn,
        parent_id=orgenhet.overordnOrgenhetId,
        manager_id=manager,
        location=orgenhet.lokasjonId,
    )
