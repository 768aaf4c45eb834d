"""One request to Prefect's API, without the Prefect client's retry loop.

Prefect's client retries a 502, 503 or 504 after 2, 4, 8, 16 and 32 s, and it sleeps after
the last try too: with ``PREFECT_CLIENT_MAX_RETRIES=0`` one 503 still costs 2 s before the
error comes back (``PrefectHttpxAsyncClient._send_with_retry``, Prefect 3.9). A SQLite
Prefect server under a burst answers 503 at once to a write whose transaction read a
snapshot another write has since replaced (``SQLITE_BUSY_SNAPSHOT``): three of four global
slot requests did, during 30 onboardings at once. Asked again 50 ms later such a request
usually goes through, so the hub's hot paths (slot leases, the intake's run creations) send
their requests with :func:`send_once` and retry on their own terms.

The request goes through the client's own HTTP client: its API URL, auth, headers and TLS.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from prefect.client.orchestration import PrefectClient

__all__ = ["send_once", "busy_pause", "read_all_flow_runs", "READ_LIMIT", "READ_MOST"]

# The most objects Prefect's API returns for one read (``PREFECT_API_DEFAULT_LIMIT``): a larger
# ``limit`` is refused with 422 "Invalid limit: must be less than or equal to 200", so a read
# of more (flow runs by id) is made in pages of this size.
READ_LIMIT = 200
# The most flow runs :func:`read_all_flow_runs` reads (50 pages): a bound, so that a pass over a
# state a runaway burst filled still ends.
READ_MOST = 10_000


async def send_once(client: PrefectClient, method: str, path: str, *, json: Any = None,
                    path_params: dict[str, Any] | None = None) -> httpx.Response:
    """Send one request with ``client``'s HTTP client and return its answer; an error answer
    raises as the client's own calls do (``ObjectNotFound`` for a 404,
    ``PrefectHTTPStatusError`` otherwise), but at once, without its back-off."""
    import httpx
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    http = client._client
    request = http.build_request(method, path.format(**(path_params or {})), json=json)
    response = await httpx.AsyncClient.send(http, request)
    if response.status_code == 403 and "CSRF" in response.text:
        # The server's CSRF protection is on (off by default): the client's own path fetches a token.
        response = await http.send(http.build_request(method, path.format(**(path_params or {})), json=json))
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        error = PrefectHTTPStatusError.from_httpx_error(exc)
        if response.status_code == 404:
            raise ObjectNotFound(http_exc=error) from error
        raise error from None
    return response


def busy_pause(attempt: int, *, longest: float) -> float:
    """Seconds to wait before asking again after ``attempt + 1`` busy answers (5xx, no answer):
    from 50 ms, doubling to ``longest``, with jitter. Asking a busy SQLite server again soon
    costs it little, and the next try is a new draw. ``attempt`` may grow without end (a lease
    asked for while Prefect is down for half an hour): the doubling stops long before a float
    would overflow."""
    return float(min(longest, 0.05 * 2.0 ** min(attempt, 32)) * random.uniform(0.5, 1.5))


async def read_all_flow_runs(client: PrefectClient, *, most: int = READ_MOST, **filters: Any) -> list[Any]:
    """Every flow run ``client.read_flow_runs(**filters)`` matches, read in pages Prefect
    accepts (:data:`READ_LIMIT`), up to ``most``. One read of :data:`READ_LIMIT` would see only
    the first 200: a backlog has runs by the thousand, and the ones after them would never be
    looked at. The default order is by id, so that a page does not shift under the next; a run
    read twice (it shifted anyway) is kept once, in its first place."""
    from prefect.client.schemas.sorting import FlowRunSort

    filters.setdefault("sort", FlowRunSort.ID_DESC)
    runs: dict[Any, Any] = {}  # by id: a run that entered the state meanwhile shifts a page by one
    offset = 0
    while offset < most:
        page = await client.read_flow_runs(limit=min(READ_LIMIT, most - offset), offset=offset, **filters)
        runs.update((run.id, run) for run in page if run.id not in runs)
        offset += len(page)
        if len(page) < READ_LIMIT:
            break
    return list(runs.values())
