"""The recovery passes read every run Prefect holds in a state, not the first page of 200.

Against a real Prefect server: a backlog leaves more runs Pending than one read returns, and
the zombie check once looked only at the first :data:`~hub.prefect_api.READ_LIMIT` of them:
the ones after were never found dead, and their items never re-driven.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName

from hub.ledger.models import utcnow
from hub.prefect_api import READ_LIMIT, read_all_flow_runs
from hub.recovery import RecoveryConfig, find_zombies

CONFIG = RecoveryConfig(heartbeat=timedelta(seconds=30), zombie_after=timedelta(seconds=90),
                        item_lease=timedelta(seconds=60), redrive_max=2)
MORE_THAN_A_PAGE = READ_LIMIT + 37


def _post(http: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    """A write to the session's SQLite server, asked again while it answers 503 (busy)."""
    for pause in (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0):
        answer = http.post(path, json=body)
        if answer.status_code != 503:
            break
        time.sleep(pause)
    answer.raise_for_status()
    result: dict[str, object] = answer.json()
    return result


def _pending_runs(api: str, flow_name: str, count: int) -> set[str]:
    with httpx.Client(base_url=api, timeout=30) as http:
        flow_id = _post(http, "/flows/", {"name": flow_name})["id"]
        return {str(_post(http, "/flow_runs/", {"flow_id": flow_id, "name": f"{flow_name}-{n}",
                                                "state": {"type": "PENDING", "name": "Pending"}})["id"])
                for n in range(count)}


async def test_every_pending_run_past_the_window_is_a_zombie_not_only_the_first_page(prefect_server: str) -> None:
    name = f"backlog-{uuid.uuid4().hex[:8]}"
    ours = _pending_runs(prefect_server, name, MORE_THAN_A_PAGE)
    later = utcnow() + CONFIG.pending_after + timedelta(minutes=1)  # every one has been Pending too long
    async with get_client() as client:
        runs, zombies = await find_zombies(client, CONFIG, now=later)
        read = await read_all_flow_runs(client, flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))
        capped = await read_all_flow_runs(client, most=READ_LIMIT + 5,
                                          flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))
    assert ours <= {str(r.id) for r in runs}
    assert ours <= {str(r.id) for r in zombies}, f"{len(ours - {str(r.id) for r in zombies})} never found"
    assert sorted(str(r.id) for r in read) == sorted(ours)  # each once
    assert len(capped) == READ_LIMIT + 5 and {str(r.id) for r in capped} <= ours
