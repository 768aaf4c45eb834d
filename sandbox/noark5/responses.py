"""Response helpers: the Noark media type, ``feil`` error bodies, ETag checks, JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "MEDIA_TYPE",
    "ApiError",
    "feil_body",
    "feil_response",
    "noark_response",
    "check_etag",
    "read_json",
]

MEDIA_TYPE = "application/vnd.noark5+json"
_JSON_TYPES = (MEDIA_TYPE, "application/json", "application/merge-patch+json")


class ApiError(Exception):
    """Answered as ``{"feil": {"kode": status, "beskrivelse": message}}``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def feil_body(status: int, message: str) -> dict[str, Any]:
    return {"feil": {"kode": status, "beskrivelse": message}}


def _media_type(request: Request | None) -> str:
    """Answer ``application/json`` only to a client that asks for it and not for ours."""
    accept = request.headers.get("accept", "") if request is not None else ""
    if "application/json" in accept and MEDIA_TYPE not in accept:
        return "application/json"
    return MEDIA_TYPE


def noark_response(content: Any, request: Request | None = None, status: int = 200,
                   headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(content, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, headers=dict(headers or {}),
                    media_type=_media_type(request))


def feil_response(status: int, message: str, request: Request | None = None,
                  headers: Mapping[str, str] | None = None) -> Response:
    return noark_response(feil_body(status, message), request, status, headers)


def _tag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def check_etag(request: Request, current: str) -> None:
    """409 if the request carries ``If-Match`` or ``ETag`` naming another version."""
    for header in ("if-match", "etag"):
        sent = request.headers.get(header)
        if sent is None:
            continue
        tags = [_tag(t) for t in sent.split(",")]
        if "*" not in tags and _tag(current) not in tags:
            raise ApiError(409, f"the object has changed (current ETag {current}, "
                                f"{header} {sent}); fetch it again and retry")


async def read_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", MEDIA_TYPE).split(";")[0].strip().lower()
    if content_type and content_type not in _JSON_TYPES:
        raise ApiError(415, f"Content-Type {content_type} is not supported here; "
                            f"send {MEDIA_TYPE}")
    raw = await request.body()
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data
