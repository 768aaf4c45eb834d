"""A backlog's runs are created in bulk (one request per hundred), exactly once, against a real
Prefect server: also when the answer to a request that created the runs is lost on the way
(Prefect's client sends it again; the idempotency keys hand back the runs it created)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from flows.fritak import fritak_case
from hub.runs import BULK_LIMIT, start_deployment_runs

CASES = "fritak-case/fritak-case"
FIRST = 9_100_000  # submission ids no other test of this module's server uses


class BulkTransport(httpx.AsyncBaseTransport):
    """Passes every request to the real server and counts the bulk creates, and the answers in
    which the server itself was busy: under load in CI its SQLite database is, now and then, and
    each such answer is asked for again (a 5xx, or some runs refused)."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.bulk_requests = 0
        self.busy = 0  # requests the server answered 5xx (its SQLite database busy: asked again)
        self.refusing = 0  # answers that refused some runs (asked again for those)

    def count_real(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.busy += 1
        elif any(r.get("status") != "CREATED" for r in response.json()["results"]):
            self.refusing += 1

    @property
    def asked_again_by_the_server(self) -> int:
        return self.busy + self.refusing

    async def aclose(self) -> None:
        await self.real.aclose()


class RefuseFirstBulkRequest(BulkTransport):
    """The first bulk create (or the first ``times``) is answered as Prefect's SQLite server
    answers it when its database is busy: 200, and every run FAILED with "database is locked"
    (seen in the backlog bench). The server did create the runs here, which a retry must not
    create twice."""

    def __init__(self, times: int = 1) -> None:
        super().__init__()
        self.times = times
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if request.url.path.endswith("/create_flow_run/bulk"):
            self.bulk_requests += 1
            await response.aread()
            if response.status_code < 500 and self.refused < self.times:  # the server created them
                self.refused += 1
                results = json.loads(response.content)["results"]
                return httpx.Response(200, json={"results": [
                    {"status": "FAILED", "error": "(sqlite3.OperationalError) database is locked"} for _ in results]})
            self.count_real(response)
        return response


class LoseFirstBulkAnswer(BulkTransport):
    """Passes every request to the server; the first bulk create's answer is lost after the
    server has committed it (the connection drops on the way back)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: list[str] = []  # the run ids of the answer that never arrived

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if request.url.path.endswith("/create_flow_run/bulk"):
            self.bulk_requests += 1
            await response.aread()
            if self.bulk_requests == 1:  # the server answered: the runs exist
                self.lost = [r["flow_run_id"] for r in response.json()["results"]]
                raise httpx.ReadError("connection reset while reading the answer", request=request)
            self.count_real(response)
        return response


async def _runs_of(deployment_id: UUID, first: int, count: int) -> dict[int, list[Any]]:
    """The runs of the deployment for the submissions ``first`` .. ``first + count - 1``."""
    runs: list[Any] = []
    async with get_client() as client:
        while page := await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])), limit=200,
                offset=len(runs)):
            runs += page
    found: dict[int, list[Any]] = {}
    for run in runs:
        submission = run.parameters.get("submission_id")
        if isinstance(submission, int) and first <= submission < first + count:
            found.setdefault(submission, []).append(run)
    return found


async def test_a_backlog_s_runs_are_created_in_bulk_exactly_once_when_an_answer_is_lost(prefect_server: str) -> None:
    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    count = BULK_LIMIT + 50  # two requests
    wanted = {f"bulk-test:{FIRST + n}": {"submission_id": FIRST + n} for n in range(count)}
    lossy = LoseFirstBulkAnswer()

    async with get_client(httpx_settings={"transport": lossy}) as client:
        started, refused = await start_deployment_runs(CASES, wanted, client=client)

    assert refused == {}
    # 150 runs: two requests, the first sent again after its lost answer; and once more for each
    # answer a busy server gave (5xx, or runs refused): under load in CI, two were seen.
    assert lossy.bulk_requests == 3 + lossy.asked_again_by_the_server
    assert len(lossy.lost) == BULK_LIMIT  # the lost answer had created the first hundred
    runs = await _runs_of(deployment_id, FIRST, count)
    assert sorted(runs) == [FIRST + n for n in range(count)]
    assert all(len(of_one) == 1 for of_one in runs.values()), "a run was created twice"
    for submission, (run,) in runs.items():
        assert started[f"bulk-test:{submission}"] == str(run.id)  # each key got its own run back
        assert run.idempotency_key == f"bulk-test:{submission}" and "hub" in run.tags
        assert run.state is not None and run.state.is_scheduled()
    assert [started[f"bulk-test:{FIRST + n}"] for n in range(BULK_LIMIT)] == lossy.lost  # handed back, not new


async def test_runs_refused_while_the_database_is_busy_are_asked_for_again(prefect_server: str) -> None:
    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    first, count = FIRST + 500, 20
    wanted = {f"bulk-test:{first + n}": {"submission_id": first + n} for n in range(count)}
    busy = RefuseFirstBulkRequest()

    async with get_client(httpx_settings={"transport": busy}) as client:
        started, refused = await start_deployment_runs(CASES, wanted, client=client)

    # once refused, asked again; and once more for each answer the real server gave while busy
    assert refused == {} and busy.bulk_requests == 2 + busy.asked_again_by_the_server
    runs = await _runs_of(deployment_id, first, count)
    assert sorted(runs) == [first + n for n in range(count)]
    assert all(len(of_one) == 1 for of_one in runs.values()), "a run was created twice"
    assert {started[f"bulk-test:{s}"] for s in runs} == {str(r[0].id) for r in runs.values()}


async def test_a_busy_database_is_waited_out_even_by_a_caller_that_gives_its_runs_few_tries(
        prefect_server: str) -> None:
    """The fritak intake gives a case run 3 tries (a run that does not fit will not fit the
    fourth time); a lock on Prefect's SQLite database lasting five requests left two case runs
    uncreated in CI, their applications waiting for a redrive-stuck that the test never ran."""
    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    first, count = FIRST + 700, 5
    wanted = {f"bulk-test:{first + n}": {"submission_id": first + n} for n in range(count)}
    busy = RefuseFirstBulkRequest(times=5)

    async with get_client(httpx_settings={"transport": busy}) as client:
        started, refused = await start_deployment_runs(CASES, wanted, client=client, tries=3)

    assert refused == {} and busy.bulk_requests == 6 + busy.asked_again_by_the_server
    runs = await _runs_of(deployment_id, first, count)
    assert sorted(runs) == [first + n for n in range(count)]
    assert all(len(of_one) == 1 for of_one in runs.values()), "a run was created twice"


async def test_a_run_prefect_refuses_is_reported_and_the_others_are_created(prefect_server: str) -> None:
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    first = FIRST + 1000
    wanted: dict[str, dict[str, Any]] = {f"bulk-test:{first}": {"submission_id": first},
                                         "bulk-test:wrong": {"submission_id": "not a number"},
                                         f"bulk-test:{first + 1}": {"submission_id": first + 1}}

    started, refused = await start_deployment_runs(CASES, wanted, tries=2)

    assert sorted(started) == [f"bulk-test:{first}", f"bulk-test:{first + 1}"]
    assert list(refused) == ["bulk-test:wrong"] and "submission_id" in refused["bulk-test:wrong"]
