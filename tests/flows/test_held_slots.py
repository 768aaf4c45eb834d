"""The chaos bench's held-slot check against a real Prefect server: a slot taken with no run
alive is found, and one a run takes and gives back between two looks is not (scheduled polls
start every minute while the checks read, which once failed a CI run on a slot that was not
leaked)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx

from bench.chaos_invariants import held_slots


def _limit(api: str, name: str) -> None:
    httpx.post(f"{api}/v2/concurrency_limits/", json={"name": name, "limit": 3}, timeout=30).raise_for_status()


def _take(api: str, name: str, way: str) -> None:
    """Take or give back a slot; a SQLite server busy with the suite's other writes answers 503,
    and is asked again as the hub asks it (hub/prefect_api.py)."""
    for pause in (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0):
        answer = httpx.post(f"{api}/v2/concurrency_limits/{way}", timeout=30,
                            json={"names": [name], "slots": 1, "mode": "concurrency"})
        if answer.status_code != 503:
            break
        time.sleep(pause)
    answer.raise_for_status()


def test_a_slot_no_run_holds_is_found_in_every_look(prefect_server: str) -> None:
    stack: Any = SimpleNamespace(prefect_api=prefect_server)
    _limit(prefect_server, "held-check-leak")
    _take(prefect_server, "held-check-leak", "increment")
    try:
        found = [f for f, _ in held_slots(stack, looks=2, apart=0.2) if "held-check-leak" in f]
        assert found and "1 slot(s) taken" in found[0], found
    finally:
        _take(prefect_server, "held-check-leak", "decrement")
    assert not [f for f, _ in held_slots(stack, looks=1) if "held-check-leak" in f]


def test_a_slot_given_back_between_looks_is_not_a_leak(prefect_server: str) -> None:
    stack: Any = SimpleNamespace(prefect_api=prefect_server)
    _limit(prefect_server, "held-check-brief")
    _take(prefect_server, "held-check-brief", "increment")
    give_back = threading.Timer(0.5, _take, (prefect_server, "held-check-brief", "decrement"))
    give_back.start()
    started = time.monotonic()
    found = [f for f, _ in held_slots(stack, looks=3, apart=1.0) if "held-check-brief" in f]
    give_back.join()
    assert time.monotonic() - started >= 1.0  # the first look saw it and looked again
    assert not found, found
