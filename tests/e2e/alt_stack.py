"""The alternative stack: Public 360 for the archive, TOPdesk for ticketing, no Request Tracker.

One such stack per pytest process (the ``alt_stack`` fixture in ``tests/e2e/test_p360.py``):
it shows that the services run unchanged on OsloMet's own archive and on TOPdesk. Here are
the plain calls its tests use to look at the outcome in the systems themselves — SIF for
Public 360, TOPdesk's REST API — and to make faults and drift there on purpose; none of them
goes through the hub's connectors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from devtools.stack import Stack, StackPorts
from sandbox.common import control_headers

__all__ = ["EXTERNAL_ID_TYPE", "start_alt_stack", "sif", "cases", "documents", "arm", "injected", "clear_faults",
           "plant", "topdesk", "artifact"]

EXTERNAL_ID_TYPE = "OsloMet integrasjonshub"  # the hub's ExternalId Type in Public 360 (P360Config)
CREATE_CASE = "CaseService/CreateCase"
CREATE_DOCUMENT = "DocumentService/CreateDocument"


@contextmanager
def start_alt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(home=tmp_path_factory.mktemp("hub-p360-topdesk"), ports=StackPorts.free(),
                  extra_env={"HUB_PAUSE_SCHEDULES": "1", "HUB_ARCHIVE": "p360", "HUB_TICKETING": "topdesk"})
    saved = dict(os.environ)
    try:
        stack.start_all(progress=lambda m: print(f"[p360+topdesk stack] {m}", flush=True), with_rt=False)
        yield stack
    finally:
        stack.stop_all()
        os.environ.clear()
        os.environ.update(saved)  # a stack started earlier in the session gets its environment back
        from tests.e2e.conftest import _refresh_settings

        _refresh_settings()


# --- Public 360, through SIF and the sandbox's control routes ---------------------------------

def sif(stack: Stack, service: str, method: str, **parameter: Any) -> dict[str, Any]:
    response = httpx.post(f"{stack.p360_api}/{service}/{method}", params={"authkey": stack.secrets["p360_auth_key"]},
                          json={"parameter": parameter}, timeout=30)
    response.raise_for_status()
    data = dict(response.json())
    assert data["Successful"], data["ErrorMessage"]
    return data


def cases(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    """Every 360 case filed under the hub's external id."""
    return list(sif(stack, "CaseService", "GetCases",
                    ExternalId={"Id": external_id, "Type": EXTERNAL_ID_TYPE})["Cases"])


def documents(stack: Stack, case_number: str) -> list[dict[str, Any]]:
    """Every document of a 360 case, with files and custom fields."""
    return list(sif(stack, "DocumentService", "GetDocuments", CaseNumber=case_number, IncludeFiles=True,
                    IncludeCustomFields=True)["Documents"])


def arm(stack: Stack, method: str, *, lost_as: str, count: int = 1) -> None:
    """The next ``count`` calls of ``method`` (``CaseService/CreateCase``) are carried out by 360,
    then their answer is lost (``lost_as`` "reset": the connection drops; "502": a gateway error)."""
    from sandbox.p360 import RPC_PREFIX

    response = httpx.post(f"{stack.p360_url}/_sandbox/faults", headers=control_headers(stack.sandbox_token),
                          json={"path": f"{RPC_PREFIX}/{method}", "kind": "lost_response", "lost_as": lost_as,
                                "count": count}, timeout=10)
    assert response.status_code == 201, response.text


def injected(stack: Stack) -> int:
    """How many answers the 360 sandbox has lost so far."""
    stats = httpx.get(f"{stack.p360_url}/_sandbox/faults/stats", headers=control_headers(stack.sandbox_token),
                      timeout=10).json()
    return int(stats["injected"].get("lost_response", 0))


def clear_faults(stack: Stack) -> None:
    httpx.delete(f"{stack.p360_url}/_sandbox/faults", headers=control_headers(stack.sandbox_token),
                 timeout=10).raise_for_status()


def plant(stack: Stack, method: str, table: str, recno: int, **changes: Any) -> None:
    """Change ("PATCH") or remove ("DELETE") a stored 360 record behind the API's back: drift."""
    response = httpx.request(method, f"{stack.p360_url}/_sandbox/{table}/{recno}",
                             headers=control_headers(stack.sandbox_token), json=changes or None, timeout=10)
    assert response.status_code in (200, 204), response.text


# --- TOPdesk, as IT's operators use it ------------------------------------------------------

@contextmanager
def topdesk(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.topdesk_url}/tas/api", auth=("hub", "sandbox-topdesk-app-password"),
                      timeout=30) as client:
        yield client


# --- Prefect ---------------------------------------------------------------------------------

async def artifact(key: str) -> Any:
    """The newest artifact under ``key``: its data (a table's rows are decoded)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            limit=1, sort="CREATED_DESC")
    assert found, f"no artifact {key}"
    data = found[0].data
    return json.loads(data) if isinstance(data, str) and data[:1] in "[{" else data
