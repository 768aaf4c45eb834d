"""The Prefect UI, as an operator sees it, in headless Chromium (Debian's) driven by Playwright.

Screenshots go to ``test-output/`` for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.ledger import Ledger
from hub.procs import ROOT
from hub.stack import Stack
from tests.e2e.conftest import wait_item

pytestmark = pytest.mark.e2e

OUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


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
    item = wait_item(ledger, "onboarding", "10006")  # onboarded by test_onboarding
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
