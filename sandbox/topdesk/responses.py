"""Error bodies, request bodies and TOPdesk's paging, shared by the sandbox's routes.

TOPdesk's general API answers errors as a list of messages (``[{"message": "..."}]``);
Asset Management answers ``{"errors": [{"message": "..."}]}``. Lists page with
``start``/``page_size`` (general API) or ``pageStart``/``pageSize`` (Asset Management):
**200** when the rest of the result fits the page, **206 Partial Content** when more
follow (ask again with a larger ``start``), **204 No Content** when nothing matched.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["ApiError", "error_response", "json_object", "paged", "int_param"]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if request.url.path.startswith("/tas/api/assetmgmt"):
        body: Any = {"errors": [{"message": message}]}
    else:
        body = [{"message": message}]
    return JSONResponse(body, status_code=status, headers=headers)


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def int_param(request: Request, name: str, default: int, *, minimum: int = 0,
              maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"The parameter '{name}' must be a whole number.") from exc
    if value < minimum or (maximum is not None and value > maximum):
        limit = f" and {maximum}" if maximum is not None else ""
        raise ApiError(400, f"The parameter '{name}' must be between {minimum}{limit}.")
    return value


def paged(request: Request, items: list[Any], *, default_size: int, max_size: int,
          start_param: str = "start", size_param: str = "page_size", wrap: str | None = None,
          empty_status: int = 204) -> Response:
    """One page of ``items``; ``wrap`` puts the page under that key (``dataSet``)."""
    start = int_param(request, start_param, 0)
    size = int_param(request, size_param, default_size, minimum=1, maximum=max_size)
    page = items[start:start + size]
    if not page and empty_status == 204:
        return Response(status_code=204)
    status = 206 if start + size < len(items) else 200
    return JSONResponse({wrap: page} if wrap else page, status_code=status)
