"""Send one HR change event to the hub's intake, signed as the intake requires (what DFØ's
relay does; ``hub events send`` and the DFØ sandbox use it).

The body is the exact JSON bytes ``{"id":"10005","uri":"dfo:ansatte","gyldigEtter":"2026-12-01"}``
(compact separators, keys in that order), signed per Standard Webhooks: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` (:func:`hub.signing.sign_headers`). Several
secrets sign it with one signature each (a sender in the middle of a key rotation).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import httpx

from hub.signing import sign_headers

__all__ = ["event_body", "announce"]


def event_body(employee_id: str, gyldig_etter: date | str | None, uri: str = "dfo:ansatte") -> bytes:
    """The event bytes; ``gyldigEtter`` is left out when unknown (the real feed may omit it)."""
    event: dict[str, str] = {"id": str(employee_id), "uri": uri}
    if gyldig_etter:
        event["gyldigEtter"] = gyldig_etter.isoformat() if isinstance(gyldig_etter, date) else gyldig_etter
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def announce(intake_url: str, secret: str | Sequence[str], employee_id: str, gyldig_etter: date | str | None,
             uri: str = "dfo:ansatte", *, timeout: float = 10.0, msg_id: str | None = None) -> httpx.Response:
    """POST the signed event to ``intake_url``; return the intake's response (any status).

    Raises ``httpx.HTTPError`` if the intake cannot be reached.
    """
    body = event_body(employee_id, gyldig_etter, uri)
    headers = {"Content-Type": "application/json", **sign_headers(body, secret, msg_id=msg_id)}
    with httpx.Client(timeout=timeout) as client:
        return client.post(intake_url, content=body, headers=headers)
