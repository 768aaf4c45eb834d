"""OAuth 2 client credentials as Nettskjema's authorization server does it, plus counters.

``POST /oauth2/token`` with HTTP Basic ``client_id:secret`` and the form body
``grant_type=client_credentials`` → ``{"access_token", "token_type": "Bearer", "expires_in"}``.
Errors follow RFC 6749 §5.2: wrong or missing client credentials → 401
``{"error": "invalid_client"}`` with ``WWW-Authenticate: Basic``; another grant type → 400
``unsupported_grant_type``; no grant type → 400 ``invalid_request``.

On the API an unknown, revoked or expired bearer token → 401 with an empty body and
``WWW-Authenticate: Bearer error="invalid_token"`` (what a Spring resource server sends).
Tokens live in memory: a restart, or ``POST /_sandbox/revoke-tokens``, invalidates them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["Clients", "TokenIssuer", "principal"]


def principal(client_id: str) -> str:
    """The grantee name Nettskjema uses for an API client."""
    return f"{client_id}@apiclient"


@dataclass
class Clients:
    """Registered API clients: ``client_id`` → secret."""

    secrets: dict[str, str] = field(default_factory=dict)

    def check(self, client_id: str, secret: str) -> bool:
        expected = self.secrets.get(client_id)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())


@dataclass
class _Token:
    client_id: str
    expires_at: float


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _oauth_error(error: str, status: int, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="nettskjema"'} if status == 401 else {}
    headers["Cache-Control"] = "no-store"
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers=headers)


class TokenIssuer:
    def __init__(self, clients: Clients, ttl: int) -> None:
        self.clients = clients
        self.ttl = ttl
        self._tokens: dict[str, _Token] = {}
        self.stats: Counter[str] = Counter()

    async def token_endpoint(self, request: Request) -> Response:
        self.stats["token_requests"] += 1
        credentials = _basic(request)
        if credentials is None or not self.clients.check(*credentials):
            self.stats["token_refused"] += 1
            return _oauth_error("invalid_client", 401, "Client authentication failed")
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [""])[0]
        if not grant_type:
            return _oauth_error("invalid_request", 400, "OAuth 2.0 Parameter: grant_type")
        if grant_type != "client_credentials":
            return _oauth_error("unsupported_grant_type", 400, "OAuth 2.0 Parameter: grant_type")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(credentials[0], time.monotonic() + self.ttl)
        self.stats["tokens_issued"] += 1
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": self.ttl},
                            headers={"Cache-Control": "no-store"})

    def client_of(self, request: Request) -> str | None:
        """The client id behind a valid bearer token, or None (and the token is dropped if expired)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        issued = self._tokens.get(token.strip())
        if issued is None:
            return None
        if time.monotonic() >= issued.expires_at:
            self._tokens.pop(token.strip(), None)
            self.stats["expired_tokens_seen"] += 1
            return None
        return issued.client_id

    def revoke_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        return count

    @staticmethod
    def unauthorized(description: str) -> Response:
        self_header = f'Bearer error="invalid_token", error_description="{description}"'
        return Response(status_code=401, headers={"WWW-Authenticate": self_header})
