"""The daily catch-up deployment, and masking in the logs Prefect stores for a run."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import httpx
import pytest
from prefect import flow, get_run_logger
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.privacy import MASK
from tests.e2e.conftest import wait_item

pytestmark = pytest.mark.e2e


def _hires_starting_within(stack: Stack, days: int) -> set[str]:
    response = httpx.get(f"{stack.dfo_api}/ansatte/v2", headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]})
    today, until = date.today(), date.today() + timedelta(days=days)
    return {e["id"] for e in response.json()["ansatt"]
            if e.get("startdato") and today <= date.fromisoformat(e["startdato"]) <= until}


async def test_daily_catchup_onboards_every_hire_starting_soon(stack: Stack, ledger: Ledger) -> None:
    soon = _hires_starting_within(stack, 14)
    assert len(soon) >= 3
    missed = {e for e in soon if (i := ledger.get_item("onboarding", e)) is None or i.state != ItemState.DONE}
    assert missed, "the seed has hires that no event announced"

    run = await run_deployment("onboarding-catchup/daily-catchup", timeout=120, poll_interval=0.5)
    assert run.state.is_completed(), run.state
    for employee_id in soon:
        assert wait_item(ledger, "onboarding", employee_id).state == ItemState.DONE
    catchup_events = [e for e in ledger.events(limit=1000) if e.source == "catchup"]
    assert {e.subject_id for e in catchup_events} == missed

    # A second catch-up the same day starts nothing new.
    again = await run_deployment("onboarding-catchup/daily-catchup", timeout=120, poll_interval=0.5)
    assert again.state.is_completed()
    assert len([e for e in ledger.events(limit=1000) if e.source == "catchup"]) == len(catchup_events)


@flow(name="masking-probe")
async def _careless_flow(employee_id: str) -> None:
    """Logs an employee's fødselsnummer outright — what a careless developer might write."""
    from hub.settings import get_settings
    from hub.wiring import build_hr

    hr = build_hr(get_settings())
    try:
        employee = await hr.get_employee(employee_id)
    finally:
        await hr.aclose()
    assert employee.national_id is not None
    national_id = employee.national_id.get_secret_value()
    get_run_logger().warning("applicant fnr is %s", national_id)
    logging.getLogger("hub.test").warning("hub logger saw %s", national_id)


async def test_prefect_run_logs_are_masked(stack: Stack) -> None:
    """Even a careless log line with a fødselsnummer reaches Prefect's run log masked."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import APILogHandler

    employee = httpx.get(f"{stack.dfo_api}/ansatte/v2/10009",
                         headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]}).json()["ansatt"][0]
    national_id = employee["fnr"]
    setup_logging(incremental=False)  # hub/logging.yml (the stack set the path), as in every hub process
    state = await _careless_flow("10009", return_state=True)
    assert state.is_completed(), state
    await APILogHandler.aflush()
    async with get_client() as client:
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
    messages = [entry.message for entry in logs]
    assert any(m == "applicant fnr is " + MASK for m in messages), messages
    assert any(m == "hub logger saw " + MASK for m in messages), messages
    assert not any(national_id in m for m in messages)
