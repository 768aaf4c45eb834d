"""The pure parts of bench/backlog.py: sizes, the send plan, stock, ratios, when an item is through."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.backlog import (
    FORM_IDS,
    FULL,
    ORDER,
    SMALL,
    BareRun,
    OnlyItems,
    Rate,
    Report,
    Sizes,
    collected_elsewhere,
    light_items,
    main,
    merged,
    parse_order,
    percentile,
    plan_of,
    ratio_line,
    reached,
    stock_for,
)
from bench.chaos_invariants import Verdict
from bench.chaos_workload import Sent
from bench.slot_trace import Hold
from flows.forms_poll import cursor_name
from hub.ledger import ItemState, Ledger


def test_the_full_size_meets_the_issues_load_and_the_small_one_says_it_does_not() -> None:
    assert FULL.forms >= 10_000 and FULL.hires >= 1_000 and FULL.shortfall() == []
    assert SMALL.shortfall() == [f"{SMALL.forms:,} form submissions < 10,000", f"{SMALL.hires:,} hires < 1,000"]


def test_the_plan_interleaves_the_kinds_and_holds_every_item() -> None:
    plan = plan_of(Sizes(rooms=5, fritak=1, laptops=2, hires=0), ["rooms", "laptop", "fritak"])
    assert plan[:3] == ["rooms", "laptop", "fritak"]
    assert sorted(plan) == sorted(["rooms"] * 5 + ["laptop"] * 2 + ["fritak"])


def test_stock_is_what_the_orders_and_hires_take() -> None:
    sent = [Sent("laptop", "laptop", "1", {"model": "macbook-air-13"}), Sent("rooms", "rooms", "2"),
            Sent("laptop", "laptop", "3", {"model": "thinkpad-t14"})]
    assert stock_for(sent, 2) == {"Apple MacBook Air 13 M3": 1, "Lenovo ThinkPad T14 Gen 5": 3}
    assert stock_for([], 0) == {}


def test_a_missed_ratio_is_said_and_nothing_is_made_up() -> None:
    assert ratio_line("rooms hub ÷ ceiling", 4.0, 5.0, 0.8) == "rooms hub ÷ ceiling: 0.80 (target ≥ 0.8: met)"
    assert "MISSED" in ratio_line("x", 1.0, 5.0, 0.8)
    assert ratio_line("x", 1.0, 0.0, 0.8) == "x: not measured"


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([1.0, 2.0], 0.95) == 1.95
    assert percentile([], 0.5) != percentile([], 0.5)  # nan: nothing measured


def _item(service: str, state: str, **kw: object) -> SimpleNamespace:
    return SimpleNamespace(service=service, state=state, data=kw.pop("data", {}), error_kind=kw.pop("error_kind", None),
                           attempts=kw.pop("attempts", 1))


def test_an_item_is_through_where_its_service_goes_by_itself() -> None:
    assert reached(_item("rooms", ItemState.DONE))
    assert reached(_item("rooms", ItemState.FAILED, error_kind="invalid_input"))
    assert not reached(_item("rooms", ItemState.FAILED, error_kind="transient"))  # the next run retries it
    assert reached(_item("laptop", ItemState.WAITING, data={"stage": "awaiting_delivery"}))
    assert not reached(_item("laptop", ItemState.WAITING, data={"stage": "awaiting_asset"}))
    assert reached(_item("fritak", ItemState.WAITING, data={"decision_runs": ["r1"]}))  # asks the case handler
    assert not reached(_item("fritak", ItemState.WAITING))  # its case run not started yet
    assert not reached(_item("onboarding", ItemState.RUNNING))


def test_the_benchs_poll_reads_only_what_may_have_ended_and_only_a_waiting_items_data(tmp_path: Path) -> None:
    """The poll runs every 3 s beside the hub it measures: an item's notes are read only where
    :func:`reached` looks at them (a waiting item), and pending or running items not at all."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    notes = {"outcome": "alternatives", "alternatives": [{"room": "r1"}] * 5}
    for key, state in (("1", ItemState.DONE), ("2", ItemState.FAILED), ("3", ItemState.PENDING),
                       ("4", ItemState.RUNNING), ("5", ItemState.WAITING)):
        item = ledger.ensure_item("laptop", key, title=key)
        ledger.update_data(item.id, stage="awaiting_delivery" if state == ItemState.WAITING else "x", **notes)
        if state != ItemState.PENDING:
            ledger.finish_item(item.id, state, error="no" if state == ItemState.FAILED else None,
                               error_kind="invalid_input" if state == ItemState.FAILED else None)

    ended = {i.source_key: i for i in light_items(ledger, "laptop", ended=True)}
    every = {i.source_key: i for i in light_items(ledger, "laptop")}

    assert sorted(ended) == ["1", "2", "5"] and sorted(every) == ["1", "2", "3", "4", "5"]
    assert [k for k, i in every.items() if i.data is not None] == ["5"]
    assert ended["5"].data["stage"] == "awaiting_delivery" and all(reached(i) for i in ended.values())
    ledger.dispose()


async def test_a_bare_run_keeps_references_and_holds_a_limit_as_a_semaphore() -> None:
    slots = {"ticketing": asyncio.Semaphore(2)}
    run = BareRun("laptop", "7", ports=None, settings=None, slots=slots)
    await run.remember("ticket", system="ticketing", kind="ticket", ref="42")
    await run.wait_for("IT to deliver", stage="awaiting_delivery")
    run.ledger.update_data(0, model="x")
    assert run.ref("ticket") == "42" and run.ref("asset") is None
    assert run.item.data == {"stage": "awaiting_delivery", "model": "x"} and run.waiting_reason == "IT to deliver"

    async def hold() -> int:
        async with run.slots(["ticketing"]), run.slots("ticketing"):
            return slots["ticketing"]._value  # both of the limit's slots taken

    assert await hold() == 0 and slots["ticketing"]._value == 2


async def test_a_bare_run_records_its_holds_as_the_hub_traces_its_own() -> None:
    holds: list[Hold] = []
    run = BareRun("laptop", "7", ports=None, settings=None, slots={"ticketing": asyncio.Semaphore(1)}, holds=holds)
    async with run.slots("ticketing"):
        await asyncio.sleep(0.05)
    async with run.slots(["ticketing", "calendar"]):
        pass
    assert [h.names for h in holds] == [("ticketing",), ("calendar", "ticketing")]
    assert holds[0].asked <= holds[0].got < holds[0].end and holds[0].end - holds[0].got >= 0.04


def test_people_see_only_the_benchs_own_items() -> None:
    class Ledger:
        def items(self, **filters: object) -> list[SimpleNamespace]:
            return [SimpleNamespace(service="fritak", source_key=k) for k in ("1", "2")]

        def get_ref(self, item_id: int, name: str) -> str:
            return "ref"

    only = OnlyItems(Ledger(), {("fritak", "2")})
    assert [i.source_key for i in only.items(states=["waiting"], limit=None)] == ["2"]
    assert only.get_ref(1, "ticket") == "ref"  # everything else is the ledger's own


def test_the_order_names_each_phase_at_most_once() -> None:
    assert parse_order("ceiling, naive,hub") == ("ceiling", "naive", "hub")
    assert parse_order("ceiling,hub") == ("ceiling", "hub")
    assert parse_order("ceiling") == ("ceiling",)  # alone: not with --one-stack (main says so)
    assert ORDER == parse_order(",".join(ORDER))
    for wrong in ("hub,hub", "hub,cieling", "", ","):
        with pytest.raises(argparse.ArgumentTypeError, match="each at most once"):
            parse_order(wrong)


def test_a_phase_without_the_hubs_needs_a_stack_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--order", "ceiling,naive", "--one-stack"])
    assert "--order without the hub's phase needs a stack per phase" in capsys.readouterr().err


def test_the_phases_of_fresh_stacks_make_one_report_with_each_invariant_named_by_its_phase() -> None:
    ceiling, hub = Report(SMALL), Report(SMALL)
    ceiling.ceiling = {"rooms": Rate("rooms", 240, 20.0, reached=240)}
    ceiling.events = {"stored": 10, "dropped (server log)": 0}
    ceiling.verdicts = [Verdict("reconciliation", True, {"missing": 0})]
    hub.hub = {"rooms": Rate("rooms", 240, 30.0, reached=240)}
    hub.events = {"stored": 900, "dropped (server log)": 1}
    hub.verdicts = [Verdict("reconciliation", False, {"missing": 1}, ["rooms 7: no booking"])]
    hub.hr_to_code = [1.5]
    whole = merged([ceiling, hub], ("ceiling", "hub"))
    assert whole.fresh_stacks and whole.order == ("ceiling", "hub")
    assert whole.ceiling["rooms"].per_second == 12.0 and whole.hub["rooms"].per_second == 8.0
    assert whole.events == {"stored": 910, "dropped (server log)": 1}
    assert [(v.name, v.held) for v in whole.verdicts] == [("reconciliation (ceiling stack)", True),
                                                          ("reconciliation (hub stack)", False)]
    assert whole.hr_to_code == [1.5]


class _Cursors:
    def __init__(self, **marks: str) -> None:
        self.marks = dict(marks)

    def get_cursor(self, name: str) -> str | None:
        return self.marks.get(name)

    def set_cursor(self, name: str, value: str) -> None:
        self.marks[name] = value


def test_a_phase_before_the_hubs_leaves_its_submissions_behind_each_forms_mark() -> None:
    rooms, laptop = cursor_name(FORM_IDS["rooms"]), cursor_name(FORM_IDS["laptop"])
    ledger = _Cursors(**{laptop: "900"})
    sent = [Sent("rooms", "rooms", "120"), Sent("rooms", "rooms", "118"), Sent("laptop", "laptop", "119"),
            Sent("hire", "onboarding", "250100")]
    collected_elsewhere(ledger, sent)
    # The rooms' mark is past the phase's newest; a mark already further on stays (the intake
    # must not collect again what it has); a hire is no form submission
    assert ledger.marks == {rooms: "120", laptop: "900"}
