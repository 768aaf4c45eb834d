"""The service-metrics charts (hub.reporting), drawn from metrics computed by hand-made facts.

``NOW`` is Thursday 26 November 2026, 12:00 in Oslo (ISO week 48); the window of 8 weeks is
2026-W41 to 2026-W48.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from hub.ledger import ItemState
from hub.metrics import OSLO, ItemFacts, MetricsReport, compute_metrics
from hub.reporting import chart_markdown, service_chart_svg, sparkline

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=OSLO)
SVG = "{http://www.w3.org/2000/svg}"


def oslo(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=OSLO)


def done(service: str, key: str, requested: datetime, lead_h: float) -> ItemFacts:
    return ItemFacts(service, key, ItemState.DONE, requested, completed_at=requested + timedelta(hours=lead_h))


@pytest.fixture
def report() -> MetricsReport:
    items = [
        # onboarding, week 47: four done, one dead letter, one waiting
        done("onboarding", "10001", oslo(11, 16, 8), 2),
        done("onboarding", "10002", oslo(11, 17, 8), 4),
        done("onboarding", "10003", oslo(11, 18, 8), 6),
        done("onboarding", "10004", oslo(11, 19, 8), 24),
        ItemFacts("onboarding", "10005", ItemState.FAILED, oslo(11, 22, 23, 30), error_kind="invalid_input"),
        ItemFacts("onboarding", "10006", ItemState.WAITING, oslo(11, 20, 9)),
        # onboarding, week 48: one done, one pending
        done("onboarding", "10007", oslo(11, 23, 0, 10), 1),
        ItemFacts("onboarding", "10008", ItemState.PENDING, oslo(11, 25, 12)),
        # fritak, week 45: nothing done (no lead time at all)
        ItemFacts("fritak", "5001", ItemState.WAITING, oslo(11, 2, 9)),
        # laptop, week 46: ten done
        *(done("laptop", f"700{n:02d}", oslo(11, 9, 8) + timedelta(minutes=n), n) for n in range(1, 11)),
    ]
    return compute_metrics(items, NOW)


def test_sparkline_scales_to_the_largest_value_and_marks_gaps() -> None:
    assert sparkline([0, 1, 2, None, 7]) == "▁▂▃·█"
    assert sparkline([None, 0]) == "·▁"
    assert sparkline([]) == ""


def test_chart_svg_shows_the_stacked_bars_of_each_week(report: MetricsReport) -> None:
    onboarding = next(s for s in report.services if s.service == "onboarding")
    svg = ET.fromstring(service_chart_svg(onboarding))  # well-formed XML
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert titles[0] == "onboarding: requests and lead time per ISO week"
    assert {"done: 4", "open: 1", "failed: 1"} <= set(titles)  # the stacked bar of week 47
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2  # median and p90: weeks 47 and 48 joined


def test_a_service_without_done_items_draws_bars_and_no_lines(report: MetricsReport) -> None:
    fritak = next(s for s in report.services if s.service == "fritak")
    svg = ET.fromstring(service_chart_svg(fritak))
    assert not list(svg.iter(f"{SVG}polyline")) and not list(svg.iter(f"{SVG}circle"))
    assert "open: 1" in [t.text for t in svg.iter(f"{SVG}title")]


def test_chart_markdown_embeds_one_image_per_service_and_a_text_table(report: MetricsReport) -> None:
    markdown = chart_markdown(report)
    assert markdown.startswith("# Service metrics, 2026-W41 – 2026-W48")
    images = re.findall(r"\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert len(images) == 3
    for image in images:
        ET.fromstring(base64.b64decode(image))
    assert "| onboarding | ▁▁▁▁▁▁█▃ |" in markdown
    assert "| laptop | ▁▁▁▁▁█▁▁ |" in markdown


def test_chart_markdown_without_work_items_says_so() -> None:
    markdown = chart_markdown(compute_metrics([], NOW))
    assert "_No work items in the ledger yet._" in markdown and "data:image" not in markdown


def test_service_names_are_escaped_in_the_svg_and_the_markdown() -> None:
    odd = compute_metrics([done("a<b>|c", "1", oslo(11, 24, 8), 1)], NOW)
    svg = service_chart_svg(odd.services[0])
    ET.fromstring(svg)
    assert "a&lt;b&gt;|c" in svg
    assert "| a<b>|c |" not in chart_markdown(odd)
