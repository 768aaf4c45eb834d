"""A peer down for longer than a task's retries: the item becomes a transient dead letter,
and the hub starts it again by itself a while later, when the peer is back.

DFØ answers 503 for one employee until the task's retries (seconds apart) are spent; the
onboarding item is then a dead letter of kind ``transient``. The outage ends. The
automatic retry (:func:`hub.replay.retry_transient`, which ``redrive-stuck`` runs every two
minutes) starts it again once its delay has passed, and the hire is onboarded. The
employment-changes router, which read the same employee for the same event, is started again
the same way when its item failed too.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.recovery import RecoveryConfig
from hub.replay import retry_transient
from sandbox.common import control_headers
from sandbox.dfo.app import API_PREFIX
from tests.e2e.conftest import send_event, wait_flow_run, wait_item

pytestmark = pytest.mark.e2e

EMPLOYEE = "77801"


async def test_a_transient_dead_letter_is_retried_when_the_peer_is_back(stack: Stack, ledger: Ledger) -> None:
    faults = f"{stack.dfo_url}/_sandbox/faults"
    headers = control_headers(stack.sandbox_token)
    httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", headers=headers, json={
        "id": EMPLOYEE, "fornavn": "Vent", "etternavn": "Litt", "brukerident": "venlit",
        "epost": "venlit@oslomet.no", "startdato": "2026-12-14", "organisasjonId": "10000200",
        "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False}).raise_for_status()
    httpx.post(faults, headers=headers, json={"path": f"{API_PREFIX}/ansatte/v2/{EMPLOYEE}", "status": 503,
                                              "count": 1000}).raise_for_status()
    try:
        assert send_event(stack, EMPLOYEE).status_code == 202
        failed = wait_item(ledger, "onboarding", EMPLOYEE, timeout=150)
        assert failed.state == ItemState.FAILED and failed.error_kind == "transient", failed.last_error
        config = RecoveryConfig.from_env()
        assert await retry_transient(ledger, config) == []  # not while its delay runs
    finally:
        httpx.delete(faults, headers=headers).raise_for_status()

    soon = RecoveryConfig(heartbeat=None, zombie_after=config.zombie_after, item_lease=config.item_lease,
                          redrive_max=config.redrive_max, retry_after=(timedelta(0),))
    results = await retry_transient(ledger, soon)
    # The employment-changes router read the same employee for the same event: its own item
    # may be a transient dead letter too, and is started again beside onboarding's.
    assert {r.service for r in results} <= {"onboarding", "employment"}, results
    assert all(r.outcome == "retried" for r in results), results
    onboarding = [r for r in results if r.service == "onboarding"]
    assert [(r.item_id, r.outcome) for r in onboarding] == [(failed.id, "retried")]
    for retried in results:
        run = await wait_flow_run(retried.flow_run_id or "", timeout=180)
        assert run.state.is_completed(), (retried, run.state)
    done = ledger.get_item("onboarding", EMPLOYEE)
    assert done.state == ItemState.DONE and done.data["auto_retries"] == 1
    assert "503" in done.data["retried_error"] or "unavailable" in done.data["retried_error"].lower()
