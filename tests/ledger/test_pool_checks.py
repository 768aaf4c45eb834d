"""A pooled ledger connection is checked as it is taken, without a round trip on a busy pool
(:func:`hub.ledger.store._check_at_checkout`): one whose backend the server ended is replaced
by looking at its socket; one idle past ``PING_IF_IDLE`` is pinged. The faults are real:
PostgreSQL backends terminated with ``pg_terminate_backend``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from hub.ledger import Ledger, store


@pytest.fixture
def pg_ledger(postgres_url: str) -> Iterator[Ledger]:
    ledger = Ledger(postgres_url)
    yield ledger
    ledger.dispose()


@pytest.fixture
def pings(pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When the pool pinged (the dialect's own ping, counted, still made)."""
    made: list[float] = []
    ping = pg_ledger.engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        made.append(time.monotonic())
        return ping(dbapi_conn)

    monkeypatch.setattr(pg_ledger.engine.dialect, "do_ping", counted)
    return made


def _backend(ledger: Ledger) -> int:
    return int(ledger.apply([lambda conn: conn.execute(text("select pg_backend_pid()")).scalar_one()]))


def _terminate(postgres_url: str, pid: int) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        assert admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 5
        while admin.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.01)


def test_a_busy_pool_takes_its_connections_without_a_ping(pg_ledger: Ledger, pings: list[float]) -> None:
    first = _backend(pg_ledger)
    assert [_backend(pg_ledger) for _ in range(50)] == [first] * 50  # the same connection, back each time
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged_once_as_it_is_taken(
        pg_ledger: Ledger, pings: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "PING_IF_IDLE", 0.2)
    first = _backend(pg_ledger)
    time.sleep(0.3)
    assert _backend(pg_ledger) == first  # pinged, alive, kept
    assert len(pings) == 1
    _backend(pg_ledger)
    assert len(pings) == 1  # used a moment ago: not pinged again


def test_a_connection_whose_backend_the_server_ended_is_replaced_without_a_ping(
        pg_ledger: Ledger, pings: list[float], postgres_url: str) -> None:
    """Within ``PING_IF_IDLE`` of its last use, as on a busy worker when the database restarts."""
    first = _backend(pg_ledger)
    _terminate(postgres_url, first)
    time.sleep(0.05)  # the server's goodbye reaches the socket

    item = pg_ledger.ensure_item("rooms", "pool-1", title="after the backend ended")  # no error

    assert pg_ledger.item(item.id).source_key == "pool-1"
    assert _backend(pg_ledger) != first
    assert pings == []


def test_an_idle_connection_whose_backend_the_server_ended_is_found_by_the_ping_and_replaced(
        pg_ledger: Ledger, pings: list[float], postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "PING_IF_IDLE", 0.2)
    first = _backend(pg_ledger)
    _terminate(postgres_url, first)
    time.sleep(0.3)

    item = pg_ledger.ensure_item("rooms", "pool-2", title="after an idle while")

    assert pg_ledger.item(item.id).source_key == "pool-2"
    assert len(pings) == 1
    assert _backend(pg_ledger) != first
