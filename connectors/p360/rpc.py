"""SIF JSON RPC over the hub's HTTP policy — and the one place SIF's errors become the hub's.

A call is ``POST <base_url>/{Service}/{Method}`` with ``{"parameter": {...}}``. SIF answers
business errors as HTTP 200 with ``Successful: false`` and raw .NET text in ``ErrorMessage``
(the reason sits between ``Exception:`` and ``<operation>``). :func:`sif_error` maps them::

    HTTP 401/403, or a message about authkey/access/impersonation   → ConfigError
    HTTP 404, or "… not found" / "does not exist"                    → NotFound
    HTTP 5xx, timeouts, connect errors, deadlocks, "timeout expired" → TransientError
    "… is not valid", "… is mandatory", "illegal character" …        → InvalidInput
    anything else with Successful:false                              → PermanentError

A success whose ``ErrorMessage`` is neither blank nor ``"\\n"`` is a failure too (as VTFK's
client treats it). A body that is not a JSON object is ``MalformedResponse``.

Reads (``Get*``, ``Ping``) are retried: by :class:`hub.http.ApiClient` on 429/502/503/504
and connect errors, and here on a 500, a garbled body or a transient SIF message.
Creates go through :meth:`SifRpc.create`, sent exactly once per call — the caller looks
the record up before it tries again (:func:`hub.once.ensure_by_key`).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from connectors.p360.config import P360Config
from hub.errors import (
    ConfigError,
    HubError,
    InvalidInput,
    MalformedResponse,
    NotFound,
    PermanentError,
    TransientError,
)
from hub.http import ApiClient, error_body, parse_json, parse_model
from hub.once import no_retry

__all__ = ["SYSTEM", "SifRpc", "sif_error", "sif_reason", "parse", "describe_error"]

SYSTEM = "p360"
M = TypeVar("M", bound=BaseModel)

_AUTH = re.compile(r"authkey|unauthori[sz]ed|not authori[sz]ed|access denied|impersonat|authentication|"
                   r"permission|no access|ikke tilgang", re.IGNORECASE)
_NOT_FOUND = re.compile(r"not found|does not exist|finnes ikke|no such|unknown (case|document|file|contact)",
                        re.IGNORECASE)
_TRANSIENT = re.compile(r"time ?out|timed out|deadlock|temporar|try again|server is busy|connection (was )?"
                        r"(closed|reset|lost)|service unavailable", re.IGNORECASE)
_INVALID = re.compile(r"not (a )?valid|invalid|mandatory|required|illegal|must |cannot|can only|already "
                      r"exists|criteri|not allowed|is closed", re.IGNORECASE)
_AFTER_ANSWER = "_p360_after_answer"


def sif_reason(message: str) -> str:
    """The readable part of a raw .NET ``ErrorMessage``: between ``Exception:`` and ``<operation>``."""
    text = message.strip()
    if "<operation>" in text:
        text = text.split("<operation>", 1)[0]
    if "Exception:" in text:
        text = text.rsplit("Exception:", 1)[1]
    text = re.sub(r"^\s*Error executing statement:\s*", "", text.strip())
    return " ".join(text.split())[:300] or "no reason given"


def sif_error(what: str, message: str | None) -> HubError:
    """``Successful: false`` → the hub's error tree (see the module docstring)."""
    raw = message or ""
    reason = f"{what}: {sif_reason(raw)}"
    if _AUTH.search(raw):
        return ConfigError(reason, system=SYSTEM, hint="Check the SIF authkey, client id and ADContextUser "
                                                       "(HUB_P360__*), and the service user's rights in 360.")
    if _TRANSIENT.search(raw):
        return TransientError(reason, system=SYSTEM)
    if _NOT_FOUND.search(raw):
        return NotFound(reason, system=SYSTEM)
    if _INVALID.search(raw):
        return InvalidInput(reason, system=SYSTEM, hint="360 refused the values; correct the data or the "
                                                        "connector's code settings (HUB_P360__*), then replay.")
    return PermanentError(reason, system=SYSTEM, hint="Public 360 refused the call; see its message and the "
                                                      "360 server log.")


def describe_error(response: httpx.Response) -> str | None:
    """ASP.NET's error body, ``{"Message": ...}``, or SIF's envelope (the hub's hook)."""
    body = error_body(response)
    if isinstance(body, dict):
        for key in ("ErrorMessage", "Message", "message"):
            if body.get(key):
                return sif_reason(str(body[key]))
    return None


def parse(model: type[M], data: Any, what: str) -> M:
    return parse_model(model, data, system=SYSTEM, what=what,
                       hint="Public 360 answered in a shape this connector does not read; check that base_url "
                            "ends in /SI.Data.RPC/SI.Data.RPC and the record in 360, then replay.")


def _after_answer(exc: HubError) -> HubError:
    setattr(exc, _AFTER_ANSWER, True)
    return exc


class SifRpc:
    def __init__(self, config: P360Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        key = config.auth_key.get_secret_value()
        headers = {"Accept": "application/json"}
        self._params: dict[str, str] = {}
        if config.auth_in == "header":
            headers.update({"Authorization": f"authkey {key}", "clientid": config.client_id})
        else:
            self._params = {"authkey": key}
        base = config.base_url + "/"
        self.http = ApiClient(SYSTEM, base, headers=headers, policy=config.policy(), transport=transport,
                              describe_error=describe_error)
        self._once = ApiClient(SYSTEM, base, headers=headers, policy=no_retry(config.policy()),
                               transport=transport, describe_error=describe_error)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self._once.aclose()

    async def _send(self, client: ApiClient, service: str, method: str, parameter: dict[str, Any]) -> dict[str, Any]:
        what = f"{service}/{method}"
        body = {k: v for k, v in parameter.items() if v is not None}
        if self.config.context_user:
            body["ADContextUser"] = self.config.context_user
        try:
            response = await client.request("POST", what, json={"parameter": body}, params=self._params)
        except PermanentError as exc:
            if exc.status is not None and exc.status >= 500:  # 500/501/505: 360's side failing; see module doc
                raise _after_answer(TransientError(exc.message, system=SYSTEM, status=exc.status)) from exc
            raise
        if not response.content.strip():
            if method == "Ping":
                return {}
            raise _after_answer(MalformedResponse(f"{what} answered an empty body", system=SYSTEM))
        try:
            data = parse_json(response, SYSTEM)
        except MalformedResponse as exc:
            raise _after_answer(exc) from None
        if not isinstance(data, dict):
            raise _after_answer(MalformedResponse(f"{what} answered {type(data).__name__}, not a result object",
                                                  system=SYSTEM))
        message = data.get("ErrorMessage")
        if data.get("Successful") is False or (isinstance(message, str) and message.strip()):
            error = sif_error(what, str(message or data.get("ErrorDetails") or ""))
            raise _after_answer(error) if isinstance(error, TransientError) else error
        return data

    async def read(self, service: str, method: str, parameter: dict[str, Any]) -> dict[str, Any]:
        """A call that changes nothing (Get*, Ping), or an idempotent update: retried."""
        policy = self.config.policy()
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await self._send(self.http, service, method, parameter)
            except TransientError as exc:
                if not getattr(exc, _AFTER_ANSWER, False) or attempt == policy.max_attempts:
                    raise
                await asyncio.sleep(policy.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def create(self, service: str, method: str, parameter: dict[str, Any]) -> dict[str, Any]:
        """A call that creates: sent once; the caller looks before it sends again."""
        return await self._send(self._once, service, method, parameter)

    async def pages(self, service: str, method: str, parameter: dict[str, Any], items: str,
                    size_key: str) -> list[dict[str, Any]]:
        """Every result of a paged Get* (``Page`` from 0 to ``TotalPageCount``), with loop detection."""
        results: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for number in range(self.config.max_pages):
            data = await self.read(service, method, {**parameter, size_key: self.config.page_size, "Page": number})
            batch = [i for i in data.get(items) or [] if isinstance(i, dict)]
            keys = [i.get("Recno") for i in batch]
            if any(k in seen for k in keys):
                raise MalformedResponse(f"{service}/{method} page {number} repeats records of earlier pages",
                                        system=SYSTEM, hint="360's paging went round in a loop; retried later.")
            seen.update(keys)
            results.extend(batch)
            total_pages = int(data.get("TotalPageCount") or 0)
            if not batch or number + 1 >= total_pages:
                return results
        raise PermanentError(f"{service}/{method} had more than {self.config.max_pages} pages", system=SYSTEM,
                             hint="Narrow the search or raise HUB_P360__MAX_PAGES.")
