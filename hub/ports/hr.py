"""HR port: who is employed, in which position and unit (DFØ first).

Identifiers, as HR gives them:

- an employee id is digits, sent with and without leading zeros (``"05001234"`` and
  ``"5001234"`` are one person): :func:`canonical_employee_id` is the one form every ledger
  key, external key, catch-up and replay uses;
- ``national_id`` (fødselsnummer/D-nummer) is kept as HR sent it, even when malformed, and
  :attr:`Employee.national_id_status` says what it is (:class:`NationalIdStatus`): a wrong or
  missing number never makes a person disappear from a list; each service decides what it
  needs;
- a hire without a Norwegian number yet (a foreign researcher) has HR's placeholder in
  ``national_id`` and a passport or foreign id in ``other_ids`` (:class:`OtherId`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, computed_field

from hub.ports.common import Health
from hub.privacy import is_synthetic_fnr, is_valid_fnr

__all__ = ["Employee", "Position", "OrgUnit", "HrPort", "OtherId", "NationalIdStatus",
           "canonical_employee_id", "national_id_status", "plain_title"]


def canonical_employee_id(value: str | int) -> str:
    """The one form of an HR employee id: digits without leading zeros (``"05001234"`` →
    ``"5001234"``; ``"0"`` stays ``"0"``); surrounding blanks dropped; a non-numeric id as given."""
    text = str(value).strip()
    return (text.lstrip("0") or "0") if text.isdigit() else text


_TITLE_CODE = re.compile(r"^\s*\d{3,5}\s*[-–:]?\s+(?=\S)")


def plain_title(title: str) -> str:
    """A job title without SAP's stillingskode in front: ``"1011 Førsteamanuensis"`` →
    ``"Førsteamanuensis"`` (what a letter or a ticket may show)."""
    return _TITLE_CODE.sub("", title)


class NationalIdStatus(StrEnum):
    """What HR's ``fnr`` is. Only ``valid`` and ``synthetic`` identify a person."""

    VALID = "valid"  # a fødselsnummer or D-nummer with a good date and check digits
    SYNTHETIC = "synthetic"  # a valid test identity (month + 40 or + 80, e.g. Tenor)
    PLACEHOLDER = "placeholder"  # HR has none yet: all zeros, or ...00100/...00200 failing its check digits
    INVALID = "invalid"  # 11 digits, but the date or the check digits are wrong
    MALFORMED = "malformed"  # not 11 digits (8, 10, letters ...)
    MISSING = "missing"  # no fnr at all


_PLACEHOLDER_ENDINGS = ("00100", "00200")


def national_id_status(value: str | None) -> NationalIdStatus:
    """Classify a national identity number as HR sent it (the number itself never leaves)."""
    if value is None or not value.strip():
        return NationalIdStatus.MISSING
    if len(value) != 11 or not value.isdigit():
        return NationalIdStatus.MALFORMED
    if is_valid_fnr(value):
        return NationalIdStatus.SYNTHETIC if is_synthetic_fnr(value) else NationalIdStatus.VALID
    if value == "0" * 11 or value.endswith(_PLACEHOLDER_ENDINGS):
        return NationalIdStatus.PLACEHOLDER
    return NationalIdStatus.INVALID


class OtherId(BaseModel):
    """Another identity document (DFØ's ``annenId``): a passport or a foreign national id."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "passport", or HR's own description of the document
    number: SecretStr
    country: str | None = None
    valid_until: date | None = None


class Employee(BaseModel):
    """One employee. ``national_id`` (fødselsnummer) and ``other_ids`` numbers are SecretStr:
    they never print."""

    model_config = ConfigDict(frozen=True)

    id: str
    first_name: str
    last_name: str
    national_id: SecretStr | None = None
    other_ids: tuple[OtherId, ...] = ()
    birth_date: date | None = None
    username: str | None = None
    email: str | None = None
    position_id: str | None = None
    org_unit_id: str | None = None
    title: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    is_manager: bool = False
    reserved_from_publication: bool = False
    employee_group: str | None = None
    cost_centre: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def national_id_status(self) -> NationalIdStatus:
        """What ``national_id`` is (:func:`national_id_status`)."""
        return national_id_status(self.national_id.get_secret_value() if self.national_id else None)

    @property
    def identified_by(self) -> str | None:
        """What identifies the person: ``"fødselsnummer"``, the other document's kind (a hire
        without a Norwegian number yet), or None if nothing usable."""
        if self.national_id_status in (NationalIdStatus.VALID, NationalIdStatus.SYNTHETIC):
            return "fødselsnummer"
        if self.national_id_status in (NationalIdStatus.PLACEHOLDER, NationalIdStatus.MISSING) and self.other_ids:
            return self.other_ids[0].kind
        return None


class Position(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    org_unit_id: str | None = None
    percentage: float | None = None
    position_code: str | None = None


class OrgUnit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    short_name: str | None = None
    parent_id: str | None = None
    manager_id: str | None = None
    location: str | None = None  # the campus (DFØ lokasjonId, e.g. "PILESTREDET", "KJELLER")


class HrPort(Protocol):
    async def get_employee(self, employee_id: str) -> Employee:
        """The employee; raises ``NotFound`` if HR does not know the id."""
        ...

    async def get_position(self, position_id: str) -> Position: ...

    async def get_org_unit(self, org_unit_id: str) -> OrgUnit: ...

    def list_employees(self) -> AsyncIterator[Employee]:
        """Every employee, page by page (used by the daily catch-up)."""
        ...

    async def find_by_feide_id(self, feide_id: str) -> Employee | None:
        """The employee whose Feide id (``user@realm``, as a form's login gives it) or e-mail
        address is ``feide_id``, case-insensitively; None if HR knows nobody by it."""
        ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
