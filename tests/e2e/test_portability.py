"""Portability: the onboarding service runs unchanged with HUB_TICKETING=topdesk.

A second, small stack (no Request Tracker) whose processes are configured for TOPdesk; the
same signed hire event leaves its tickets and the laptop in TOPdesk instead of RT.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from devtools.stack import Stack, StackPorts
from hub.ledger import ItemState, Ledger
from sandbox.dfo.announce import announce
from tests.e2e.conftest import wait_item

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topdesk_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    other = Stack(home=tmp_path_factory.mktemp("hub-topdesk"), ports=StackPorts.free(),
                  extra_env={"HUB_PAUSE_SCHEDULES": "1", "HUB_TICKETING": "topdesk"})
    saved = dict(os.environ)
    try:
        other.start_all(progress=lambda m: print(f"[topdesk stack] {m}", flush=True), with_rt=False)
        yield other
    finally:
        other.stop_all()
        os.environ.clear()
        os.environ.update(saved)
        stack.apply_env()  # back to the session's stack for the tests that follow


def test_onboarding_runs_unchanged_on_topdesk(topdesk_stack: Stack) -> None:
    from hub.wiring import _ledger

    ledger: Ledger = _ledger(f"sqlite:///{topdesk_stack.home / 'ledger.db'}", False)
    response = announce(f"{topdesk_stack.intake_url}/events/hr", topdesk_stack.secrets["hmac"], "10006", date.today())
    assert response.status_code == 202, response.text
    item = wait_item(ledger, "onboarding", "10006", timeout=120)
    assert item.state == ItemState.DONE, item.last_error
    refs = {r.name: r for r in item.refs}
    assert {"ticket_account", "ticket_laptop", "laptop"} <= set(refs)

    auth = ("hub", "sandbox-topdesk-app-password")
    with httpx.Client(base_url=f"{topdesk_stack.topdesk_url}/tas/api", auth=auth, timeout=30) as td:
        for name, subject in (("ticket_account", "Create user account"), ("ticket_laptop", "Deliver laptop")):
            incident = td.get(f"/incidents/id/{refs[name].ref}").json()
            assert incident["briefDescription"].startswith(subject)
            assert incident["optionalFields1"]["text1"] == refs[name].external_key
            assert incident["operatorGroup"]["name"] in ("User accounts", "Equipment")
        found = td.get("/incidents", params={"query": "optionalFields1.text1=='onboarding:10006:account'"})
        assert found.status_code == 200 and len(found.json()) == 1  # exactly one, no duplicate
        assignments = td.get(f"/assetmgmt/assets/{refs['laptop'].ref}/assignments").json()
        person_ids = [p["person"]["id"] for p in assignments.get("persons", [])]
        assert len(person_ids) == 1
        holder = td.get(f"/persons/id/{person_ids[0]}").json()
        assert holder.get("email") == "matbra@oslomet.no"
