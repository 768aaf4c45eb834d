"""DFØ HR connector: implements :class:`hub.ports.hr.HrPort` over the DFØ-SAP REST API.

::

    GET {base}/ansatte/v2/{id}     → {"ansatt": [Ansatt]}         404 {"standard": {"faultText": ...}}
    GET {base}/ansatte/v2          → {"ansatt": [Ansatt, ...]}    (one response, not paged)
    GET {base}/stillinger/v2/{id}  → {"stilling": [Stilling]}
    GET {base}/orgenhet/v2/{id}    → {"organisasjon": [Orgenhet]}

DFØ has no search by Feide id: :meth:`DfoHr.find_by_feide_id` reads the employee list once
and reuses it for ``directory_seconds`` (a batch of laptop orders reads it once).

Errors (all from :mod:`hub.errors`): 401/403 → ``ConfigError``; a 404 carrying DFØ's
``faultText`` → ``NotFound`` ("HR (DFØ) does not know employee 99999 ..."); a 404 without
it came from the gateway (wrong base URL or path) → ``ConfigError``; a payload that does
not fit the models → ``InvalidInput`` naming the field, never the value; a body that is
not JSON at all → ``MalformedResponse`` (a ``TransientError``: the gateway or a proxy
failing, not bad data); 429/5xx and network errors are retried by
:class:`hub.http.ApiClient`, then ``TransientError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from connectors.dfo.config import DfoConfig
from connectors.dfo.models import Ansatt, Orgenhet, Stilling, to_employee, to_org_unit, to_position
from hub.errors import ConfigError, HubError, InvalidInput, MalformedResponse, NotFound
from hub.http import ApiClient, parse_json, parse_model
from hub.ports.common import Health, HealthProbe
from hub.ports.hr import Employee, OrgUnit, Position

__all__ = ["DfoHr", "SYSTEM", "API_KEY_HEADER"]

log = logging.getLogger("connectors.dfo")

SYSTEM = "dfo"
API_KEY_HEADER = "X-Gravitee-Api-Key"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Resource:
    noun: str
    wrapper: str


_KEY_HINT = ("The DFØ API gateway refused the API key; check HUB_DFO__API_KEY "
             "(sent as X-Gravitee-Api-Key) and that the key is subscribed to this API.")

_EMPLOYEE = _Resource("employee", "ansatt")
_POSITION = _Resource("position", "stilling")
_ORG_UNIT = _Resource("org unit", "organisasjon")


def _fault_text(response: httpx.Response) -> str | None:
    """DFØ's own error text (``{"standard": {"faultText": ...}}``), or None if absent; also the
    hook (``describe_error``) that puts it into every error the client raises."""
    try:
        body = parse_json(response, SYSTEM)
    except MalformedResponse:
        return None
    standard = body.get("standard") if isinstance(body, dict) else None
    fault = standard.get("faultText") if isinstance(standard, dict) else None
    return str(fault) if fault else None


def _items(body: Any, wrapper: str) -> list[Any]:
    """``{"ansatt": [..]}``; tolerate an unwrapped single object and a missing key."""
    value = body.get(wrapper) if isinstance(body, dict) else None
    if value is None:
        return []
    return [item for item in value if item is not None] if isinstance(value, list) else [value]


def _check_id(resource: _Resource, object_id: str) -> str:
    ident = str(object_id).strip()
    if not ident.isdigit():
        raise InvalidInput(f"{ident!r} is not a DFØ {resource.noun} id (digits only)", system=SYSTEM,
                           hint="Check the id in the event or the calling flow.")
    return ident


def _parse(model: type[M], raw: Any, resource: _Resource, ident: str) -> M:
    """Validate one payload; on failure ``InvalidInput`` naming the fields, never the value."""
    return parse_model(model, raw, system=SYSTEM, what=f"{resource.noun} {ident}",
                       hint=f"Correct {resource.noun} {ident} in DFØ (SAP), then replay the event.")


class DfoHr:
    """HR (DFØ) as an :class:`~hub.ports.hr.HrPort`."""

    def __init__(self, config: DfoConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._api = ApiClient(
            SYSTEM,
            config.base_url,
            headers={API_KEY_HEADER: config.api_key.get_secret_value(), "Accept": "application/json"},
            policy=config.policy(),
            transport=transport,
            describe_error=_fault_text,
        )
        self._by_feide: dict[str, Employee] = {}
        self._by_feide_read: float | None = None
        self._by_feide_lock = asyncio.Lock()

    async def __aenter__(self) -> DfoHr:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _fetch(self, path: str, resource: _Resource, object_id: str) -> tuple[str, Any]:
        ident = _check_id(resource, object_id)
        url = f"{path.strip('/')}/{ident}"
        try:
            response = await self._api.request("GET", url, ok={404})
        except ConfigError as exc:
            if exc.status in (401, 403):
                raise ConfigError(exc.message, system=SYSTEM, status=exc.status, hint=_KEY_HINT) from exc
            raise
        if response.status_code == 404:
            fault = _fault_text(response)
            if fault is None:
                raise ConfigError(f"GET {response.request.url.path} → 404 from the API gateway, "
                                  "not from DFØ", system=SYSTEM, status=404,
                                  hint="Check the DFØ base URL and resource paths (HUB_DFO__BASE_URL, HUB_DFO__EMPLOYEE_PATH, ...).")
            raise NotFound(f"DFØ has no {resource.noun} {ident} ({fault})", system=SYSTEM, status=404,
                           hint=f"HR (DFØ) does not know {resource.noun} {ident}; "
                                "check the id in the event.")
        body = parse_json(response, SYSTEM)  # not JSON at all: MalformedResponse (transient)
        if not isinstance(body, dict) or resource.wrapper not in body:
            # DFØ answers an unknown id with 404 and a fault text (above): a 200 without the
            # wrapper is a garbled answer (a proxy, the wire), not an unknown person.
            raise MalformedResponse(f"DFØ answered 200 without {resource.wrapper!r} for {resource.noun} {ident}",
                                    system=SYSTEM, status=200,
                                    hint="The answer is not the resource asked for (a proxy or the gateway "
                                         "failing); it is retried.")
        items = _items(body, resource.wrapper)
        if not items:
            raise NotFound(f"DFØ answered without {resource.wrapper!r} for {resource.noun} {ident}",
                           system=SYSTEM,
                           hint=f"HR (DFØ) does not know {resource.noun} {ident}; check the id in the event.")
        same = [i for i in items if isinstance(i, dict) and str(i.get("id", "")).lstrip("0") == ident.lstrip("0")]
        return ident, (same or items)[0]

    async def get_ansatt(self, employee_id: str) -> Ansatt:
        """The raw DFØ employee (all DFØ fields, ``fnr`` as SecretStr)."""
        ident, raw = await self._fetch(self.config.employee_path, _EMPLOYEE, employee_id)
        return _parse(Ansatt, raw, _EMPLOYEE, ident)

    async def get_employee(self, employee_id: str) -> Employee:
        return to_employee(await self.get_ansatt(employee_id))

    async def get_stilling(self, position_id: str) -> Stilling:
        ident, raw = await self._fetch(self.config.position_path, _POSITION, position_id)
        return _parse(Stilling, raw, _POSITION, ident)

    async def get_position(self, position_id: str) -> Position:
        return to_position(await self.get_stilling(position_id))

    async def get_orgenhet(self, org_unit_id: str) -> Orgenhet:
        ident, raw = await self._fetch(self.config.org_unit_path, _ORG_UNIT, org_unit_id)
        return _parse(Orgenhet, raw, _ORG_UNIT, ident)

    async def get_org_unit(self, org_unit_id: str) -> OrgUnit:
        return to_org_unit(await self.get_orgenhet(org_unit_id))

    async def list_employees(self) -> AsyncIterator[Employee]:
        """Every employee. DFØ answers in one response (a bare object or ``null`` entries are
        tolerated). An odd ``fnr`` never drops a person (the port's ``national_id_status`` says
        what it is); a record that does not fit otherwise (a garbled date) is logged and
        skipped (its own event still dead-letters it) so one bad row cannot stop a catch-up."""
        body = await self._api.json("GET", self.config.employee_path.strip("/"))
        for raw in _items(body, _EMPLOYEE.wrapper):
            ident = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
            try:
                employee = to_employee(_parse(Ansatt, raw, _EMPLOYEE, ident))
            except InvalidInput as exc:
                log.warning("skipping employee in the DFØ list: %s", exc.message)
                continue
            yield employee

    async def find_by_feide_id(self, feide_id: str) -> Employee | None:
        """The employee whose e-mail or ``<brukerident>@<feide_realm>`` is ``feide_id`` (any case)."""
        return (await self._feide_directory()).get(feide_id.strip().lower())

    async def _feide_directory(self) -> dict[str, Employee]:
        async with self._by_feide_lock:  # concurrent look-ups share one read
            read = self._by_feide_read
            if read is None or time.monotonic() - read > self.config.directory_seconds:
                realm = self.config.feide_realm.strip().lstrip("@").lower()
                directory: dict[str, Employee] = {}
                async for employee in self.list_employees():
                    for key in (employee.email, f"{employee.username}@{realm}" if employee.username else None):
                        if key:
                            directory[key.strip().lower()] = employee
                self._by_feide, self._by_feide_read = directory, time.monotonic()
            return self._by_feide

    async def health(self) -> Health:
        """One authenticated GET of an employee id that cannot exist: a DFØ 404 means OK."""
        probe = HealthProbe(SYSTEM)
        try:
            response = await self._api.request("GET", f"{self.config.employee_path.strip('/')}/0",
                                               ok={404})
        except HubError as exc:
            return probe.failed(exc)
        if response.status_code == 404 and _fault_text(response) is None:
            return probe.failed("the API gateway has no DFØ employee API at this base URL")
        return probe.ok(f"authenticated against {self.config.base_url}")
