"""How a burst's events are cut into runs (hub.dispatch.burst_groups): at most ``together`` per
run, spread over as many runs as the deployment works at once while each gets a batch's
parallelism, in order, as even as can be."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.dispatch import burst_groups, runs_at_once


def _sizes(n: int, most: int, spread: int, parallel: int = 4) -> list[int]:
    return [len(g) for g in burst_groups([str(k) for k in range(n)], most, spread, parallel)]


def test_a_small_burst_goes_to_as_many_runs_as_the_deployment_works_at_once() -> None:
    assert _sizes(29, 50, 6) == [5, 5, 5, 5, 5, 4]  # was one run of 29, worked 4 at a time
    assert _sizes(200, 50, 6) == [34, 34, 33, 33, 33, 33]  # was 50, 50, 50, 50
    assert _sizes(8, 50, 6) == [4, 4]  # each run still gets a batch's parallelism
    assert _sizes(5, 50, 6) == [3, 2]


def test_a_big_burst_still_has_at_most_together_a_run() -> None:
    assert _sizes(1000, 50, 6) == [50] * 20
    assert _sizes(60, 50, 1) == [30, 30]  # no spread: as few runs as fit, evened out


def test_an_event_alone_and_a_route_not_taking_events_together() -> None:
    assert burst_groups(["only"], 50, 6, 4) == [["only"]]
    assert _sizes(5, 1, 6) == [1] * 5
    assert burst_groups([], 50, 6, 4) == []


def test_the_onboarding_deployment_works_six_runs_at_once_and_an_unknown_one_one() -> None:
    assert runs_at_once("onboarding/onboarding") == 6
    assert runs_at_once("no-such/deployment") == 1


@given(n=st.integers(0, 400), most=st.integers(1, 60), spread=st.integers(1, 10), parallel=st.integers(1, 8))
def test_every_event_is_in_one_run_in_order_and_the_runs_are_even(n: int, most: int, spread: int,
                                                                    parallel: int) -> None:
    keys = [f"k{i}" for i in range(n)]
    groups = burst_groups(keys, most, spread, parallel)
    assert [k for g in groups for k in g] == keys
    if not keys:
        return
    sizes = [len(g) for g in groups]
    assert max(sizes) <= most and max(sizes) - min(sizes) <= 1
    assert len(groups) == max(-(-n // most), min(spread, -(-n // parallel)))
