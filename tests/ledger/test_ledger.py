"""Ledger behaviour, identical on SQLite and PostgreSQL (Alembic creates both schemas)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hub.ledger import EventState, ItemState, Ledger
from hub.settings import OSLO


def at_once(action: Callable[[], None], times: int = 6) -> None:
    """Run ``action`` in ``times`` threads at the same moment and wait for all of them."""
    threads = [threading.Thread(target=action) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_events_are_deduplicated_by_key(ledger: Ledger) -> None:
    first, created = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="1", dedupe_key="k1",
                                         payload={"id": "1"}, valid_after=date(2026, 12, 1))
    again, created_again = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="1",
                                               dedupe_key="k1", payload={"id": "1"}, valid_after=None)
    assert created and not created_again and again.id == first.id
    assert ledger.get_event(first.id).valid_after == date(2026, 12, 1)


def test_concurrent_duplicates_store_one_event(ledger: Ledger) -> None:
    results: list[bool] = []

    def record() -> None:
        results.append(ledger.record_event(source="dfo", kind="k", subject_id="2", dedupe_key="same",
                                           payload={}, valid_after=None)[1])

    at_once(record)
    assert results.count(True) == 1
    assert len(ledger.events()) == 1


def test_undispatched_respects_age_and_retry_time(ledger: Ledger) -> None:
    event, _ = ledger.record_event(source="dfo", kind="k", subject_id="3", dedupe_key="k3", payload={},
                                   valid_after=None)
    assert [e.id for e in ledger.undispatched(older_than=timedelta(0))] == [event.id]
    assert ledger.undispatched(older_than=timedelta(hours=1)) == []
    ledger.mark_dispatch_failed(event.id, "prefect down", timedelta(minutes=5))
    assert ledger.undispatched(older_than=timedelta(0)) == []
    ledger.mark_dispatched(event.id, "run-1", None)
    stored = ledger.get_event(event.id)
    assert stored.state == EventState.DISPATCHED and stored.dispatch_attempts == 2


def test_times_are_timezone_aware_and_naive_ones_are_refused(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "a", requested_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    assert ledger.item(item.id).requested_at.tzinfo is not None
    with pytest.raises(Exception, match="naive"):
        ledger.ensure_item("svc", "b", requested_at=datetime(2026, 11, 26, 9, 0))


def test_a_lease_keeps_a_second_worker_out_until_released(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "lease")
    assert ledger.claim(item.id, "run-a", timedelta(minutes=5))
    assert not ledger.claim(item.id, "run-b", timedelta(minutes=5))
    assert ledger.claim(item.id, "run-a", timedelta(minutes=5))  # re-entrant for the holder
    ledger.release(item.id, "run-a")
    assert ledger.claim(item.id, "run-b", timedelta(minutes=5))


def test_an_expired_lease_can_be_taken_over(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "expired")
    assert ledger.claim(item.id, "crashed-run", timedelta(seconds=-1))
    assert ledger.claim(item.id, "new-run", timedelta(minutes=5))


def test_claim_and_start_takes_a_free_item_and_starts_it_in_one_go(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "claim-start")
    started = ledger.claim_and_start(item.id, "run-a", timedelta(minutes=5), "flow-1")
    assert started is not None and started.state == ItemState.RUNNING and started.attempts == 1
    assert started.flow_run_id == "flow-1" and started.steps == [] and started.refs == []
    assert ledger.claim_and_start(item.id, "run-b", timedelta(minutes=5), "flow-2") is None  # held
    stored = ledger.item(item.id)
    assert (stored.lease_owner, stored.flow_run_id, stored.attempts) == ("run-a", "flow-1", 1)


def test_claim_and_start_leaves_a_done_item_done_and_a_waiting_item_s_check_is_no_attempt(ledger: Ledger) -> None:
    done, waiting = ledger.ensure_item("svc", "cs-done"), ledger.ensure_item("svc", "cs-waiting")
    ledger.start_item(done.id, "flow-0")
    ledger.finish_item(done.id, ItemState.DONE)
    ledger.start_item(waiting.id, "flow-0")
    ledger.finish_item(waiting.id, ItemState.WAITING, error="stock", error_kind="waiting")
    again = ledger.claim_and_start(done.id, "run-a", timedelta(minutes=5), "flow-1")
    assert again is not None and again.state == ItemState.DONE and again.flow_run_id == "flow-0"
    checked = ledger.claim_and_start(waiting.id, "run-a", timedelta(minutes=5), "flow-1")
    assert checked is not None and checked.state == ItemState.RUNNING and checked.attempts == 1


def test_finishing_an_item_can_give_up_its_lease_but_only_the_holder_s(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "finish-release")
    assert ledger.claim(item.id, "run-a", timedelta(minutes=5))
    assert ledger.finish_item(item.id, ItemState.FAILED, error="fnr 15076500565", error_kind="x",
                              release="run-b") == (ItemState.FAILED, "fnr ***********")
    assert ledger.item(item.id).lease_owner == "run-a"  # not run-b's to give up
    assert ledger.finish_item(item.id, ItemState.DONE, release="run-a") == (ItemState.DONE, None)
    assert ledger.item(item.id).lease_owner is None
    assert ledger.claim(item.id, "run-b", timedelta(minutes=5))


def test_a_page_of_new_items_is_added_once_whatever_is_there_already(ledger: Ledger) -> None:
    at = datetime(2026, 12, 5, 9, 0, tzinfo=OSLO)
    ledger.ensure_item("forms", "2", title="there already")
    page = [("1", "fnr 15076500565 in a title", at), ("2", "again", at), ("3", "three", None), ("1", "twice", at)]
    assert ledger.add_items("forms", page) == 2
    assert ledger.add_items("forms", page) == 0
    assert ledger.add_items("forms", []) == 0
    one, two = ledger.get_item("forms", "1"), ledger.get_item("forms", "2")
    assert one is not None and one.state == ItemState.PENDING and one.requested_at == at
    assert "15076500565" not in one.title and two is not None and two.title == "there already"
    assert ledger.get_item("forms", "3") is not None and ledger.get_item("other", "1") is None


def test_pages_added_by_two_runs_at_once_create_each_item_once(ledger: Ledger) -> None:
    counts: list[int] = []
    page = [(str(n), f"item {n}", None) for n in range(40)]
    at_once(lambda: counts.append(ledger.add_items("race", page)), times=4)
    assert sum(counts) == 40
    assert len(ledger.items(service="race", limit=None)) == 40


def test_a_step_started_again_counts_an_attempt_and_a_ref_written_again_keeps_its_external_key(
        ledger: Ledger) -> None:
    """Both are one upsert each (a hire's round trips): the second start of a step is its second
    attempt, running, its error and end cleared; a ref recorded again takes the new values and
    keeps the key the target finds it by when the new record names none."""
    item = ledger.ensure_item("svc", "upsert", title="upserts")
    ledger.start_step(item.id, "write")
    ledger.end_step(item.id, "write", "failed", error="RT said 503", detail="try 1")
    ledger.start_step(item.id, "write")
    (step,) = ledger.item(item.id).steps
    assert (step.state, step.attempts, step.last_error, step.finished_at, step.detail) == (
        "running", 2, None, None, "try 1")
    ledger.add_ref(item.id, "ticket", system="ticketing", kind="ticket", ref="7", external_key="hub:upsert")
    ledger.add_ref(item.id, "ticket", system="ticketing", kind="ticket", ref="8", url="http://rt/8")
    ledger.add_ref(item.id, "letter", system="archive", kind="journalpost", ref="2026/1-1")
    refs = {r.name: (r.ref, r.url, r.external_key) for r in ledger.item(item.id).refs}
    assert refs == {"ticket": ("8", "http://rt/8", "hub:upsert"), "letter": ("2026/1-1", None, None)}


def test_steps_refs_and_replay(ledger: Ledger) -> None:
    item = ledger.ensure_item("svc", "x", title="fnr 15076500565 must not be stored")
    assert "15076500565" not in ledger.item(item.id).title
    ledger.start_item(item.id, "run-1")
    ledger.start_step(item.id, "write")
    ledger.end_step(item.id, "write", "failed", error="boom for 15076500565")
    ledger.add_ref(item.id, "ticket", system="ticketing", kind="ticket", ref="7")
    ledger.add_ref(item.id, "ticket", system="ticketing", kind="ticket", ref="8")  # updates, no duplicate
    ledger.finish_item(item.id, ItemState.FAILED, error="permanent", error_kind="invalid_input")
    stored = ledger.item(item.id)
    assert [(s.name, s.state, s.attempts) for s in stored.steps] == [("write", "failed", 1)]
    assert "15076500565" not in stored.steps[0].last_error
    assert [(r.name, r.ref) for r in stored.refs] == [("ticket", "8")]
    assert ledger.reset_for_replay(item.id)
    replayed = ledger.item(item.id)
    assert replayed.state == ItemState.PENDING and replayed.data["replays"] == 1
    assert not ledger.reset_for_replay(item.id)  # only failed items replay


def test_cursors(ledger: Ledger) -> None:
    assert ledger.get_cursor("nettskjema:1") is None
    ledger.set_cursor("nettskjema:1", "41")
    ledger.set_cursor("nettskjema:1", "42")
    assert ledger.get_cursor("nettskjema:1") == "42"


# ---- leases of live runs, stuck items, re-drives ---------------------------------------------

def _running(ledger: Ledger, key: str, owner: str, lease: timedelta) -> int:
    item = ledger.ensure_item("svc", key)
    assert ledger.claim(item.id, owner, lease)
    ledger.start_item(item.id, f"flow-run-{key}")
    return item.id


def test_a_live_run_renews_its_lease_and_a_lost_lease_is_reported(ledger: Ledger) -> None:
    item_id = _running(ledger, "renew", "run-a", timedelta(seconds=-1))
    assert [i.id for i in ledger.stuck_items()] == [item_id]
    assert ledger.renew(item_id, "run-a", timedelta(minutes=1))
    assert ledger.stuck_items() == []
    assert not Ledger.is_stuck(ledger.item(item_id))
    assert not ledger.renew(item_id, "run-b", timedelta(minutes=1))  # not the holder: nothing renewed


def test_only_running_items_with_an_expired_lease_are_stuck(ledger: Ledger) -> None:
    dead = _running(ledger, "dead", "run-dead", timedelta(seconds=-5))
    _running(ledger, "alive", "run-alive", timedelta(minutes=5))
    waiting = _running(ledger, "waits", "run-w", timedelta(seconds=-5))
    ledger.finish_item(waiting, ItemState.WAITING, error="for stock", error_kind="waiting")
    ledger.ensure_item("svc", "new")  # pending
    assert [i.source_key for i in ledger.stuck_items()] == ["dead"]
    assert Ledger.is_stuck(ledger.item(dead))


def test_a_stuck_item_can_be_replayed_but_a_live_one_cannot(ledger: Ledger) -> None:
    alive = _running(ledger, "alive", "run-alive", timedelta(minutes=5))
    assert not ledger.reset_for_replay(alive)
    assert ledger.item(alive).state == ItemState.RUNNING
    dead = _running(ledger, "dead", "run-dead", timedelta(seconds=-1))
    assert ledger.reset_for_replay(dead)
    item = ledger.item(dead)
    assert (item.state, item.flow_run_id, item.lease_owner, item.data["replays"]) == (ItemState.PENDING, None, None, 1)
    assert ledger.claim(dead, "new-run", timedelta(minutes=1))  # the fresh run can take it at once


def test_a_redrive_is_counted_and_a_second_reset_of_the_same_item_does_nothing(ledger: Ledger) -> None:
    dead = _running(ledger, "dead", "run-dead", timedelta(seconds=-1))
    assert ledger.reset_for_redrive(dead, reason="flow run x ended Crashed")
    assert not ledger.reset_for_redrive(dead, reason="again")  # pending now, not stuck
    item = ledger.item(dead)
    assert item.state == ItemState.PENDING and item.data["redrives"] == 1
    assert item.data["redriven_because"] == "flow run x ended Crashed"
    # A person's replay after a dead letter starts the automatic re-drives afresh.
    ledger.start_item(dead, "run-2")
    ledger.finish_item(dead, ItemState.FAILED, error="x", error_kind="crash")
    assert ledger.reset_for_replay(dead)
    assert ledger.item(dead).data["redrives"] == 0


def test_a_stuck_item_taken_over_by_a_new_run_is_not_reset_or_dead_lettered(ledger: Ledger) -> None:
    dead = _running(ledger, "dead", "run-dead", timedelta(seconds=-1))
    assert ledger.claim(dead, "new-run", timedelta(minutes=1))  # a new run took it over meanwhile
    assert not ledger.reset_for_redrive(dead, reason="crashed")
    assert not ledger.dead_letter_stuck(dead, error="gave up")
    assert ledger.item(dead).state == ItemState.RUNNING and ledger.item(dead).lease_owner == "new-run"


def test_a_stuck_item_becomes_a_dead_letter_with_its_reason(ledger: Ledger) -> None:
    dead = _running(ledger, "dead", "run-dead", timedelta(seconds=-1))
    assert ledger.dead_letter_stuck(dead, error="its run died 4 times; fnr 15076500565 — `hub replay 1`")
    item = ledger.item(dead)
    assert (item.state, item.error_kind, item.lease_owner) == (ItemState.FAILED, "crash", None)
    assert "15076500565" not in item.last_error and "hub replay" in item.last_error


def test_concurrent_resets_of_one_stuck_item_reset_it_once(ledger: Ledger) -> None:
    dead = _running(ledger, "race", "run-dead", timedelta(seconds=-1))
    results: list[bool] = []

    def reset() -> None:
        results.append(ledger.reset_for_redrive(dead, reason="crashed"))

    at_once(reset)
    assert results.count(True) == 1
    assert ledger.item(dead).data["redrives"] == 1


def test_text_with_a_nul_character_is_stored_on_both_backends(ledger: Ledger) -> None:
    """Hostile form text with a NUL (\\x00) crashed every write of its item on PostgreSQL
    ("text fields cannot contain NUL bytes"), so the dead letter could not even be recorded."""
    item = ledger.ensure_item("laptop", "nul-1", title="order from Kari\x00Nordmann")
    ledger.update_data(item.id, feide="kari\x00@oslomet.no", notes=["a\x00b", {"deep": "c\x00d"}])
    ledger.start_step(item.id, "read_order")
    ledger.end_step(item.id, "read_order", "failed", error="nobody with Feide id kari\x00@oslomet.no")
    ledger.finish_item(item.id, "failed", error="not valid: kari\x00@oslomet.no", error_kind="invalid_input")

    stored = ledger.item(item.id)
    assert stored.state == "failed" and stored.error_kind == "invalid_input"
    assert stored.last_error == "not valid: kari\ufffd@oslomet.no"
    assert stored.title == "order from Kari\ufffdNordmann"
    assert stored.data["feide"] == "kari\ufffd@oslomet.no"
    assert stored.data["notes"] == ["a\ufffdb", {"deep": "c\ufffdd"}]


def test_a_lease_has_one_holder_until_it_is_given_up_or_runs_out(ledger: Ledger) -> None:
    from datetime import timedelta

    name = "lease:employment:10004"
    assert ledger.take_lease(name, "run-a", ttl=timedelta(minutes=3))
    assert not ledger.take_lease(name, "run-b", ttl=timedelta(minutes=3))  # run-a holds it
    assert ledger.take_lease(name, "run-a", ttl=timedelta(minutes=3))  # renewed by its holder
    ledger.release_lease(name, "run-b")  # not run-b's to give up
    assert not ledger.take_lease(name, "run-b", ttl=timedelta(minutes=3))
    ledger.release_lease(name, "run-a")
    assert ledger.take_lease(name, "run-b", ttl=timedelta(seconds=-1))  # taken, and already run out
    assert ledger.take_lease(name, "run-c", ttl=timedelta(minutes=3))  # a dead holder's lease ends by itself
    assert not ledger.take_lease(name, "run-b", ttl=timedelta(minutes=3))


def test_two_processes_never_hold_one_lease_at_once(ledger: Ledger) -> None:
    """Many threads with their own connections race for a lease nobody holds: one wins."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    other = Ledger(str(ledger.engine.url.render_as_string(hide_password=False)))
    try:
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(lambda i: (ledger if i % 2 else other).take_lease(
                "lease:race", f"holder-{i}", ttl=timedelta(minutes=1)), range(16)))
    finally:
        other.dispose()
    assert sum(won) == 1, won


def test_due_items_are_read_a_page_at_a_time_oldest_first_each_once(ledger: Ledger) -> None:
    base = datetime(2026, 8, 3, 9, 0, tzinfo=OSLO)
    # seven requests, two at the same moment (the id orders them), plus items no batch takes
    for n, minutes in enumerate([5, 1, 3, 3, 0, 9, 7]):
        ledger.ensure_item("rooms", f"r{n}", requested_at=base + timedelta(minutes=minutes))
    ledger.ensure_item("laptop", "other-service", requested_at=base)
    outcomes = {"flaky": ("transient", 1), "flaky-too-often": ("transient", 3), "invalid": ("permanent", 1)}
    for key, (kind, attempts) in outcomes.items():
        item = ledger.ensure_item("rooms", key, requested_at=base - timedelta(minutes=1))
        for _ in range(attempts):
            ledger.start_item(item.id, None)
        ledger.finish_item(item.id, ItemState.FAILED, error="boom", error_kind=kind)
    done = ledger.ensure_item("rooms", "done", requested_at=base)
    ledger.finish_item(done.id, ItemState.DONE)

    pages, after = [], None
    while page := ledger.due_items("rooms", retry_below=3, after=after, limit=3):
        pages.append([i.source_key for i in page])
        after = (page[-1].requested_at, page[-1].id)

    assert pages == [["flaky", "r4", "r1"], ["r2", "r3", "r0"], ["r6", "r5"]]
    assert ledger.count_due("rooms", retry_below=3) == 8  # what the pages hold, in one COUNT
    ledger.set_flow_run(ledger.get_item("rooms", "r5").id, "run-5")  # type: ignore[union-attr]
    assert ledger.count_due("rooms", retry_below=3, unstarted=True) == 7
    assert ledger.count_due("rooms", retry_below=3, unstarted=True) == \
        len(ledger.due_items("rooms", retry_below=3, unstarted=True))


def test_a_new_sqlite_ledger_is_in_wal_mode_once_constructed(tmp_path: Path) -> None:
    """The WAL switch is made by the constructor, on one connection, not by whichever of many
    threads first connects later: those raced for it and SQLite refused ("database is locked")."""
    import sqlite3

    path = tmp_path / "fresh.db"
    made = Ledger(f"sqlite:///{path}")
    try:
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()
    finally:
        made.dispose()


def test_flow_runs_are_noted_for_many_items_at_once_with_their_data_merged(ledger: Ledger) -> None:
    first = ledger.ensure_item("fritak", "801", title="Fritak 801")
    second = ledger.ensure_item("fritak", "802", title="Fritak 802")
    untouched = ledger.ensure_item("fritak", "803", title="Fritak 803")
    ledger.update_data(first.id, submitted_at="2026-08-01", decision_runs=["old-run"])

    ledger.set_flow_runs({first.id: ("run-a", {"decision_runs": ["old-run", "run-a"]}),
                          second.id: ("run-b", {})})

    a, b, c = (ledger.item(i.id) for i in (first, second, untouched))
    assert (a.flow_run_id, a.data) == ("run-a", {"submitted_at": "2026-08-01", "decision_runs": ["old-run", "run-a"]})
    assert (b.flow_run_id, b.data or {}) == ("run-b", {})
    assert c.flow_run_id is None
    ledger.set_flow_runs({})  # nothing to note: no transaction, no error


def test_update_data_sets_each_key_over_the_data_and_keeps_the_rest(ledger: Ledger) -> None:
    """One UPDATE, as a dict's update: a key given replaces its value whole (a nested object is
    not merged into), None is kept as null, and keys not given stay."""
    item = ledger.ensure_item("svc", "merge", data={"a": {"x": 1, "y": 2}, "keep": [1], "b": "old"})
    ledger.update_data(item.id, a={"x": 9}, b=None, c=[1, {"d": "e"}], n=1.5, s="æøå")
    assert ledger.item(item.id).data == {"a": {"x": 9}, "keep": [1], "b": None, "c": [1, {"d": "e"}], "n": 1.5,
                                         "s": "æøå"}
    ledger.update_data(item.id)  # nothing to set: nothing changes
    assert ledger.item(item.id).data["keep"] == [1]
    with pytest.raises(ValueError, match="no quote"):
        ledger.update_data(item.id, **{'bad"key': 1})
