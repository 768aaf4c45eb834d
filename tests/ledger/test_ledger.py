"""Ledger behaviour, identical on SQLite and PostgreSQL (Alembic creates both schemas)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.ledger import EventState, ItemState, Ledger


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

    threads = [threading.Thread(target=record) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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
