"""Service metrics on the real stack: one onboarding done, then the ``service-metrics`` flow
publishes its keyed table and chart artifacts to the Prefect server, and the UI shows the chart.

The flow function is called directly (``service_metrics.fn``) in this process, which the
``stack`` fixture points at the stack's Prefect server and ledger.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.stack import Stack
from flows.ops_metrics import CHART_KEY, TABLE_KEY, service_metrics
from hub.ledger import ItemState, Ledger
from hub.metrics import OSLO, IsoWeek, last_weeks
from hub.privacy import contains_fnr
from sandbox.procs import ROOT
from tests.e2e.conftest import send_event, wait_item

# called outside a flow run, Prefect warns that artifacts without a run are deprecated
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Artifact creation outside:FutureWarning")]

HIRE = "10006"  # the hire test_onboarding onboards (a repeat event is harmless)
OUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SVG_IMAGE = re.compile(r"!\[([^\]]*)\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)")


def _latest(stack: Stack, key: str) -> dict[str, Any]:
    """The newest artifact with ``key``, read from the Prefect API."""
    response = httpx.post(f"{stack.prefect_api}/artifacts/filter", timeout=30, json={
        "artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1})
    response.raise_for_status()
    found = response.json()
    assert found, f"no artifact with key {key}"
    return dict(found[0])


@pytest.fixture(scope="module")
async def published(stack: Stack, ledger: Ledger) -> dict[str, Any]:
    send_event(stack, HIRE)
    item = wait_item(ledger, "onboarding", HIRE)
    assert item.state == ItemState.DONE, item.last_error
    started = time.perf_counter()
    summary = await service_metrics.fn(weeks=8)
    print(f"[metrics] service-metrics flow took {time.perf_counter() - started:.2f} s", flush=True)
    return {"summary": summary, "item": item, "table": _latest(stack, TABLE_KEY), "chart": _latest(stack, CHART_KEY)}


async def test_table_has_the_onboarding_rows_the_ledger_holds(published: dict[str, Any], ledger: Ledger) -> None:
    table = published["table"]
    assert table["type"] == "table" and table["key"] == TABLE_KEY
    rows = json.loads(table["data"])
    overall = next(r for r in rows if r["service"] == "onboarding" and r["week"] == "all")
    start = last_weeks(datetime.now(OSLO), 8)[0].start
    in_window = ledger.items(service="onboarding", since=start, limit=None)
    assert overall["received"] == len(in_window) >= 1
    assert overall["done"] == sum(i.state == ItemState.DONE for i in in_window) >= 1
    assert isinstance(overall["median h"], float) and overall["median h"] >= 0
    hire_week = IsoWeek.of(published["item"].requested_at).label
    week_row = next(r for r in rows if r["service"] == "onboarding" and r["week"] == hire_week)
    assert week_row["done"] >= 1
    summary = published["summary"]
    assert "onboarding" in summary["services"] and summary["artifacts"] == [TABLE_KEY, CHART_KEY]
    assert summary["received"] == sum(r["received"] for r in rows if r["week"] == "all")


async def test_chart_is_an_svg_per_service_without_personal_data(published: dict[str, Any], stack: Stack) -> None:
    chart = published["chart"]
    assert chart["type"] == "markdown" and chart["key"] == CHART_KEY
    images = {alt.split(":")[0]: base64.b64decode(data).decode() for alt, data in SVG_IMAGE.findall(chart["data"])}
    assert "onboarding" in images and images["onboarding"].startswith("<svg")
    assert "<polyline" in images["onboarding"] or "<circle" in images["onboarding"]  # the lead-time line
    assert "| onboarding |" in chart["data"]  # the Unicode sparkline fallback
    hire = httpx.get(f"{stack.dfo_api}/ansatte/v2/{HIRE}",
                     headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]}).json()["ansatt"][0]
    everything = published["table"]["data"] + chart["data"] + "".join(images.values())
    assert not contains_fnr(everything)
    assert hire["etternavn"] not in everything and hire["fornavn"] not in everything


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: scripts/test.sh installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1100}, timezone_id="Europe/Oslo")
        yield context.new_page()
        browser.close()


def test_the_ui_shows_the_chart_images(published: dict[str, Any], stack: Stack, browser_page: Any) -> None:
    """The Prefect UI really draws the data: URI SVGs (not just the markdown around them)."""
    page = browser_page
    page.goto(f"{stack.prefect_ui}/artifacts/artifact/{published['chart']['id']}")
    image = page.locator("img[alt^='onboarding:']")
    image.wait_for(timeout=30_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                           timeout=30_000)
    assert image.bounding_box()["width"] >= 600
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "service-metrics-chart.png"))
    page.goto(f"{stack.prefect_ui}/artifacts/artifact/{published['table']['id']}")
    page.get_by_text("onboarding").first.wait_for(timeout=30_000)
    page.screenshot(path=str(OUT / "service-metrics-table.png"))
    assert (OUT / "service-metrics-chart.png").stat().st_size > 20_000
