"""The work pool's lean base job template (deployments/pool.py): its variables untyped, so
Prefect's validation of every run created costs a third, and a run's job is the stock
template's, with job variables set on a deployment or a run still applied."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker

from deployments.pool import lean_job_template

STOCK = ProcessWorker.get_default_base_job_template()


@pytest.fixture(autouse=True)
def _api(prefect_server: str) -> None:
    """The worker's step resolves block and variable references through the API."""


async def _job(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    config = await ProcessJobConfiguration.from_template_and_values(template, values)
    return config.model_dump()


def test_the_lean_template_keeps_the_stock_job_configuration_and_each_variable_untyped() -> None:
    lean, stock = lean_job_template(), STOCK["variables"]["properties"]
    assert lean["job_configuration"] == STOCK["job_configuration"]
    assert set(lean["variables"]["properties"]) == set(stock)
    for name, schema in lean["variables"]["properties"].items():
        assert schema == {"title": stock[name]["title"], "description": stock[name]["description"]}
    assert any("default" in schema for schema in stock.values()), "the stock template has defaults to drop"


@pytest.mark.parametrize("values", [
    {},
    {"env": {"HUB_PROBE": "1"}},
    {"env": {"HUB_PROBE": "1"}, "working_dir": "/srv/hub", "stream_output": False, "name": "case"},
    {"command": "python -m prefect.engine", "labels": {"team": "it"}},
])
async def test_a_run_gets_the_job_the_stock_template_gives_it(values: dict[str, Any]) -> None:
    """Whatever a deployment or a run sets (or nothing) reaches the job as with the stock template."""
    lean, stock = await _job(lean_job_template(), values), await _job(STOCK, values)
    assert lean == stock
    for key, value in values.items():  # the values are there, not only equally absent
        got = lean[key]
        assert (str(got) if key == "working_dir" else got) == value or (
            key == "env" and value.items() <= got.items()), (key, got)
