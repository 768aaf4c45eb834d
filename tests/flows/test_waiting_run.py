"""A run created already waiting for a person's input (:func:`hub.runs.start_waiting_for_input`),
against a real Prefect server behind a fault proxy: created once although the answers to its
writes are lost after the server committed them, shown Suspended with its form, never started,
and resumed only with input that fits the form."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.flow_runs import aresume_flow_run
from prefect.input import keyset_from_paused_state
from prefect.input.actions import aread_flow_run_input
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.fritak import fritak_case
from flows.fritak_steps import DECISION_KEY, CourseVerdict, FritakDecision
from hub.runs import start_waiting_for_input
from sandbox.common import control_headers
from sandbox.faultproxy import start_fault_proxy

CASES = "fritak-case/fritak-case"
SUBMISSION = 9_200_001  # no other test of this module's server uses it


def _arm(proxy: Any, **fault: Any) -> None:
    armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control_headers(proxy.extra.get("control_token")),
                       json=fault, timeout=5)
    assert armed.status_code == 201, armed.text


async def test_a_run_waiting_for_input_is_created_once_with_its_form_when_answers_are_lost(
        prefect_server: str, tmp_path: Any) -> None:
    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    form = FritakDecision.with_initial_data(
        description="Søknad om fritak – **DATA1100**", outcome="approve", justification="", decided_by="Saksbehandler",
        courses=[CourseVerdict(course="DATA1100", verdict="approved")])
    proxy: Any = start_fault_proxy(prefect_server.removesuffix("/api"), tmp_path)
    try:
        # The server creates the run and stores the description; both answers are lost on the way back.
        _arm(proxy, path="/api/deployments/", method="POST", kind="lost_response", lost_as="reset")
        _arm(proxy, path="/api/flow_runs/", method="POST", kind="lost_response", lost_as="reset")
        with temporary_settings(updates={PREFECT_API_URL: f"{proxy.url}/api"}):
            run_id = await start_waiting_for_input(CASES, {"submission_id": SUBMISSION}, key=f"wait:{SUBMISSION}",
                                                   pause_key=DECISION_KEY, form=form)
            # The caller died before it noted the run, and asks again: the same run, nothing twice.
            again = await start_waiting_for_input(CASES, {"submission_id": SUBMISSION}, key=f"wait:{SUBMISSION}",
                                                  pause_key=DECISION_KEY, form=form)
        async with httpx.AsyncClient() as plain:
            stats = (await plain.get(f"{proxy.url}/_sandbox/faults/stats",
                                     headers=control_headers(proxy.extra.get("control_token")))).json()
    finally:
        proxy.stop()
    assert stats["injected"].get("lost_response") == 2, stats  # both faults fired

    assert again == run_id
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])), limit=200)
        run = await client.read_flow_run(UUID(run_id))
    assert [str(r.id) for r in runs if r.parameters.get("submission_id") == SUBMISSION] == [run_id]
    state = run.state
    assert state is not None and state.is_paused() and state.name == "Suspended"
    assert state.state_details.pause_reschedule and state.state_details.pause_key == DECISION_KEY
    assert run.start_time is None  # no process ever ran it
    keyset = keyset_from_paused_state(state)
    assert state.state_details.run_input_keyset == keyset
    assert await aread_flow_run_input(keyset["description"], flow_run_id=run.id) == "Søknad om fritak – **DATA1100**"
    schema = await aread_flow_run_input(keyset["schema"], flow_run_id=run.id)
    assert schema["properties"]["outcome"]["default"] == "approve"  # the form's initial answers
    assert schema["properties"]["courses"]["default"] == [{"course": "DATA1100", "verdict": "approved"}]

    with pytest.raises(RuntimeError, match="(?i)validation|not valid|Cannot resume"):
        await aresume_flow_run(run.id, run_input={"outcome": "perhaps", "courses": [], "justification": "x"})
    async with get_client() as client:
        assert (await client.read_flow_run(run.id)).state.name == "Suspended"  # type: ignore[union-attr]

    decision = {"outcome": "approve", "justification": "Tilsvarende emne bestått.", "decided_by": "Kari",
                "courses": [{"course": "DATA1100", "verdict": "approved"}]}
    await aresume_flow_run(run.id, run_input=decision)
    async with get_client() as client:
        resumed = await client.read_flow_run(run.id)
    assert resumed.state is not None and resumed.state.is_scheduled()  # a worker starts it now
    assert await aread_flow_run_input(keyset["response"], flow_run_id=run.id) == decision


async def test_runs_waiting_for_input_are_created_together_each_with_its_own_form(prefect_server: str) -> None:
    """Several at once (one bulk create, then each run's form): each run Suspended with its own
    form; a run Prefect refuses (its parameters do not fit the flow) is reported by its key and
    keeps none of the others from being created; asked again, the same runs come back."""
    from hub.runs import start_waiting_for_inputs

    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    first = SUBMISSION + 100
    wanted: dict[str, tuple[dict[str, Any], Any]] = {
        f"together:{first + n}": ({"submission_id": first + n}, FritakDecision.with_initial_data(
            description=f"Søknad #{first + n}", outcome="approve", justification="", decided_by="Saksbehandler",
            courses=[CourseVerdict(course=f"DATA{1100 + n}", verdict="approved")]))
        for n in range(3)}
    wanted["together:bad"] = ({"submission_id": "not a number"}, FritakDecision)

    started, refused = await start_waiting_for_inputs(CASES, wanted, pause_key=DECISION_KEY, tries=1)
    again, refused_again = await start_waiting_for_inputs(CASES, wanted, pause_key=DECISION_KEY, tries=1)

    assert sorted(started) == [f"together:{first + n}" for n in range(3)] and again == started
    assert list(refused) == list(refused_again) == ["together:bad"] and "submission_id" in refused["together:bad"]
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])), limit=200)
        assert sorted(str(r.id) for r in runs if first <= r.parameters.get("submission_id", 0) < first + 3
                      ) == sorted(started.values())
        for n in range(3):
            run = await client.read_flow_run(UUID(started[f"together:{first + n}"]))
            assert run.state is not None and run.state.name == "Suspended" and run.start_time is None
            keyset = keyset_from_paused_state(run.state)
            assert await aread_flow_run_input(keyset["description"], flow_run_id=run.id) == f"Søknad #{first + n}"
            schema = await aread_flow_run_input(keyset["schema"], flow_run_id=run.id)
            assert schema["properties"]["courses"]["default"] == [{"course": f"DATA{1100 + n}", "verdict": "approved"}]
