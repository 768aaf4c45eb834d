"""Send one DFØ change event to the hub's intake, signed like the real feed's relay.

The body is the exact JSON bytes ``{"id":"10005","uri":"dfo:ansatte","gyldigEtter":"2026-12-01"}``
(compact separators, keys in that order); the header :data:`hub.signing.HEADER` carries
``sha256=<hex>`` over those bytes (:func:`hub.signing.sign`).
"""

from __future__ import annotations

import json
from datetime import date

import httpx

from hub.signing import HEADER, sign

__all__ = ["event_body", "announce"]


def event_body(employee_id: str, gyldig_etter: date | str | None, uri: str = "dfo:ansatte") -> bytes:
    """The event bytes; ``gyldigEtter`` is left out when unknown (the real feed may omit it)."""
    event: dict[str, str] = {"id": str(employee_id), "uri": uri}
    if gyldig_etter:
        event["gyldigEtter"] = gyldig_etter.isoformat() if isinstance(gyldig_etter, date) else gyldig_etter
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def announce(intake_url: str, secret: str, employee_id: str, gyldig_etter: date | str | None,
             uri: str = "dfo:ansatte", *, timeout: float = 10.0) -> httpx.Response:
    """POST the signed event to ``intake_url``; return the intake's response (any status).

    Raises ``httpx.HTTPError`` if the intake cannot be reached (this is a test tool, not a
    connector).
    """
    body = event_body(employee_id, gyldig_etter, uri)
    headers = {"Content-Type": "application/json", HEADER: sign(body, secret)}
    with httpx.Client(timeout=timeout) as client:
        return client.post(intake_url, content=body, headers=headers)
