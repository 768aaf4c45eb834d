"""A small backlog through the whole pipeline on the shared stack (issue 12): nothing lost, nothing twice.

The hub phase of :mod:`bench.backlog` with a few hundred items (259) — mostly room requests,
a handful of hires, laptop orders and fritak applications — drained by the deployments this
test starts (the stack's schedules are paused). The whole test took 97 s on an idle two-core
machine and 245 s inside the full suite on a fresh clone (2026-12-04; 122 s with 100 room
requests): Radicale books about one room a second there. No timings are asserted: on a shared machine they say nothing; ``python -m bench.backlog``
prints them.

Kept clear of the other end-to-end tests: employees 60001… (no test or seed uses them),
rooms on days 12–14 ahead (tests/e2e/test_rooms books days 6–10 and looks one day either
side for alternatives; the seed books days 3 and 5), ThinkPads only, and IT stocks exactly
the laptops the test's orders and hires take, so the free stock of every model is what it
was (tests/e2e/test_laptop counts on one Dell; test_employment on the returned ThinkPad
being the next hire's). The test decides its fritak cases and hands its laptops over, so
every item ends done or a dead letter.
"""

from __future__ import annotations

import pytest

from bench.backlog import Sizes, run_backlog
from devtools.stack import Stack
from hub.ledger import ItemState, Ledger

pytestmark = pytest.mark.e2e

SIZES = Sizes(rooms=250, fritak=3, laptops=3, hires=3)  # one laptop order per hire
DAYS = {"hub": (12, 13, 14)}


def test_a_small_backlog_drains_with_nothing_lost_or_duplicated(stack: Stack, ledger: Ledger) -> None:
    report = run_backlog(stack, SIZES, compare=False, offset=60_000, prefix="backlogci", timeout=600,
                         laptop_models=("thinkpad-t14",), days=DAYS)

    items = [i for i in ledger.items(limit=None) if (i.service, i.source_key) in report.mine]
    by_service = {s: sum(i.service == s for i in items) for s in ("rooms", "fritak", "laptop", "onboarding")}
    assert by_service == {"rooms": SIZES.rooms, "fritak": SIZES.fritak, "laptop": SIZES.laptops,
                          "onboarding": SIZES.hires}, report.notes  # every input became exactly one item
    assert all(i.state in (ItemState.DONE, ItemState.FAILED) for i in items)
    assert all(i.last_error and i.error_kind for i in items if i.state == ItemState.FAILED)
    settled, reconciled = report.verdicts
    assert settled.held, settled.findings  # done or a dead letter with a reason a person can act on
    assert reconciled.held and reconciled.counts["missing"] == 0 and reconciled.counts["duplicate"] == 0, \
        reconciled.findings
    # The counts the report is made of are the hub's own: every service got through.
    assert {s: r.reached for s, r in report.hub.items()} == by_service
