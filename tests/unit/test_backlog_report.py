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
