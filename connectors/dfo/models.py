"""Pydantic models of the DFØ-SAP payloads (field names as DFØ spells them).

Tolerant the way production consumers have learnt to be: extra fields are ignored;
``""`` means absent; ids may come as numbers or strings; a one-element list may arrive
unwrapped and an empty one missing; ``9999-12-31`` closes an open period; ``fnr`` is a
:class:`~pydantic.SecretStr` (a leading zero lost to an integer is restored). Dates must
be ``YYYY-MM-DD``. :func:`to_employee`, :func:`to_position` and :func:`to_org_unit` map
them to the hub's HR port models.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from hub.ports.hr import Employee, OrgUnit, Position

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


def _fnr(value: Any) -> Any:
    value = _blank(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:011d}"
    if isinstance(value, str):
        value = value.replace(" ", "")
        if not value.isdigit() or len(value) not in (10, 11):
            raise ValueError("expected an 11-digit fødselsnummer")
        return value.zfill(11)
    return value


Text = Annotated[str | None, BeforeValidator(_blank)]
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
    idNr: Annotated[SecretStr | None, BeforeValidator(_blank)] = None
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
    tittel: Text = None
    fornavn: Text = None
    etternavn: Text = None
    fnr: NationalId = None
    annenId: Annotated[list[AnnenId], BeforeValidator(_list)] = Field(default_factory=list)
    fdato: Day = None
    kjonn: Text = None
    medarbeidergruppe: OptionalId = None
    medarbeiderundergruppe: OptionalId = None
    startdato: Day = None
    sluttdato: EndDay = None
    stillingId: OptionalId = None
    dellonnsprosent: Percent = None
    kostnadssted: OptionalId = None
    organisasjonId: OptionalId = None
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
    stillingsnavn: Text = None
    stillingskode: OptionalId = None
    stillingstittel: Text = None
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


def to_employee(ansatt: Ansatt) -> Employee:
    return Employee(
        id=ansatt.id,
        first_name=ansatt.fornavn or "",
        last_name=ansatt.etternavn or "",
        national_id=ansatt.fnr,
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
    manager = next((leder.lederAnsattnr for leder in orgenhet.leder if leder.lederAnsattnr), None)
    return OrgUnit(
        id=orgenhet.id,
        name=orgenhet.organisasjonsnavn or orgenhet.orgKortnavn or orgenhet.id,
        short_name=orgenhet.orgKortnavn,
        parent_id=orgenhet.overordnOrgenhetId,
        manager_id=manager,
    )
