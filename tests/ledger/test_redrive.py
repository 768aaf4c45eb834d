"""Re-driving stuck items, decided from the ledger and what Prefect says about their runs.

Prefect is a small fake here (only what :func:`hub.replay.redrive_stuck` asks); the flow runs
it starts are recorded instead of created. The real thing is proven end to end in
``tests/e2e/test_recovery.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import PrefectHTTPStatusError
from prefect.states import Completed, Crashed, Paused, Running, Suspended

from hub.ledger import ItemState, Ledger
from hub.ledger.models import utcnow
from hub.prefect_api import READ_LIMIT
from hub.recovery import RecoveryConfig, retry_after
from hub.replay import next_expiry_of_dead_runs, redrive_stuck, replay_items, retry_transient
from hub.services import BURST
from tests.ledger.test_ledger import at_once

CONFIG = RecoveryConfig(heartbeat=timedelta(seconds=30), zombie_after=timedelta(seconds=90),
                        item_lease=timedelta(seconds=60), redrive_max=2)


class FakePrefect:
    def __init__(self, runs: list[FlowRun]) -> None:
        self.runs = {str(r.id): r for r in runs}
        self.crashed: list[str] = []

    async def read_flow_runs(self, *, flow_run_filter: Any = None, limit: int | None = None, offset: int = 0,
                             **_: Any) -> list[FlowRun]:
        matched = await self._matching(flow_run_filter, limit)
        return matched[offset:offset + (limit or READ_LIMIT)]  # as Prefect pages a read

    async def _matching(self, flow_run_filter: Any, limit: int | None) -> list[FlowRun]:
        if limit is not None and limit > READ_LIMIT:  # as Prefect's API answers (tests/e2e/test_recovery)
            request = httpx.Request("POST", "http://127.0.0.1/api/flow_runs/filter")
            response = httpx.Response(422, request=request,
                                      json={"detail": f"Invalid limit: must be less than or equal to {READ_LIMIT}."})
            raise PrefectHTTPStatusError.from_httpx_error(
                httpx.HTTPStatusError("422 Unprocessable Entity", request=request, response=response))
        if flow_run_filter is not None and flow_run_filter.id is not None:
            return [self.runs[str(i)] for i in flow_run_filter.id.any_ if str(i) in self.runs]
        wanted = set(flow_run_filter.state.type.any_) if flow_run_filter and flow_run_filter.state else set()
        if StateType.CRASHED in wanted:
            return []  # no run died before claiming its item, in these tests
        return [r for r in self.runs.values() if r.state is not None and r.state.type in wanted]

    async def read_events(self, **_: Any) -> Any:
        from prefect.client.schemas.events import EventPage

        return EventPage(events=[], total=0, next_page=None)

    async def set_flow_run_state(self, flow_run_id: Any, state: Any, **_: Any) -> None:
        self.crashed.append(str(flow_run_id))
        self.runs[str(flow_run_id)].state = state


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], str]]:
    runs: list[tuple[str, dict[str, Any], str]] = []

    async def fake_start(deployment: str, parameters: dict[str, Any], *, key: str, **_: Any) -> str:
        runs.append((deployment, parameters, key))
        return str(uuid.uuid5(uuid.NAMESPACE_URL, key))

    monkeypatch.setattr("hub.replay.start_deployment_run", fake_start)
    return runs


def _run(state: Any) -> FlowRun:
    return FlowRun(id=uuid.uuid4(), name="onboarding-x", flow_id=uuid.uuid4(), state=state)


def _stuck(ledger: Ledger, key: str, run: FlowRun | None, *, expired: timedelta = timedelta(seconds=1)) -> int:
    item = ledger.ensure_item("onboarding", key)
    assert ledger.claim(item.id, "dead-run", -expired)
    ledger.start_item(item.id, str(run.id) if run else None)
    return item.id


async def test_an_item_whose_run_crashed_is_started_again_once(ledger: Ledger, started: list) -> None:
    dead = _run(Crashed(message="No heartbeat for 90 s"))
    item_id = _stuck(ledger, "10005", dead)
    prefect = FakePrefect([dead])
    results = await redrive_stuck(ledger, CONFIG, client=prefect)
    assert [r.outcome for r in results] == ["redriven"]
    assert started == [("onboarding/onboarding", {"employee_id": "10005"}, "redrive:onboarding:10005:1")]
    item = ledger.item(item_id)
    assert item.state == ItemState.PENDING and item.data["redrives"] == 1
    assert item.flow_run_id == results[0].flow_run_id  # the new run, not the dead one
    assert await redrive_stuck(ledger, CONFIG, client=prefect) == []  # nothing stuck any more
    assert len(started) == 1


async def test_an_item_whose_run_is_gone_is_started_again(ledger: Ledger, started: list) -> None:
    _stuck(ledger, "10012", _run(Crashed()))  # the run is not in Prefect at all
    results = await redrive_stuck(ledger, CONFIG, client=FakePrefect([]))
    assert [r.outcome for r in results] == ["redriven"] and len(started) == 1


async def test_a_run_still_shown_running_is_left_to_the_zombie_automation(ledger: Ledger, started: list) -> None:
    zombie = _run(Running())
    item_id = _stuck(ledger, "10004", zombie)
    prefect = FakePrefect([zombie])
    results = await redrive_stuck(ledger, CONFIG, client=prefect)
    assert results[0].outcome.startswith("waiting") and started == []
    assert ledger.item(item_id).state == ItemState.RUNNING
    # Long after its lease expired, still "running" with no heartbeat: the hub ends it itself.
    _stuck(ledger, "10004", zombie, expired=timedelta(minutes=5))
    results = await redrive_stuck(ledger, CONFIG, client=prefect)
    assert str(zombie.id) in prefect.crashed and [r.outcome for r in results] == ["redriven"]


async def test_after_too_many_redrives_the_item_is_a_dead_letter_with_its_reason(ledger: Ledger,
                                                                                started: list) -> None:
    for _ in range(CONFIG.redrive_max + 1):
        dead = _run(Crashed(message="No heartbeat"))
        item_id = _stuck(ledger, "10011", dead)
        results = await redrive_stuck(ledger, CONFIG, client=FakePrefect([dead]))
    assert len(started) == CONFIG.redrive_max
    assert results[0].outcome.startswith("dead letter")
    item = ledger.item(item_id)
    assert item.state == ItemState.FAILED and item.error_kind == "crash"
    assert f"died {CONFIG.redrive_max + 1} times" in item.last_error and f"hub replay {item_id}" in item.last_error
    # A person replays it after a fix: accepted, and the automatic re-drives start afresh.
    replayed = await replay_items(ledger, [item_id])
    assert [r.outcome for r in replayed] == ["replayed"] and ledger.item(item_id).data["redrives"] == 0


async def test_hub_replay_accepts_a_stuck_item_but_not_one_a_live_run_holds(ledger: Ledger, started: list) -> None:
    stuck_id = _stuck(ledger, "10001", _run(Crashed()))
    live = ledger.ensure_item("onboarding", "10002")
    assert ledger.claim(live.id, "live-run", timedelta(minutes=1))
    ledger.start_item(live.id, "live-run")
    results = {r.item_id: r.outcome for r in await replay_items(ledger, [stuck_id, live.id])}
    assert results[stuck_id] == "replayed"
    assert results[live.id].startswith("skipped: it is running, its run is alive")
    assert [key for _, _, key in started] == ["replay:onboarding:10001:1"]


def _waiting(ledger: Ledger, service: str, key: str, run: FlowRun) -> int:
    item = ledger.ensure_item(service, key)
    assert ledger.claim(item.id, str(run.id), timedelta(minutes=1))
    ledger.start_item(item.id, str(run.id))
    ledger.finish_item(item.id, ItemState.WAITING, error="a case handler's decision", error_kind="waiting")
    ledger.release(item.id, str(run.id))
    return item.id


async def test_a_waiting_item_whose_resumed_run_died_is_started_again(ledger: Ledger, started: list) -> None:
    """A fritak case resumed with a decision and killed before it began again: its item stays
    ``waiting`` with no one to wake it. Cases still suspended, and batch services' waiting
    items (a laptop waiting for stock is picked up by the next batch run), are left alone."""
    resumed_then_killed = _run(Crashed(message="No heartbeat (Pending)"))
    suspended = _run(Suspended(pause_key="decision"))
    orphan = _waiting(ledger, "fritak", "31000007", resumed_then_killed)
    asking = _waiting(ledger, "fritak", "31000008", suspended)
    laptop = _waiting(ledger, "laptop", "31000009", _run(Completed()))
    prefect = FakePrefect([resumed_then_killed, suspended])
    results = await redrive_stuck(ledger, CONFIG, client=prefect)
    assert [(r.item_id, r.outcome) for r in results] == [(orphan, "redriven")]
    assert started == [("fritak-case/fritak-case", {"submission_id": 31000007}, "redrive:fritak:31000007:1")]
    assert ledger.item(orphan).state == ItemState.PENDING
    assert ledger.item(asking).state == ItemState.WAITING and ledger.item(laptop).state == ItemState.WAITING
    assert await redrive_stuck(ledger, CONFIG, client=prefect) == []


async def test_a_backlog_of_waiting_cases_is_read_from_prefect_in_pages(ledger: Ledger, started: list) -> None:
    """Hundreds of fritak cases waiting for their decision (a semester's backlog): their runs
    are read by id in pages Prefect accepts, not in one read it refuses (which failed every
    pass of redrive-stuck in the backlog bench)."""
    runs = [_run(Suspended(pause_key="decision")) for _ in range(READ_LIMIT + 50)]
    for n, run in enumerate(runs):
        _waiting(ledger, "fritak", str(32000000 + n), run)
    dead = _run(Crashed(message="No heartbeat (Pending)"))
    orphan = _waiting(ledger, "fritak", "32999999", dead)
    results = await redrive_stuck(ledger, CONFIG, client=FakePrefect([*runs, dead]))
    assert [(r.item_id, r.outcome) for r in results] == [(orphan, "redriven")]
    assert len(ledger.items(states=[ItemState.WAITING], limit=None)) == READ_LIMIT + 50


async def test_a_waiting_item_whose_runs_keep_dying_becomes_a_dead_letter(ledger: Ledger, started: list) -> None:
    for _ in range(CONFIG.redrive_max + 1):
        dead = _run(Crashed())
        item_id = _waiting(ledger, "fritak", "31000010", dead)
        results = await redrive_stuck(ledger, CONFIG, client=FakePrefect([dead]))
    assert results[0].outcome.startswith("dead letter") and len(started) == CONFIG.redrive_max
    assert ledger.item(item_id).state == ItemState.FAILED


async def test_an_item_whose_run_died_as_it_suspended_waits_with_the_suspended_run(ledger: Ledger,
                                                                                 started: list) -> None:
    """Killed between Prefect's suspension and the ledger's ``waiting``: the run is Suspended,
    its item running with an expired lease. The question to the case handler stands, so the item
    waits for it (resuming the run picks it up) at the first pass: it is not started again and
    the case handler is not asked twice. A run merely paused keeps its process: left alone."""
    suspended = _run(Suspended(pause_key="decision"))
    item_id = _stuck(ledger, "31000011", suspended)
    prefect = FakePrefect([suspended])
    results = await redrive_stuck(ledger, CONFIG, client=prefect)
    assert [(r.item_id, r.outcome.split(";")[0]) for r in results] == [
        (item_id, "waiting: its run onboarding-x is Suspended")]
    item = ledger.item(item_id)
    assert item.state == ItemState.WAITING and item.error_kind == "waiting"
    assert "Suspended in Prefect, waiting for input" in (item.last_error or "")
    assert started == [] and prefect.crashed == [] and ledger.stuck_items() == []
    assert await redrive_stuck(ledger, CONFIG, client=prefect) == []
    # Resumed later, the run starts the item again like any waiting one.
    ledger.start_item(item_id, str(suspended.id), count_attempt=False)
    assert ledger.item(item_id).state == ItemState.RUNNING


async def test_the_pass_after_a_crash_also_waits_for_the_lease_of_a_run_killed_as_it_suspended(
        ledger: Ledger) -> None:
    """A worker's death Crashes its running runs and starts redrive-stuck, which waits until the
    leases of their items run out; the lease of an item whose run died as it suspended counts
    too (its run is not Crashed), or that item would wait for the next scheduled pass."""
    alive, suspended = _run(Running()), _run(Suspended(pause_key="decision"))
    for key, run in (("31000013", alive), ("31000014", suspended)):
        item = ledger.ensure_item("fritak", key)
        assert ledger.claim(item.id, str(run.id), timedelta(seconds=45))
        ledger.start_item(item.id, str(run.id))
    expiry = await next_expiry_of_dead_runs(ledger, client=FakePrefect([alive, suspended]))
    lease = ledger.get_item("fritak", "31000014").lease_until
    assert expiry is not None and lease is not None and abs((expiry - lease).total_seconds()) < 1
    assert await next_expiry_of_dead_runs(ledger, client=FakePrefect([alive])) is None


async def test_a_run_paused_in_its_process_is_not_taken_for_a_suspension(ledger: Ledger, started: list) -> None:
    paused = _run(Paused(pause_key="x"))
    item_id = _stuck(ledger, "31000012", paused)
    results = await redrive_stuck(ledger, CONFIG, client=FakePrefect([paused]))
    assert results[0].outcome.startswith("waiting: its run onboarding-x is still Paused")
    assert ledger.item(item_id).state == ItemState.RUNNING and started == []


RETRIES = RecoveryConfig(heartbeat=None, zombie_after=timedelta(seconds=90), item_lease=timedelta(seconds=60),
                         redrive_max=2, retry_after=(timedelta(minutes=5), timedelta(minutes=30)))


def _failed(ledger: Ledger, service: str, key: str, kind: str) -> int:
    item = ledger.ensure_item(service, key)
    ledger.start_item(item.id, "a-run")
    ledger.finish_item(item.id, ItemState.FAILED, error=f"[archive] {kind} trouble", error_kind=kind)
    return item.id


async def test_a_transient_dead_letter_is_retried_later_then_left_to_a_person(ledger: Ledger,
                                                                               started: list) -> None:
    """A peer down for longer than a task's retries: the item is started again 5 min after it
    failed, then 30 min after it failed again, then left for ``hub replay``. Bad data, a wrong
    configuration or a crash are never retried blindly."""
    item_id = _failed(ledger, "onboarding", "20001", "transient")
    others = [_failed(ledger, "onboarding", str(20002 + i), kind)
              for i, kind in enumerate(["invalid_input", "config", "crash"])]
    assert await retry_transient(ledger, RETRIES) == []  # too soon after the failure
    later = utcnow() + timedelta(minutes=6)
    results = await retry_transient(ledger, RETRIES, now=later)
    assert [(r.item_id, r.outcome) for r in results] == [(item_id, "retried")]
    assert started == [("onboarding/onboarding", {"employee_id": "20001"}, "retry:onboarding:20001:1")]
    item = ledger.item(item_id)
    assert item.state == ItemState.PENDING and item.data["auto_retries"] == 1
    assert item.data["retried_error"] == "[archive] transient trouble" and item.flow_run_id == results[0].flow_run_id
    assert all(ledger.item(i).state == ItemState.FAILED for i in others)

    ledger.finish_item(item_id, ItemState.FAILED, error="[archive] down again", error_kind="transient")
    assert await retry_transient(ledger, RETRIES, now=utcnow() + timedelta(minutes=6)) == []  # 30 min now
    assert [r.outcome for r in await retry_transient(ledger, RETRIES, now=utcnow() + timedelta(minutes=31))] \
        == ["retried"]
    ledger.finish_item(item_id, ItemState.FAILED, error="[archive] still down", error_kind="transient")
    assert await retry_transient(ledger, RETRIES, now=utcnow() + timedelta(days=1)) == []  # a person's turn
    assert len(started) == 2 and ledger.item(item_id).state == ItemState.FAILED

    # The person replays it after a fix: automatic retries start afresh for the next outage.
    assert [r.outcome for r in await replay_items(ledger, [item_id])] == ["replayed"]
    assert ledger.item(item_id).data["auto_retries"] == 0


class DiedBeforeClaiming(FakePrefect):
    """Prefect with onboarding runs that Crashed before claiming their items."""

    def __init__(self, dead: list[FlowRun]) -> None:
        super().__init__([])
        self.dead = dead

    async def read_flow_runs(self, *, flow_run_filter: Any = None, deployment_filter: Any = None,
                             limit: int | None = None, offset: int = 0, **kw: Any) -> list[FlowRun]:
        if flow_run_filter is not None and flow_run_filter.state is not None \
                and StateType.CRASHED in flow_run_filter.state.type.any_:
            dead = self.dead if deployment_filter.name.any_ == ["onboarding"] else []
            return dead[offset:offset + (limit or READ_LIMIT)]
        return await super().read_flow_runs(flow_run_filter=flow_run_filter, limit=limit, offset=offset, **kw)


async def test_a_burst_s_run_that_died_before_claiming_its_hires_has_each_hire_started_again(
        ledger: Ledger, started: list) -> None:
    """A run given a burst of hires Crashed before it claimed them (a worker killed at once):
    each hire it had not onboarded is started again on its own, with its own parameters and key;
    one onboarded meanwhile (by its catch-up) is left alone."""
    burst = [{"employee_id": key, "event_id": f"ev-{key}"} for key in ("10021", "10022", "10023")]
    dead = _run(Crashed(message="No heartbeat for 90 s"))
    dead.parameters = {BURST: burst}
    pending = ledger.ensure_item("onboarding", "10022")  # created, never started
    done = ledger.ensure_item("onboarding", "10023")
    assert ledger.claim(done.id, "catch-up", timedelta(seconds=60))
    ledger.start_item(done.id, "catch-up-run")
    ledger.finish_item(done.id, ItemState.DONE)
    later = utcnow() + timedelta(minutes=5)

    results = await redrive_stuck(ledger, CONFIG, client=DiedBeforeClaiming([dead]), now=later)

    assert sorted((r.source_key, r.outcome) for r in results) == [("10021", "redriven"), ("10022", "redriven")]
    assert sorted((p["employee_id"], p["event_id"], key) for _, p, key in started) == [
        ("10021", "ev-10021", f"redrive:{dead.id}:10021"),
        ("10022", "ev-10022", "redrive:onboarding:10022:1")]
    assert ledger.item(pending.id).data["redrives"] == 1


async def test_hires_whose_runs_died_after_the_first_page_of_crashed_runs_are_started_again(
        ledger: Ledger, started: list) -> None:
    """An August burst whose worker died: more onboarding runs Crashed before claiming their
    hires than one read of Prefect returns. Every hire is started again, not the first 200."""
    dead = []
    for n in range(READ_LIMIT + 25):
        run = _run(Crashed(message="No heartbeat for 90 s"))
        run.parameters = {"employee_id": str(20000 + n), "event_id": f"ev-{n}"}
        dead.append(run)
    later = utcnow() + timedelta(minutes=5)

    results = await redrive_stuck(ledger, CONFIG, client=DiedBeforeClaiming(dead), now=later)

    assert sorted(int(r.source_key) for r in results if r.outcome == "redriven") == \
        list(range(20000, 20000 + READ_LIMIT + 25))
    assert len(started) == READ_LIMIT + 25


async def test_concurrent_retry_passes_start_one_run(ledger: Ledger, started: list) -> None:
    item_id = _failed(ledger, "fritak", "31000020", "transient")
    later = utcnow() + timedelta(minutes=6)
    at_once(lambda: asyncio.run(retry_transient(ledger, RETRIES, now=later)))
    assert [key for _, _, key in started] == ["retry:fritak:31000020:1"]
    assert ledger.item(item_id).data["auto_retries"] == 1


def test_retry_delays_come_from_the_environment() -> None:
    assert retry_after({}) == (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
    assert retry_after({"HUB_RETRY_TRANSIENT_AFTER": "1, 2.5"}) == (timedelta(seconds=1), timedelta(seconds=2.5))
    assert retry_after({"HUB_RETRY_TRANSIENT_AFTER": "off"}) == ()
    with pytest.raises(ValueError, match="seconds separated by commas"):
        retry_after({"HUB_RETRY_TRANSIENT_AFTER": "5m"})
