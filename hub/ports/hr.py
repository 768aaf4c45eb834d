"""HR port: who is employed, in which position and unit (DFØ first)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.ports.common import Health

__all__ = ["Employee", "Position", "OrgUnit", "HrPort"]


class Employee(BaseModel):
    """One employee. ``national_id`` (fødselsnummer) is a SecretStr: it never prints."""

    model_config = ConfigDict(frozen=True)

    id: str
    first_name: str
    last_name: str
    national_id: SecretStr | None = None
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
