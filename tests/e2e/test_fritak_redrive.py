"""A fritak case resumed with a decision, whose run died before it began again (a killed
runner left it Pending; the zombie automation or ``redrive-stuck`` marked it Crashed).

Its item stays ``waiting`` and nothing would ever wake it: the decision is stored on a run
that will not run. ``redrive-stuck`` starts the case again, and the new run takes the decision
the case handler gave instead of asking again: one decision letter, one e-mail.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.input.actions import aread_flow_run_input
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Crashed

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from tests.e2e.conftest import mail_to, wait_flow_run
from tests.e2e.test_fritak import APPLICANT, _apply, _case_run, _ledger_state, _wait_paused

pytestmark = pytest.mark.e2e

DECISION = {"outcome": "partial", "justification": "DATA1100 dekkes av tidligere emne; MATA1000 gjør ikke det.",
            "decided_by": "Kari Saksbehandler",
            "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "rejected"}]}


async def _decided_then_killed(flow_run_id: str) -> None:
    """What a resume leaves when the runner dies before the run starts again: the case
    handler's answer stored on the run, and the run ended Crashed."""
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        keyset = keyset_from_paused_state(run.state)
        await client.create_flow_run_input(run.id, keyset["response"], json.dumps(DECISION))
        await client.set_flow_run_state(run.id, Crashed(message="runner killed while the run was Pending"),
                                        force=True)


async def test_a_decided_case_whose_run_died_is_finished_with_that_decision(stack: Stack, ledger: Ledger,
                                                                             archive) -> None:
    email = "redrive.fritak@student.oslomet.no"
    sid = _apply(stack, email=email)
    first = await _case_run(ledger, sid)
    await _wait_paused(first)
    assert (await _ledger_state(ledger, sid, ItemState.WAITING)).state == ItemState.WAITING
    await _decided_then_killed(first)

    await run_deployment("redrive-stuck/redrive-stuck", timeout=0)  # also started by the Crashed run
    deadline = time.monotonic() + 240
    while (item := ledger.get_item("fritak", str(sid))).state != ItemState.DONE and time.monotonic() < deadline:
        await asyncio.sleep(1)
    assert item.state == ItemState.DONE, (item.state, item.last_error)
    assert item.flow_run_id != first and item.data["redrives"] == 1 and item.data["outcome"] == "partial"
    second = await wait_flow_run(item.flow_run_id, timeout=60)
    assert second.state.is_completed(), second.state
    # The case handler was not asked again: the new run never built a decision form.
    assert await aread_flow_run_input("suspended-decision-description", flow_run_id=second.id) is None

    case = (await archive.find_case_files(f"fritak:{sid}:sak"))[0]
    entries = await archive.list_journal_entries(case)
    assert sorted(e.journal_type for e in entries) == ["I", "U"] and case.status == "A"
    mails = [m for m in mail_to(stack, email) if "Vedtak" in str(m["Subject"])]
    assert len(mails) == 1 and "delvis innvilget" in str(mails[0]["Subject"])
    assert APPLICANT["fnr"] not in str(item.data)
