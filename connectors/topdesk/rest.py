"""TOPdesk's REST API over the hub's HTTP policy: Basic auth, paged lists, name lookups.

Every call goes through :class:`hub.http.ApiClient`, so TOPdesk's errors become
:mod:`hub.errors` exceptions: 401/403 → ConfigError, 404 → NotFound, 409/412 → Conflict,
400/422 → InvalidInput, 429/502/503/504 → retried (``Retry-After`` honoured).

Writes that are not idempotent (creating an incident or a person, adding an action) go
through :meth:`TopdeskRest.send_once`, which never retries by itself: the caller first
looks whether the earlier attempt landed (:func:`hub.once.ensure_by_key`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from connectors.topdesk import fiql
from connectors.topdesk.config import TopdeskConfig
from connectors.topdesk.models import TdPerson
from connectors.topdesk.pagination import Pager
from hub.errors import ConfigError, MalformedResponse
from hub.http import ApiClient, error_body, parse_json, parse_model
from hub.once import ensure_by_key, no_retry

__all__ = ["TopdeskRest", "SYSTEM", "parse", "describe_error"]

SYSTEM = "topdesk"

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, what: str) -> M:
    """A TOPdesk record as ``model``; one that does not fit is ``InvalidInput`` naming the fields."""
    return parse_model(model, data, system=SYSTEM, what=what,
                       hint=f"TOPdesk answered {what} in a shape this connector does not read; check that "
                            "base_url points at TOPdesk's /tas/api, and the record in TOPdesk, then replay.")


def describe_error(response: httpx.Response) -> str | None:
    """The reasons in a TOPdesk error body (the hub's hook): ``[{"message": ...}]`` from the
    general API, ``{"errors": [{"message": ...}]}`` from Asset Management."""
    body = error_body(response)
    if isinstance(body, dict):
        body = body.get("errors")
    if not isinstance(body, list):
        return None
    return "; ".join(str(part["message"]) for part in body[:3] if isinstance(part, dict) and part.get("message")) \
        or None


class TopdeskRest:
    def __init__(self, config: TopdeskConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        auth = httpx.BasicAuth(config.username, config.app_password.get_secret_value())
        headers = {"Accept": "application/json"}
        policy = config.policy()
        base = config.base_url + "/"
        self.api = ApiClient(SYSTEM, base, headers=headers, auth=auth, policy=policy, transport=transport,
                             describe_error=describe_error)
        self._once = ApiClient(SYSTEM, base, headers=headers, auth=auth, transport=transport,
                               policy=no_retry(policy), describe_error=describe_error)
        self._ids: dict[tuple[str, str], str] = {}
        self._persons: dict[str, TdPerson] = {}
        self._person_locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self.api.aclose()
        await self._once.aclose()

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return await self.api.json("GET", path, params=dict(params or {}))

    async def get_with_etag(self, path: str) -> tuple[Any, str | None]:
        response = await self.api.request("GET", path)
        return self._decode(response), response.headers.get("ETag")

    async def send(self, method: str, path: str, body: Mapping[str, Any], *,
                   headers: Mapping[str, str] | None = None) -> Any:
        """An idempotent write (PUT of a status, PATCH of fields), retried by the policy."""
        response = await self.api.request(method, path, json=dict(body), headers=dict(headers or {}))
        return self._decode(response) if response.content else None

    async def send_once(self, method: str, path: str, body: Mapping[str, Any]) -> Any:
        """A write that must not be repeated blindly: sent exactly once per call."""
        response = await self._once.request(method, path, json=dict(body))
        return self._decode(response) if response.content else None

    def _decode(self, response: httpx.Response) -> Any:
        return parse_json(response, SYSTEM)  # not JSON at all: MalformedResponse (transient)

    async def walk(self, path: str, params: Mapping[str, str | int], *, page_size: int | None = None,
                   assets: bool = False) -> list[dict[str, Any]]:
        """Every item of a paged list, following 206 Partial Content."""
        return [item async for page in self.pages(path, params, page_size=page_size, assets=assets) for item in page]

    async def pages(self, path: str, params: Mapping[str, str | int], *, page_size: int | None = None,
                    assets: bool = False) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The items of a paged list a page at a time, read only as the caller goes on: for one
        that wants the first few (a free laptop), not all of them."""
        if assets:
            pager = Pager(page_size or self.config.asset_page_size, self.config.max_pages, SYSTEM,
                          start_param="pageStart", size_param="pageSize")
        else:
            pager = Pager(page_size or self.config.page_size, self.config.max_pages, SYSTEM)
        while not pager.finished:
            response = await self.api.request("GET", path, params={**params, **pager.params()})
            body = self._decode(response) if response.status_code != 204 else []
            page = body.get("dataSet", []) if assets and isinstance(body, dict) else body
            if not isinstance(page, list):
                raise MalformedResponse(f"GET {path} did not answer with a list", system=SYSTEM,
                                        hint="The answer is not the list asked for (a proxy or the peer failing); "
                                             "it is retried. If it persists, check that base_url points at "
                                             "TOPdesk's /tas/api.")
            yield pager.accept(response.status_code, page)

    async def first_page(self, path: str, params: Mapping[str, str | int]) -> list[dict[str, Any]]:
        """The first page of a list only (204 → empty)."""
        response = await self.api.request("GET", path, params=dict(params))
        body = self._decode(response) if response.status_code != 204 else []
        return [i for i in body if isinstance(i, dict)] if isinstance(body, list) else []

    async def _id_by_name(self, kind: str, path: str, key: str, name: str, hint: str) -> str:
        """Id of the operator group / branch called ``name`` (cached)."""
        if (kind, name) not in self._ids:
            found = await self.walk(path, {"query": fiql.eq(key, name)})
            exact = [r for r in found if str(r.get(key, "")).casefold() == name.casefold()]
            if not exact:
                raise ConfigError(f"TOPdesk has no {kind} called {name!r}", system=SYSTEM, hint=hint)
            self._ids[(kind, name)] = str(exact[0]["id"])
        return self._ids[(kind, name)]

    async def operator_group_id(self, name: str) -> str:
        return await self._id_by_name("operator group", "operatorgroups", "groupName", name,
                                      "Create the operator group in TOPdesk or map the queue to an existing one "
                                      "(TopdeskConfig.queue_groups).")

    async def branch_id(self, name: str) -> str:
        return await self._id_by_name("branch", "branches", "name", name,
                                      "Set TopdeskConfig.person_branch to an existing branch.")

    async def processing_status_id(self, name: str) -> str:
        if ("processing status", name) not in self._ids:
            for status in await self.get("incidents/processing_status"):
                self._ids.setdefault(("processing status", str(status.get("name"))), str(status["id"]))
        key = next((k for k in self._ids if k[0] == "processing status" and k[1].casefold() == name.casefold()),
                   None)
        if key is None:
            raise ConfigError(f"TOPdesk has no processing status called {name!r}", system=SYSTEM,
                              hint="Fix TopdeskConfig.status_map to use TOPdesk's processing status names.")
        return self._ids[key]

    async def person(self, person_id: str) -> TdPerson:
        if person_id not in self._persons:
            self._persons[person_id] = parse(TdPerson, await self.get(f"persons/id/{person_id}"), "a person")
        return self._persons[person_id]

    async def find_person(self, who: str) -> TdPerson | None:
        """The person with this e-mail address (or network login name, without ``@``)."""
        key = "email" if "@" in who else "networkLoginName"
        found = [parse(TdPerson, r, "a person") for r in await self.walk("persons", {"query": fiql.eq(key, who)})]
        exact = [p for p in found if (p.email if key == "email" else p.network_login_name).casefold() == who.casefold()]
        for person in exact:
            self._persons[person.id] = person
        return exact[0] if exact else None

    async def ensure_person(self, who: str) -> TdPerson:
        """Find the person, or register them in :attr:`TopdeskConfig.person_branch`."""
        async with self._person_locks.setdefault(who.casefold(), asyncio.Lock()):
            async def create() -> TdPerson:
                local = who.split("@", 1)[0]
                first, _, rest = local.partition(".")
                body: dict[str, Any] = {"firstName": first.capitalize() if rest else "",
                                        "surName": rest.replace(".", " ").title() if rest else local,
                                        "branch": {"id": await self.branch_id(self.config.person_branch)}}
                body["email" if "@" in who else "networkLoginName"] = who
                created = parse(TdPerson, await self.send_once("POST", "persons", body), "a new person")
                self._persons[created.id] = created
                return created

            return await ensure_by_key(lambda: self.find_person(who), create, policy=self.config.policy(),
                                       system=SYSTEM, what="a person")

    async def version(self) -> str | None:
        body = await self.get("version")
        return str(body.get("version")) if isinstance(body, dict) and body.get("version") else None
