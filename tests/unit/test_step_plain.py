"""A step in a burst's run (hub.flowkit.steps_without_task_runs): a plain call, retried like its task."""

from __future__ import annotations

import pytest

from hub import flowkit
from hub.errors import InvalidInput, TransientError
from hub.flowkit import step_task, steps_without_task_runs
from hub.settings import get_settings
from hub.wiring import Connectors


def flaky(calls: list[str], fails: list[Exception]) -> object:
    @step_task("flaky step", ports=("hr",))
    async def step(label: str) -> str:
        calls.append(label)
        if fails:
            raise fails.pop(0)
        return f"done {label}"

    return step


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flowkit, "STEP_RETRY_DELAYS", (0.0, 0.0, 0.0))


async def test_a_transient_error_is_tried_again_up_to_three_times() -> None:
    calls: list[str] = []
    step = flaky(calls, [TransientError("HR is down"), TransientError("HR is down")])
    with steps_without_task_runs():
        assert await step("a") == "done a"  # type: ignore[operator]
    assert calls == ["a", "a", "a"]

    calls.clear()
    step = flaky(calls, [TransientError("HR is down") for _ in range(4)])
    with steps_without_task_runs(), pytest.raises(TransientError, match="HR is down"):
        await step("b")  # type: ignore[operator]
    assert calls == ["b"] * 4


async def test_a_permanent_error_is_not_tried_again() -> None:
    calls: list[str] = []
    step = flaky(calls, [InvalidInput("no start date")])
    with steps_without_task_runs(), pytest.raises(InvalidInput):
        await step("c")  # type: ignore[operator]
    assert calls == ["c"]


async def test_the_plain_step_is_refused_a_port_it_does_not_declare() -> None:
    ports = Connectors(get_settings(), ("hr", "mail"), service="onboarding")

    @step_task("reads hr", ports=("hr",))
    async def mails() -> None:
        ports.mail  # noqa: B018 - reaching for the port is the test

    with steps_without_task_runs(), pytest.raises(LookupError, match="the step 'reads hr' does not declare the mail"):
        await mails()  # type: ignore[operator]
