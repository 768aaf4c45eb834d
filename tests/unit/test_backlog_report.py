"""bench/backlog's report says a target is met only when it was measured."""

from __future__ import annotations

import pytest

from bench.backlog import Rate, Report, Sizes, print_report


def _report(*, ceiling: float | None) -> Report:
    report = Report(Sizes(rooms=0, fritak=0, laptops=20, hires=0))
    report.hub["laptop"] = Rate("laptop", 20, 100.0, reached=20)  # 0.2 items/s
    if ceiling is not None:
        report.ceiling["laptop"] = Rate("laptop", 20, 20 / ceiling, reached=20)
    report.events = {"stored": 10, "dropped (server log)": 0, "emitted": 10}
    return report


def targets(out: str) -> str:
    return out.split("== Targets ==")[1].split("== Invariants ==")[0]


def test_a_run_without_a_ceiling_claims_no_ratio_target(capsys: pytest.CaptureFixture[str]) -> None:
    print_report(_report(ceiling=None), "embedded")
    section = targets(capsys.readouterr().out)
    assert "hub ÷ ceiling, hub ÷ naive: not measured" in section
    assert "≥ 0.8" not in section and "MISSED" not in section
    assert "met: Prefect events: 10 stored, 0 dropped" in section


@pytest.mark.parametrize(("ceiling", "verdict"), [(1.0, "MISSED: laptop: hub ÷ ceiling 0.20 < 0.8"),
                                                  (0.24, "met: laptop: hub ÷ ceiling 0.83 ≥ 0.8")])
def test_a_measured_ratio_is_met_or_missed_by_its_figure(capsys: pytest.CaptureFixture[str], ceiling: float,
                                                         verdict: str) -> None:
    print_report(_report(ceiling=ceiling), "embedded")
    section = targets(capsys.readouterr().out)
    assert verdict in section
    assert "not measured" not in section


def test_services_sharing_a_phase_are_also_judged_together(capsys: pytest.CaptureFixture[str]) -> None:
    """Two services share RT in every phase: besides each its own, all items over the phase's
    longest time (here 60 items in 100 s for the hub, in 40 s for the ceiling)."""
    report = _report(ceiling=1.0)  # laptop: the hub 20 in 100 s, the ceiling 20 in 20 s
    report.hub["onboarding"] = Rate("onboarding", 40, 50.0, reached=40)
    report.ceiling["onboarding"] = Rate("onboarding", 40, 40.0, reached=40)
    print_report(report, "embedded")
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("all "))
    assert row.split() == ["all", "60", "0.60", "1.50", "n/a", "0.40", "n/a"]
    assert "MISSED: all services together: hub ÷ ceiling 0.40 < 0.8" in targets(out)
