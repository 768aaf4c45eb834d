"""Recovery from a killed runner, with no manual step (issue 9, finding 1).

Five hires are sent; while their runs hold the global RT slots, the runner's whole process
group (runner, fork server, flow-run processes) is killed with SIGKILL and a fresh runner
is started, as the supervisor does. Then, by themselves:

- the dead runs end Crashed (no heartbeat → the "detect zombie flow runs" automation), and
  so does the run the runner was starting when it died (Pending → "detect flow runs that
  never started"), which held redrive-stuck's only slot;
- the global slots come back (leases of 60 s, nobody renews them);
- the stuck work items are re-driven by ``redrive-stuck`` (started by the Crashed runs) and
  end ``done``;
- nothing is duplicated: one personnel file, one welcome letter, two RT tickets and one
  laptop per hire.

This module runs its own small stack with short windows (heartbeat 30 s — Prefect's
minimum —, zombie window 40 s, item lease 15 s, repossessor every 5 s), so the whole
recovery takes about a minute and a half instead of three.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from devtools.stack import Stack, StackPorts
from hub.ledger import ItemState, Ledger
from sandbox.procs import ROOT, python_module
from tests.e2e.conftest import rt_laptops_held_by, rt_tickets

HIRES = ("10005", "10006", "10007", "10010", "10012")
EMAILS = {"10005": "sigkva@oslomet.no", "10006": "matbra@oslomet.no", "10007": "marhoi@oslomet.no",
          "10010": "emidub@oslomet.no", "10012": "lingro@oslomet.no"}
RECOVERY_ENV = {
    "HUB_PAUSE_SCHEDULES": "1",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # Prefect's minimum
    "HUB_ZOMBIE_AFTER_SECONDS": "40",  # > one heartbeat period, + margin for a busy machine
    "HUB_ITEM_LEASE_SECONDS": "15",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",  # expired slot leases freed sooner
}
RECOVERY_DEADLINE = 210.0  # seconds after the kill; ~80-130 s measured (slot lease 60 s, runner restart, work)


# ---- cheap checks, no stack -----------------------------------------------------------------

def test_every_global_slot_is_taken_as_a_short_lease() -> None:
    """A crash must not hold an RT slot for Prefect's default 300 s: the flows take global
    slots only through ``run.slots(...)`` (:func:`hub.flowkit.global_slots`, which always
    passes the hub's lease), never through Prefect's ``concurrency(`` directly, and name
    declared limits."""
    import inspect

    from flows.onboarding_steps import TICKETING_LIMIT
    from hub import slots
    from hub.flowkit import Run, global_slots
    from hub.limits import MIN_SLOT_LEASE_SECONDS, SLOT_LEASE_SECONDS
    from hub.services import catalog

    lines = [(path.name, line) for path in sorted((ROOT / "flows").glob("*.py"))
             for line in path.read_text().splitlines()]
    direct = [(name, line) for name, line in lines if re.search(r"\bconcurrency\(", line)]
    through_run = [(name, line) for name, line in lines if "run.slots(" in line]
    assert not direct, f"take slots with run.slots(...), which leases them: {direct}"
    assert through_run, "the flows take global slots somewhere"
    assert "lease=lease" in inspect.getsource(global_slots.__wrapped__)  # type: ignore[attr-defined]
    assert "_request_lease(client, self.names, self.lease)" in inspect.getsource(slots._Limits._ask)
    assert '"lease_duration": lease' in inspect.getsource(slots._request_lease)
    assert Run.slot_lease == SLOT_LEASE_SECONDS and MIN_SLOT_LEASE_SECONDS <= SLOT_LEASE_SECONDS <= 120
    assert TICKETING_LIMIT in catalog().limits()


def test_the_automations_crash_silent_and_never_started_runs_but_not_suspended_ones() -> None:
    from prefect.events.schemas.automations import Posture
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from hub.recovery import RecoveryConfig, pending_automation, zombie_automation

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        assert RecoveryConfig.from_env({}).zombie_after == timedelta(seconds=90)  # three heartbeats
        config = RecoveryConfig.from_env({"HUB_ZOMBIE_AFTER_SECONDS": "95"})
        with pytest.raises(ValueError, match="at least 10"):
            RecoveryConfig.from_env({"HUB_ZOMBIE_AFTER_SECONDS": "5"})
        with pytest.raises(ValueError, match="heartbeat"):
            RecoveryConfig.from_env({"HUB_ZOMBIE_AFTER_SECONDS": "30"})
    automation = zombie_automation(config)
    trigger = automation.trigger
    assert trigger.posture == Posture.Proactive and trigger.within == timedelta(seconds=95)
    assert trigger.after == {"prefect.flow-run.heartbeat"} and trigger.for_each == {"prefect.resource.id"}
    # A suspended fritak case has no process and no heartbeat: it must not be "crashed".
    assert {"prefect.flow-run.Suspended", "prefect.flow-run.Completed", "prefect.flow-run.Crashed"} <= trigger.expect
    assert [a.type for a in automation.actions] == ["change-flow-run-state"]
    assert automation.actions[0].state.value == "CRASHED"

    # A run whose process never started (its runner died while submitting it) sends no heartbeat.
    pending = pending_automation(config).trigger
    assert pending.posture == Posture.Proactive and pending.within == config.zombie_after + timedelta(seconds=30)
    assert pending.after == {"prefect.flow-run.Pending", "prefect.flow-run.Submitting"}
    assert {"prefect.flow-run.Running", "prefect.flow-run.Cancelled",
            "prefect.flow-run.AwaitingConcurrencySlot"} <= pending.expect
    assert not pending.after & pending.expect and pending.for_each == {"prefect.resource.id"}
    # Only what can follow Pending: each event it expects costs Prefect a write, and a backlog's
    # fritak case runs are created Suspended by the hundred.
    assert not {"prefect.flow-run.Suspended", "prefect.flow-run.Paused", "prefect.flow-run.heartbeat",
                "prefect.flow-run.Late"} & pending.expect


# ---- the real thing ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def recovery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    saved = dict(os.environ)
    stack = Stack(home=tmp_path_factory.mktemp("hub-recovery"), ports=StackPorts.free(), extra_env=RECOVERY_ENV)
    from prefect.context import refresh_global_settings_context

    from hub.settings import get_settings

    try:
        stack.start_all(progress=lambda m: print(f"[recovery stack] {m}", flush=True))
        # This process reads the stack's settings too (its 30 s heartbeat, 40 s zombie window):
        # run beside other tests, its Prefect settings were read before the stack set them.
        refresh_global_settings_context()
        get_settings.cache_clear()
        yield stack
    finally:
        stack.stop_all()
        os.environ.clear()
        os.environ.update(saved)  # back to the session's stack (if any) for the tests that follow
        refresh_global_settings_context()
        get_settings.cache_clear()


@pytest.fixture
async def prefect(recovery_stack: Stack) -> AsyncIterator[Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        yield client


def _announce(stack: Stack, employee_id: str) -> str:
    from sandbox.dfo.announce import announce

    response = announce(f"{stack.intake_url}/events/hr", stack.secrets["hmac"], employee_id, date.today())
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


def _held(stack: Stack) -> dict[str, int]:
    """Active slots of the hub's global limits (not the deployments' own limits)."""
    from hub.services import catalog

    rows = httpx.post(f"{stack.prefect_api}/v2/concurrency_limits/filter", json={"limit": 50}, timeout=5).json()
    return {r["name"]: int(r["active_slots"]) for r in rows if r["name"] in catalog().limits()}


def _kill_runner_group(stack: Stack) -> None:
    """``kill -9`` the runner's process group: the runner, its fork server and every flow run."""
    proc = stack.procs["runner"]
    os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait(timeout=10)


async def _submitting_run(prefect: Any, deployment: str) -> str:
    """A run of ``deployment`` left as a runner leaves one it dies starting: Pending, then
    Submitting (its deployment slot taken), no process."""
    from prefect.states import Pending, Scheduled, Submitting

    from hub.ledger.models import utcnow

    found = await prefect.read_deployment_by_name(deployment)
    later = utcnow() + timedelta(days=1)  # no runner picks it up meanwhile
    run = await prefect.create_flow_run_from_deployment(found.id, state=Scheduled(scheduled_time=later))
    for state in [Pending(), Submitting()]:
        result = await prefect.set_flow_run_state(run.id, state)
        assert result.status.value == "ACCEPT", (state.name, result)
    return str(run.id)


async def _wait(what: str, check: Any, deadline: float, every: float = 0.5) -> Any:
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no recovery: {what} (after {RECOVERY_DEADLINE:.0f} s)")
        await asyncio.sleep(every)


@pytest.mark.e2e
@pytest.mark.rt
async def test_a_killed_runner_recovers_by_itself_without_duplicates(recovery_stack: Stack, prefect: Any) -> None:
    from hub.recovery import check_liveness
    from hub.settings import get_settings
    from hub.wiring import build_archive, get_ledger

    stack = recovery_stack
    ledger: Ledger = get_ledger()
    # The runner dies while it starts one more run: Pending/Submitting, its process never
    # started. Here it is redrive-stuck's own run (one at a time): until something ends it,
    # it holds that deployment's only slot (Prefect's lease: 300 s), and every re-drive
    # started meanwhile is cancelled. Made before the hires, so that the moment of the kill
    # is not spent on it: the hires are quick to get RT's slots now and may be through.
    submitting = await _submitting_run(prefect, "redrive-stuck/redrive-stuck")
    for hire in HIRES:
        _announce(stack, hire)

    # Kill while runs hold a global RT slot (RT is slow: two slots, ~3 writes/s).
    deadline = time.monotonic() + 90
    while True:
        items = [ledger.get_item("onboarding", h) for h in HIRES]
        running = [i for i in items if i is not None and i.state == ItemState.RUNNING]
        held = _held(stack)
        if len(running) >= 2 and held.get("ticketing", 0) > 0:
            break
        assert time.monotonic() < deadline, f"the hires never ran: {items}, slots {held}"
        await asyncio.sleep(0.05)
    _kill_runner_group(stack)
    killed_at = time.monotonic()
    dead = {i.source_key: i for i in (ledger.get_item("onboarding", h) for h in HIRES)
            if i is not None and i.state == ItemState.RUNNING}
    dead_runs = sorted({i.flow_run_id for i in dead.values() if i.flow_run_id})
    assert dead and dead_runs, "some hires were running when the runner died"
    print(f"[recovery] killed the runner group with {sorted(dead)} running, slots {held}", flush=True)

    # The supervisor's part: a fresh runner (the dead runs' processes are gone for good).
    stack._start("runner", python_module("deployments"))
    stack.wait_runner()
    restarted = time.monotonic() - killed_at

    end = killed_at + RECOVERY_DEADLINE

    # Visible: once their leases expire, the items are stuck (hub status / connector-health red).
    async def stuck_seen() -> Any:
        liveness = await check_liveness(ledger, client=prefect)
        return liveness if {i.source_key for i in liveness.stuck_items} & set(dead) else None

    liveness = await _wait("the dead runs' items never showed as stuck", stuck_seen, end)
    assert not liveness.ok and any("stuck item" in p for p in liveness.problems())

    # 1. The dead runs end Crashed (the zombie automation), with no manual step.
    async def crashed() -> Any:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        runs = await prefect.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=dead_runs)))
        return runs if len(runs) == len(dead_runs) and all(r.state.is_crashed() for r in runs) else None

    runs = await _wait("the killed runs are not Crashed", crashed, end)
    crashed_after = time.monotonic() - killed_at
    assert all("heartbeat" in (r.state.message or "") for r in runs), [r.state.message for r in runs]

    # 2. The work items are re-driven to done, automatically (one re-drive each).
    async def all_done() -> Any:
        items = [ledger.get_item("onboarding", h) for h in HIRES]
        return items if all(i is not None and i.state == ItemState.DONE for i in items) else None

    items = await _wait("the items were not re-driven to done", all_done, end)
    done_after = time.monotonic() - killed_at
    by_key = {i.source_key: i for i in items}
    for key in dead:
        assert by_key[key].data.get("redrives") == 1, (key, by_key[key].data)
        assert by_key[key].flow_run_id not in dead_runs  # finished by a fresh run

    # 3. The global slots are released: none held once everything is done.
    async def free() -> Any:
        return all(v == 0 for v in _held(stack).values()) or None

    await _wait(f"global slots still held: {_held(stack)}", free, end)

    # 4. The run that never started is Crashed by its automation (re-drive could not run while
    # it held the slot), and nothing dead is left: no zombie, no stuck item, no slot.
    left = await prefect.read_flow_run(submitting)
    assert left.state.is_crashed() and "never started" in (left.state.message or ""), left.state

    async def all_clear() -> Any:
        liveness = await check_liveness(ledger, client=prefect)
        return liveness if liveness.ok else None

    await _wait(f"the hub still sees dead runs: {(await check_liveness(ledger, client=prefect)).problems()}",
                all_clear, end)
    status = subprocess.run([sys.executable, "-m", "hub.cli", "status"], capture_output=True, text=True,
                            env={**os.environ, **stack.env(), "COLUMNS": "200"}, timeout=180)
    assert "Dead runs: none" in status.stdout, status.stdout + status.stderr
    print(f"[recovery] runner back after {restarted:.1f} s; dead runs Crashed after {crashed_after:.1f} s; "
          f"every item done after {done_after:.1f} s (from the kill)", flush=True)

    # 5. Nothing duplicated: every hire has exactly one trail.
    token = (stack.rt_dir / "hub-token").read_text().strip()
    archive = build_archive(get_settings())
    try:
        with httpx.Client(base_url=f"{stack.rt_url}/REST/2.0", headers={"Authorization": f"token {token}"},
                          timeout=30) as rt_http:
            for hire in HIRES:
                tickets = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' LIKE 'onboarding:{hire}:'")
                assert len(tickets) == 2, (hire, [t["Subject"] for t in tickets])
                assert len(rt_laptops_held_by(rt_http, EMAILS[hire])) == 1, hire
                cases = await archive.find_case_files(f"dfo:ansatt:{hire}")
                assert len(cases) == 1, hire
                assert len(await archive.list_journal_entries(cases[0])) == 1, hire
    finally:
        await archive.aclose()
