"""OAuth 2 client credentials for Nettskjema, as an ``httpx.Auth``.

- The first request fetches a token (``POST token_url``, HTTP Basic ``client_id:secret``,
  ``grant_type=client_credentials``) and caches it with its ``expires_in``.
- Before it expires (``expires_in`` minus ``refresh_margin``, the margin capped at a quarter
  of the lifetime) the next request fetches a new one — no request is sent with a token
  about to lapse.
- A 401 from the API (token revoked, clock skew, server restart) fetches a new token
  **once** and retries the request **once**; a second 401 → :class:`~hub.errors.ConfigError`.
- Token endpoint: ``invalid_client``/``unauthorized_client`` (or any other 400/401) →
  ``ConfigError``; 429/502/503/504 → ``TransientError`` (with ``retry_after``); network
  errors surface as ``httpx`` errors that :class:`hub.http.ApiClient` turns into
  ``TransientError`` and retries; a 200 whose body is not JSON at all →
  ``MalformedResponse`` (transient: a proxy or the endpoint failing).

Concurrent requests share one token: a lock makes sure only one of them fetches it. The
secret is sent only to ``token_url`` and never appears in a message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx
from pydantic import SecretStr

from hub.errors import ConfigError, MalformedResponse
from hub.http import RETRYABLE_STATUS, parse_json, translate_status

__all__ = ["ClientCredentialsAuth"]

_CREDENTIALS_HINT = ("Check HUB_NETTSKJEMA__CLIENT_ID and HUB_NETTSKJEMA__CLIENT_SECRET against the API "
                     "client registered in Nettskjema.")


class ClientCredentialsAuth(httpx.Auth):
    def __init__(self, token_url: str, client_id: str, client_secret: SecretStr, *,
                 refresh_margin: float = 60.0, system: str = "nettskjema",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.refresh_margin = refresh_margin
        self.system = system
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.tokens_fetched = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("the Nettskjema connector is async-only")
        yield request  # pragma: no cover

    def invalidate(self) -> None:
        """Forget the cached token; the next request fetches a new one."""
        self._token = None

    @property
    def has_token(self) -> bool:
        return self._token is not None and self._clock() < self._refresh_at

    def _basic_request(self) -> httpx.Request:
        """``POST token_url`` with HTTP Basic credentials and ``grant_type=client_credentials``."""
        basic = httpx.BasicAuth(self.client_id, self._secret.get_secret_value())
        request = httpx.Request("POST", self.token_url, data={"grant_type": "client_credentials"},
                                headers={"Accept": "application/json"})
        return next(basic.auth_flow(request))

    async def _accept(self, response: httpx.Response) -> str:
        """Read the token response; cache the token or raise a HubError."""
        await response.aread()
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            raise translate_status(self.system, response)
        try:
            body = parse_json(response, self.system)
        except MalformedResponse:
            if response.status_code == 200:
                raise  # a proxy or the endpoint failing: transient, fetched again
            body = None  # an error status says enough without its body
        if response.status_code in (400, 401):
            error = str(body.get("error")) if isinstance(body, dict) and body.get("error") else "refused"
            if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
                raise ConfigError(f"the token endpoint refused client {self.client_id!r}: {error}",
                                  system=self.system, status=response.status_code, hint=_CREDENTIALS_HINT)
            raise ConfigError(f"the token endpoint refused the client-credentials grant: {error}",
                              system=self.system, status=response.status_code,
                              hint="Check HUB_NETTSKJEMA__TOKEN_URL and that the API client may use "
                                   "client credentials.")
        if response.status_code != 200:
            raise ConfigError(f"POST {response.request.url.path} → {response.status_code} from the token "
                              "endpoint", system=self.system, status=response.status_code,
                              hint="Check HUB_NETTSKJEMA__TOKEN_URL (the OAuth 2 token endpoint).")
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = str(body.get("token_type", "Bearer")) if isinstance(body, dict) else ""
        if not isinstance(token, str) or not token or token_type.lower() != "bearer":
            # A garbled answer on the wire as much as a wrong URL: retried like any malformed body;
            # one that never ends is the URL (connector-health names it).
            raise MalformedResponse("the token endpoint answered 200 without a bearer access_token",
                                    system=self.system, status=200,
                                    hint="It is retried. If it persists, check HUB_NETTSKJEMA__TOKEN_URL: it may "
                                         "point at a proxy page.")
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
        self._token = token
        self._refresh_at = self._clock() + seconds - min(self.refresh_margin, seconds / 4)
        self.tokens_fetched += 1
        return token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            token = self._token if self.has_token else None
            if token is None:
                token = await self._accept((yield self._basic_request()))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == token or not self.has_token:  # nobody refreshed it meanwhile
                await response.aread()
                token = await self._accept((yield self._basic_request()))
            else:
                token = str(self._token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.invalidate()
            raise ConfigError(f"{request.method} {request.url.path} → 401 even with a fresh access token",
                              system=self.system, status=401,
                              hint="Nettskjema refused a newly issued token: check that the API client is "
                                   "active and that HUB_NETTSKJEMA__TOKEN_URL and __BASE_URL belong to the "
                                   "same Nettskjema.")
