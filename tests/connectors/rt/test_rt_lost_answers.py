"""RT's create runs through :func:`hub.once.ensure_by_key`: after a lost answer it looks the
ticket up by its ExternalRef instead of opening a second one. A scripted REST2 (an
``httpx.MockTransport`` holding tickets in a dict) stands in for RT, so no RT is needed; the
same cases against the real RT are in ``test_rt_tickets.py``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.rt import RtConfig, RtTicketing
from hub.errors import TransientError
from tests.connectors.ticketing_data import new_ref, new_ticket


class FakeRt:
    """Just enough REST2: POST /ticket, GET /ticket/:id, GET /tickets by ExternalRef."""

    def __init__(self, lose: str | None, *, fail_times: int = 1) -> None:
        self.lose, self.fail_times = lose, fail_times
        self.tickets: dict[str, dict[str, Any]] = {}
        self.posts = 0

    def _record(self, tid: str) -> dict[str, Any]:
        body = self.tickets[tid]
        return {"id": tid, "Subject": body["Subject"], "Status": "new", "Queue": {"id": "1", "Name": body["Queue"]},
                "CustomFields": [{"id": "1", "name": "ExternalRef",
                                  "values": [body["CustomFields"]["ExternalRef"]]}]}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/REST/2.0/")
        if request.method == "POST" and path == "ticket":
            self.posts += 1
            failing = self.posts <= self.fail_times
            if failing and self.lose == "503 before RT saw it":
                return httpx.Response(503, json={"message": "Service Unavailable"})
            tid = str(len(self.tickets) + 1)
            self.tickets[tid] = json.loads(request.content)
            if failing and self.lose == "reset after RT stored it":
                raise httpx.ReadError("connection reset", request=request)
            if failing and self.lose == "502 after RT stored it":
                return httpx.Response(502, text="<html>Bad Gateway</html>")
            return httpx.Response(201, json={"id": int(tid), "type": "ticket"})
        if request.method == "GET" and path.startswith("ticket/"):
            return httpx.Response(200, json=self._record(path.split("/")[1]))
        if request.method == "GET" and path == "tickets":
            query = request.url.params["query"]
            items = [self._record(t) for t, b in self.tickets.items()
                     if f"'{b['CustomFields']['ExternalRef']}'" in query]
            return httpx.Response(200, json={"items": items, "page": 1, "pages": 1, "count": len(items)})
        return httpx.Response(404, json={"message": f"no {request.method} {path} here"})


def _config() -> RtConfig:
    return RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=3,
                    max_retry_seconds=5.0)


@pytest.mark.parametrize("lost", ["reset after RT stored it", "502 after RT stored it"])
async def test_a_lost_answer_to_a_ticket_create_is_not_sent_again(lost: str) -> None:
    rt = FakeRt(lost)
    ref = new_ref()
    async with RtTicketing(_config(), transport=httpx.MockTransport(rt.handler)) as client:
        ticket = await client.ensure_ticket(new_ticket(ref))
        again = await client.ensure_ticket(new_ticket(ref))
    assert rt.posts == 1 and list(rt.tickets) == [ticket.id] == [again.id]
    assert ticket.external_ref == ref


async def test_a_create_that_did_not_land_is_sent_again_bounded() -> None:
    rt = FakeRt("503 before RT saw it")
    async with RtTicketing(_config(), transport=httpx.MockTransport(rt.handler)) as client:
        ticket = await client.ensure_ticket(new_ticket(new_ref()))
    assert rt.posts == 2 and list(rt.tickets) == [ticket.id]

    down = FakeRt("503 before RT saw it", fail_times=99)
    async with RtTicketing(_config(), transport=httpx.MockTransport(down.handler)) as client:
        with pytest.raises(TransientError):
            await client.ensure_ticket(new_ticket(new_ref()))
    assert down.posts == 3 and down.tickets == {}
