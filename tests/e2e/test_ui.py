"""The Prefect UI, as an operator sees it, in headless Chromium (Debian's) driven by Playwright.

Screenshots go to ``test-output/`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devtools.stack import Stack
from hub.ledger import Ledger
from sandbox.procs import ROOT
from tests.e2e.conftest import send_event, wait_item

pytestmark = pytest.mark.e2e

T = TypeVar("T")
OUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def _in_thread(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: scripts/test.sh installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000},  # type: ignore[attr-defined]
                                  timezone_id="Europe/Oslo")
    page = context.new_page()
    yield page
    context.close()


def test_completed_onboarding_run_shows_its_steps(stack: Stack, ledger: Ledger, page: object) -> None:
    """A new user opens the run the demo points at and sees it Completed, with every step."""
    send_event(stack, "10006")  # the hire test_onboarding onboards (a repeat is harmless)
    item = wait_item(ledger, "onboarding", "10006")
    assert item.flow_run_id
    page.goto(f"{stack.prefect_ui}/runs/flow-run/{item.flow_run_id}")  # type: ignore[attr-defined]
    page.get_by_text("onboarding-10006").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.get_by_text("Completed").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    for step in ("fetch employee", "validate hire", "ensure personnel file", "journal welcome letter",
                 "ensure tickets", "allocate laptop", "e-mail manager"):
        page.get_by_text(step).first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "onboarding-run.png"), full_page=True)  # type: ignore[attr-defined]
    assert (OUT / "onboarding-run.png").stat().st_size > 10_000


def test_case_handler_decides_fritak_in_the_ui(stack: Stack, ledger: Ledger, page: object) -> None:
    """The fritak run waits for input, shows a readable form, and completes after Resume → Submit.

    A plain (sync) test: Playwright's sync API keeps its own event loop in this thread, so
    the async helpers run in a thread of their own.
    """

    from tests.e2e.conftest import wait_flow_run
    from tests.e2e.test_fritak import _apply, _case_run, _wait_paused

    sid = _apply(stack, email="ui.test@student.oslomet.no", courses=["DAPE1400"])
    flow_run_id = _in_thread(_case_run(ledger, sid))
    _in_thread(_wait_paused(flow_run_id))
    OUT.mkdir(exist_ok=True)
    page.goto(f"{stack.prefect_ui}/runs/flow-run/{flow_run_id}")  # type: ignore[attr-defined]
    page.get_by_text("Suspended").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.screenshot(path=str(OUT / "fritak-waiting-for-decision.png"))  # type: ignore[attr-defined]

    page.get_by_role("button", name="Resume").click()  # type: ignore[attr-defined]
    page.get_by_text("Justification").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    for text in ("Søknad om fritak", "DAPE1400", "Grounds", "Archived documents", "Vedlegg 1", "vitnemål.pdf"):
        assert page.get_by_text(text).first.is_visible(), text  # type: ignore[attr-defined]
    justification = page.locator(  # type: ignore[attr-defined]
        "xpath=//*[normalize-space(text())='Justification (Optional)']/following::textarea[1]")
    justification.fill("Emnet dekkes fullt ut av tidligere utdanning.")
    page.screenshot(path=str(OUT / "fritak-decision-form.png"), full_page=True)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Submit").click()  # type: ignore[attr-defined]

    run = _in_thread(wait_flow_run(flow_run_id, timeout=180))
    assert run.state.is_completed(), run.state
    page.reload()  # type: ignore[attr-defined]
    page.get_by_text("Completed").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.screenshot(path=str(OUT / "fritak-decided.png"))  # type: ignore[attr-defined]
    item = ledger.get_item("fritak", str(sid))
    assert item.state == "done" and item.data["outcome"] == "approve"


def _latest_artifact_id(stack: Stack, key: str) -> str:
    import httpx

    found = httpx.post(f"{stack.prefect_api}/artifacts/filter", json={
        "artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}, timeout=30).json()
    assert found, f"no artifact {key}"
    return str(found[0]["id"])


def test_operators_see_deployments_runs_and_ops_artifacts(stack: Stack, ledger: Ledger, page: object) -> None:
    """What an operator checks in the Prefect UI: deployments with schedules and triggers, the latest
    onboarding run Completed, and the health and metrics artifacts rendered."""
    from prefect.deployments import run_deployment

    send_event(stack, "10006")
    wait_item(ledger, "onboarding", "10006")
    for name in ("connector-health/connector-health", "service-metrics/service-metrics"):
        run = _in_thread(run_deployment(name, timeout=180, poll_interval=0.5))
        assert run.state.is_completed(), (name, run.state)
    OUT.mkdir(exist_ok=True)
    p = page

    p.goto(f"{stack.prefect_ui}/deployments")  # type: ignore[attr-defined]
    p.get_by_text("connector-health").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    p.screenshot(path=str(OUT / "ops-deployments.png"), full_page=True)  # type: ignore[attr-defined]
    # The list is paged (more deployments than one page since the employment services), so an
    # operator searches for the one to look at, as here.
    search = p.get_by_placeholder("Search deployments...")  # type: ignore[attr-defined]
    for name, text in (("connector-health", "Every 5 minutes"), ("room-bookings", "Every minute"),
                       ("nightly", "At 02:15 AM every day")):
        search.fill(name)
        p.get_by_text(text).first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
        assert p.get_by_text(text).first.is_visible(), (name, text)  # type: ignore[attr-defined]
    search.fill("")

    import httpx

    notify = httpx.post(f"{stack.prefect_api}/deployments/filter", json={
        "deployments": {"name": {"any_": ["notify-operators"]}}}, timeout=30).json()[0]
    p.goto(f"{stack.prefect_ui}/deployments/deployment/{notify['id']}")  # type: ignore[attr-defined]
    p.get_by_text("connector turned unhealthy").first.wait_for(timeout=30_000)  # the trigger  # type: ignore[attr-defined]
    p.screenshot(path=str(OUT / "ops-trigger.png"), full_page=True)  # type: ignore[attr-defined]

    p.goto(f"{stack.prefect_ui}/runs?flow=onboarding")  # type: ignore[attr-defined]
    p.goto(f"{stack.prefect_ui}/runs/flow-run/{ledger.get_item('onboarding', '10006').flow_run_id}")  # type: ignore[attr-defined]
    p.get_by_text("Completed").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]

    p.goto(f"{stack.prefect_ui}/artifacts/artifact/{_latest_artifact_id(stack, 'connector-health')}")  # type: ignore[attr-defined]
    p.get_by_text("latency ms").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    # The first "ticketing" in the page may be a hidden element; wait for one an operator sees.
    p.locator("text=ticketing >> visible=true").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    p.screenshot(path=str(OUT / "ops-connector-health.png"), full_page=True)  # type: ignore[attr-defined]

    p.goto(f"{stack.prefect_ui}/artifacts/artifact/{_latest_artifact_id(stack, 'service-metrics')}")  # type: ignore[attr-defined]
    p.get_by_text("onboarding").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    p.screenshot(path=str(OUT / "ops-service-metrics.png"), full_page=True)  # type: ignore[attr-defined]

    p.goto(f"{stack.prefect_ui}/artifacts/artifact/{_latest_artifact_id(stack, 'service-metrics-chart')}")  # type: ignore[attr-defined]
    chart = p.locator("img").first  # type: ignore[attr-defined]
    chart.wait_for(timeout=30_000)
    p.wait_for_function("() => [...document.images].some(i => i.complete && i.naturalWidth > 300)",  # type: ignore[attr-defined]
                        timeout=30_000)
    p.screenshot(path=str(OUT / "ops-service-metrics-chart.png"), full_page=True)  # type: ignore[attr-defined]
