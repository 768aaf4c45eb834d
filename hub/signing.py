"""Signed events per the Standard Webhooks scheme (HR → intake), for senders and receivers.

A sender signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 and sends three
headers (https://www.standardwebhooks.com/):

- ``webhook-id``: the message id; the same message re-sent keeps its id;
- ``webhook-timestamp``: Unix seconds when it was signed;
- ``webhook-signature``: ``v1,<base64 signature>``, several separated by spaces (a sender
  that signs with an old and a new secret during a rotation).

The receiver accepts a message signed with *any* of its active secrets, only within
:data:`TOLERANCE` of its own clock, and never accepts the same ``webhook-id`` for a different
body (:class:`ReplayGuard`). The HMAC itself is the ``standardwebhooks`` library's.

Secrets: ``whsec_<base64>`` is the scheme's own form (the key is the decoded bytes). Any other
string is used as the key as it is (its UTF-8 bytes), so a plain shared secret such as the
local stack's ``sandbox-hmac-secret`` works on both sides without conversion.

Errors::

    SignatureError          401: the message cannot be trusted; ``str(exc)`` says why
    ├── MissingHeaders      a webhook-* header is absent or malformed
    ├── StaleTimestamp      webhook-timestamp outside the tolerance (too old or in the future)
    └── BadSignature        no signature matches any active secret
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["ID_HEADER", "TIMESTAMP_HEADER", "SIGNATURE_HEADER", "HEADERS", "TOLERANCE",
           "SignatureError", "MissingHeaders", "StaleTimestamp", "BadSignature",
           "sign_headers", "verify", "body_digest", "ReplayGuard"]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
TOLERANCE = timedelta(minutes=5)  # the scheme's (and the library's) freshness window

_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
_SIGNATURE = re.compile(r"^v1,[A-Za-z0-9+/]+={0,2}$")


class SignatureError(Exception):
    """The message cannot be trusted (answer 401); the text says why, without secrets."""


class MissingHeaders(SignatureError):
    pass


class StaleTimestamp(SignatureError):
    pass


class BadSignature(SignatureError):
    pass


def _webhook(secret: str) -> Webhook:
    """``whsec_<base64>`` is decoded as the scheme says; any other string is the raw key."""
    if not secret:
        raise ValueError("an empty signing secret")
    return Webhook(secret if secret.startswith("whsec_") else secret.encode("utf-8"))


def sign_headers(body: bytes, secrets: str | Sequence[str], *, msg_id: str | None = None,
                 timestamp: datetime | None = None) -> dict[str, str]:
    """The three headers for ``body``, signed with each of ``secrets`` (space-separated)."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("no secret to sign with")
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    # The library reads the datetime's wall clock as UTC: hand it UTC, whatever the zone.
    when = (timestamp or datetime.now(UTC)).astimezone(UTC)
    text = body.decode("utf-8")
    signatures = " ".join(_webhook(key).sign(msg_id, when, text) for key in keys)
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(int(when.timestamp())), SIGNATURE_HEADER: signatures}


def verify(body: bytes, headers: Mapping[str, str], secrets: Iterable[str], *,
           tolerance: timedelta = TOLERANCE) -> str:
    """Check the signature headers against ``body``; return the ``webhook-id``.

    Raises a :class:`SignatureError` saying which header is wrong and why.
    """
    given = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in HEADERS if not given.get(h, "").strip()]
    if missing:
        raise MissingHeaders(f"missing {', '.join(missing)} header(s) (Standard Webhooks signature)")
    msg_id = given[ID_HEADER].strip()
    if not _ID.match(msg_id):
        raise MissingHeaders(f"{ID_HEADER} must be 1-128 printable ASCII characters without spaces")
    try:
        signed_at = int(given[TIMESTAMP_HEADER].strip())
    except ValueError:
        raise MissingHeaders(f"{TIMESTAMP_HEADER} must be whole Unix seconds") from None
    skew = signed_at - time.time()
    if skew < -tolerance.total_seconds():
        raise StaleTimestamp(f"{TIMESTAMP_HEADER} is {int(-skew)} s old; messages older than "
                             f"{int(tolerance.total_seconds())} s are refused (sign it afresh)")
    if skew > tolerance.total_seconds():
        raise StaleTimestamp(f"{TIMESTAMP_HEADER} is {int(skew)} s in the future; check the sender's "
                             f"clock (tolerance {int(tolerance.total_seconds())} s)")
    # Only well-formed v1 signatures reach the library (it raises odd errors on garbage).
    candidates = [s for s in given[SIGNATURE_HEADER].split() if _SIGNATURE.match(s)]
    if not candidates:
        raise BadSignature(f"{SIGNATURE_HEADER} holds no v1,<base64> signature")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSignature("the body is not UTF-8; nothing can be signed over it") from None
    clean = {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(signed_at), SIGNATURE_HEADER: " ".join(candidates)}
    for secret in secrets:
        try:
            _webhook(secret).verify(body, clean, json_parse=False)
            return msg_id
        except (WebhookVerificationError, ValueError):
            continue
    raise BadSignature(f"no {SIGNATURE_HEADER} matches an active secret: sign "
                       f"'{{{ID_HEADER}}}.{{{TIMESTAMP_HEADER}}}.{{body}}' with HMAC-SHA256")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class ReplayGuard:
    """Remembers which body each ``webhook-id`` carried, for as long as the id can be valid.

    A message is fresh for ``TOLERANCE`` either side of its timestamp, so an id seen more
    than twice the tolerance ago can no longer pass :func:`verify`; it is forgotten then.
    ``check`` answers ``new`` (remembered now), ``same`` (a re-send: same id, same body) or
    ``conflict`` (same id, different body: refuse it).
    """

    def __init__(self, keep: timedelta = 2 * TOLERANCE + timedelta(minutes=1), limit: int = 200_000) -> None:
        self.keep = keep.total_seconds()
        self.limit = limit
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, msg_id: str, digest: str, *, at: float | None = None) -> Literal["new", "same", "conflict"]:
        now = time.monotonic() if at is None else at
        with self._lock:
            self._forget(now)
            known = self._seen.get(msg_id)
            if known is not None:
                return "same" if known[0] == digest else "conflict"
            self._seen[msg_id] = (digest, now)
            return "new"

    def remember(self, msg_id: str, digest: str, age: timedelta) -> None:
        """Pre-load an id seen ``age`` ago (from the inbox, after a restart)."""
        if age.total_seconds() < self.keep:
            with self._lock:
                self._seen.setdefault(msg_id, (digest, time.monotonic() - age.total_seconds()))

    def forget(self, msg_id: str) -> None:
        """Drop an id whose message was not stored after all (so a corrected re-send may pass)."""
        with self._lock:
            self._seen.pop(msg_id, None)

    def _forget(self, now: float) -> None:
        while self._seen:
            oldest_id, (_, seen_at) = next(iter(self._seen.items()))
            if now - seen_at < self.keep and len(self._seen) < self.limit:
                break
            del self._seen[oldest_id]
