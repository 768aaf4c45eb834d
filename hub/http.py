"""The hub's HTTP policy, in one place.

Every connector talks HTTP through :class:`ApiClient`:

- an ``httpx.AsyncClient`` with explicit connect/read/write/pool timeouts;
- retries (tenacity) on connect errors, timeouts, 429, 502, 503 and 504 only, honouring
  ``Retry-After`` (seconds or HTTP date), bounded both in attempts and in total time;
- a 500 is asked again only for a safe method (:data:`SAFE_METHODS`: GET, HEAD, OPTIONS and
  WebDAV's PROPFIND and REPORT), which writes nothing; it stays a ``PermanentError`` if the
  peer still answers 500 when the policy's attempts are spent. A 500 to a write is never
  re-sent (the write may be committed). Radicale, for one, answers 500 to a PROPFIND that
  races a delete in the same collection;
- every other 4xx is never retried;
- every failure leaves as a :mod:`hub.errors` exception — no raw ``httpx`` error escapes.

Bodies are parsed in one place, :func:`parse_json` (and :meth:`ApiClient.json`, which uses
it). A body that cannot be parsed at all — cut short, a proxy's HTML page, nested deeper
than the decoder can recurse (``RecursionError``, not a ``ValueError``), not UTF-8, empty —
is :class:`~hub.errors.MalformedResponse`, a ``TransientError``: the peer or a proxy
misbehaved, the data is not at fault. Who re-sends:

- :meth:`ApiClient.json` with an idempotent method (GET, HEAD, PUT, DELETE, OPTIONS) sends
  and parses inside one retry loop, so a garbled answer is fetched again under the policy;
- any other method (a POST that creates) is never re-sent because its answer was garbled:
  the write may have been committed. The ``MalformedResponse`` leaves at once; being a
  ``TransientError``, it makes :func:`hub.once.create_once` look the record up before it
  creates again, and the step-level retry (``hub.flowkit.transient_only``) re-runs the
  step, whose ``ensure_*`` look-up runs first;
- a connector that calls :meth:`ApiClient.request` and then :func:`parse_json` itself gets
  the ``MalformedResponse`` at once too (no in-client re-send), whatever the method.

A body that IS JSON but does not fit a connector's models goes through :func:`parse_model`:
:class:`~hub.errors.InvalidInput` naming each field and the reason, never the value (a raw
pydantic ``ValidationError`` never leaves a connector; it would also print the values).

An error status is mapped by :func:`translate_status`; the reason quoted in the message comes
from the connector's ``describe_error`` hook (:data:`ErrorDescriber`, given to
:class:`ApiClient`), which knows its vendor's error body (N5WS ``feil``, TOPdesk's list of
messages, DFØ's ``faultText``); without one, or when it returns None, a generic reading
(``message``, ``detail``, ``error``...) is used. The hub knows no vendor's shape.

Tests inject an ``httpx.MockTransport`` or talk to a sandbox; nothing is patched.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from hub.errors import (
    ConfigError,
    Conflict,
    HubError,
    InvalidInput,
    MalformedResponse,
    NotFound,
    PermanentError,
    TransientError,
)

__all__ = ["RetryPolicy", "ApiClient", "ErrorDescriber", "translate_status", "translate_exception", "parse_json",
           "parse_model", "error_body", "RETRYABLE_STATUS", "IDEMPOTENT_METHODS", "SAFE_METHODS"]

log = logging.getLogger("hub.http")

# One TLS context per process, built at import: loading the CA bundle costs ~40 ms, and
# a flow run (forked from a process that imported this module) then pays nothing.
_TLS = httpx.create_ssl_context()

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Methods that change nothing on the server (RFC 9110 §9.2.1; RFC 4918 §9.1 and RFC 3253 §3.6
# for PROPFIND and REPORT): the only ones a 500 is asked again for.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})

# What decoding a body can raise: json.JSONDecodeError and UnicodeDecodeError are
# ValueErrors; a deeply nested body makes the decoder raise RecursionError instead.
_DECODE_ERRORS = (ValueError, RecursionError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``max_total_seconds`` bounds waiting across all attempts."""

    max_attempts: int = 5
    max_total_seconds: float = 30.0
    initial_wait: float = 0.2
    max_wait: float = 10.0
    timeout: float = 10.0
    connect_timeout: float = 3.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_wait, self.initial_wait * (2 ** max(0, attempt - 1))))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def _not_json(system: str, response: httpx.Response | None, exc: BaseException) -> MalformedResponse:
    where = ""
    if response is not None:
        where = f" ({response.status_code} to {response.request.method} {response.request.url.path})"
    reason = "it is nested too deeply" if isinstance(exc, RecursionError) else f"{exc.__class__.__name__}"
    return MalformedResponse(f"{system} answered with a body that is not valid JSON{where}: {reason}",
                             system=system)


def parse_json(response: httpx.Response, system: str) -> Any:
    """The body of ``response`` as JSON, or :class:`~hub.errors.MalformedResponse`.

    The one place a peer's body is decoded: every failure to decode (``ValueError``,
    ``UnicodeDecodeError``, ``RecursionError``) becomes the hub's error. It never re-sends
    anything (see the module docstring for who retries).
    """
    try:
        return response.json()
    except _DECODE_ERRORS as exc:
        raise _not_json(system, response, exc) from None


def error_body(response: httpx.Response) -> Any:
    """An error answer's body as JSON, or None if it is not JSON: for an :data:`ErrorDescriber`."""
    try:
        return response.json()
    except _DECODE_ERRORS:
        return None


M = TypeVar("M", bound=BaseModel)

_MAX_PROBLEMS = 5


def parse_model(model: type[M], data: Any, *, system: str, what: str | None = None,
                hint: str | None = None) -> M:
    """``data`` (a peer's decoded JSON) as ``model``, or :class:`~hub.errors.InvalidInput`.

    The one place a peer's body meets a connector's models: a body that IS JSON but does not
    fit them is bad data, not a wire fault — never retried blindly. The message names ``what``
    was read (``"employee 1001"``; no personal data) and each field with the reason, never the
    value; the ``ValidationError`` is not chained, since its text repeats the values.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        problems = "; ".join(f"{'.'.join(str(part) for part in error['loc']) or '(object)'}: {error['msg']}"
                             for error in errors[:_MAX_PROBLEMS])
        if len(errors) > _MAX_PROBLEMS:
            problems += f"; and {len(errors) - _MAX_PROBLEMS} more"
        where = what or f"a {model.__name__}"
        raise InvalidInput(f"{system} answered {where} this connector cannot read: {problems}", system=system,
                           hint=hint or f"{system}'s answer does not fit the shape the connector reads; check "
                                        f"that record in {system} (and the connector against {system}'s API "
                                        "version), then replay the item.") from None


ErrorDescriber = Callable[[httpx.Response], str | None]
"""A connector's hook: the reason its vendor wrote in an error body, or None to let the hub guess."""

_GENERIC_KEYS = ("message", "detail", "error_description", "error", "errors")


def _detail(response: httpx.Response) -> str:
    """A short reason from an error body in no vendor's particular shape: a top-level ``message``,
    ``detail`` (RFC 9457), ``error_description``/``error`` (OAuth 2) or ``errors``; else the
    start of the body. A vendor's own shape is its connector's :data:`ErrorDescriber`."""
    try:
        body = response.json()
    except _DECODE_ERRORS:
        text = response.content[:400].decode("utf-8", "replace").strip().replace("\n", " ")
        return text[:200]
    if isinstance(body, dict):
        for key in _GENERIC_KEYS:
            if body.get(key):
                return str(body[key])[:300]
    return json.dumps(body)[:200]


def _described(response: httpx.Response, describe: ErrorDescriber | None) -> str:
    """The connector's reading of an error body if it has one, else the generic one. A hook
    that fails on a hostile body never turns an error status into a crash."""
    if describe is not None:
        try:
            told = describe(response)
        except Exception:  # the status still decides the error; only the wording is lost
            log.debug("describe_error failed on a %d body", response.status_code, exc_info=True)
            told = None
        if told:
            return str(told)[:300]
    return _detail(response)


def translate_status(system: str, response: httpx.Response,
                     describe: ErrorDescriber | None = None) -> HubError:
    """Map an HTTP error status to the hub's error tree; ``describe`` reads the vendor's error body."""
    status = response.status_code
    what = f"{response.request.method} {response.request.url.path} → {status}"
    detail = _described(response, describe)
    msg = f"{what}: {detail}" if detail else what
    if status in RETRYABLE_STATUS:
        err: HubError = TransientError(msg, system=system, status=status)
        err.retry_after = parse_retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        return err
    if status in (401, 403):
        return ConfigError(msg, system=system, status=status)
    if status == 404:
        return NotFound(msg, system=system, status=status)
    if status in (409, 412):
        return Conflict(msg, system=system, status=status)
    if 400 <= status < 500:
        return InvalidInput(msg, system=system, status=status)
    if status >= 500:
        # 500/501/505...: the server said something is wrong on its side in a way that is
        # not a temporary overload. Retrying blindly would write twice on some systems, so
        # ApiClient asks again only for a safe method (SAFE_METHODS), which writes nothing.
        return PermanentError(msg, system=system, status=status,
                               hint=f"{system} reported an internal error; check its logs.")
    return PermanentError(msg, system=system, status=status)


def translate_exception(system: str, exc: BaseException) -> HubError:
    """Map a foreign exception (httpx, json) to the hub's error tree."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        return translate_status(system, exc.response)
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"timed out: {exc.__class__.__name__}", system=system)
    if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError,
                        httpx.WriteError, httpx.CloseError, httpx.ProxyError)):
        return TransientError(f"cannot reach {system}: {exc.__class__.__name__}: {exc}",
                              system=system,
                              hint=f"Check that {system} is running and its URL is right.")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigError(f"bad URL for {system}: {exc}", system=system)
    if isinstance(exc, httpx.HTTPError):
        return TransientError(f"{exc.__class__.__name__}: {exc}", system=system)
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, RecursionError)):
        return _not_json(system, None, exc)
    return PermanentError(f"unexpected {exc.__class__.__name__}: {exc}", system=system)


def _wait(policy: RetryPolicy, started: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        delay = policy.backoff(state.attempt_number)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        remaining = policy.max_total_seconds - (time.monotonic() - started)
        if delay > remaining:
            # Waiting longer than the budget would be pointless: give up now.
            raise exc if exc else TransientError("retry budget exhausted")
        return delay

    return wait


def _worth_asking_again(method: str) -> Callable[[BaseException], bool]:
    """The retry predicate for one request: every ``TransientError``; and a 500 (a
    ``PermanentError``), only when ``method`` is safe."""
    safe = method.upper() in SAFE_METHODS

    def worth(exc: BaseException) -> bool:
        if isinstance(exc, TransientError):
            return True
        return safe and isinstance(exc, PermanentError) and exc.status == 500

    return worth


class ApiClient:
    """An ``httpx.AsyncClient`` wrapped in the hub's retry and error policy."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        describe_error: ErrorDescriber | None = None,
    ) -> None:
        self.system = system
        self.describe_error = describe_error
        self.policy = policy or RetryPolicy()
        timeout = httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            verify=_TLS,
        )

    @property
    def raw(self) -> httpx.AsyncClient:
        """The underlying client, for what the policy does not cover (e.g. base_url)."""
        return self._client

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _retrying(self, method: str) -> AsyncRetrying:
        started = time.monotonic()
        return AsyncRetrying(
            retry=retry_if_exception(_worth_asking_again(method)),
            stop=stop_after_attempt(self.policy.max_attempts) | stop_after_delay(self.policy.max_total_seconds),
            wait=_wait(self.policy, started),
            reraise=True,
            before_sleep=self._log_retry,
        )

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: attempt %d failed (%s); retrying", self.system, state.attempt_number, exc)

    async def request(
        self,
        method: str,
        url: str,
        *,
        ok: Iterable[int] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request under the policy; return the response or raise a HubError.

        ``ok`` lists extra statuses to return instead of raising (e.g. ``{404}`` for a
        lookup that treats "absent" as an answer).
        """
        allowed = set(ok or ())
        async for attempt in self._retrying(method):
            with attempt:
                return await self._send(method, url, allowed, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, url: str, allowed: set[int], **kwargs: Any) -> httpx.Response:
        """One attempt: the response, or the HubError it translates to."""
        try:
            response = await self._client.request(method, url, **kwargs)
        except Exception as exc:  # translated below; nothing raw escapes
            raise translate_exception(self.system, exc) from exc
        if response.is_error and response.status_code not in allowed:
            raise translate_status(self.system, response, self.describe_error)
        return response

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send and parse. A garbled body is fetched again only for an idempotent method."""
        if method.upper() not in IDEMPOTENT_METHODS:
            return parse_json(await self.request(method, url, **kwargs), self.system)
        async for attempt in self._retrying(method):
            with attempt:
                return parse_json(await self._send(method, url, set(), **kwargs), self.system)
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """Open a streamed response; only opening it is retried, never a half-read body."""
        async for attempt in self._retrying(method):
            with attempt:
                try:
                    request = self._client.build_request(method, url, **kwargs)
                    response = await self._client.send(request, stream=True)
                except Exception as exc:
                    raise translate_exception(self.system, exc) from exc
                if response.is_error:
                    await response.aread()
                    await response.aclose()
                    raise translate_status(self.system, response, self.describe_error)
        try:
            yield response
        except HubError:
            raise
        except httpx.HTTPError as exc:
            raise translate_exception(self.system, exc) from exc
        finally:
            await response.aclose()

    async def ndjson(self, url: str, **kwargs: Any) -> AsyncIterator[Any]:
        """Stream an NDJSON body one parsed line at a time (memory stays flat)."""
        async with self.stream("GET", url, **kwargs) as response:
            try:
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
            except Exception as exc:
                raise translate_exception(self.system, exc) from exc
