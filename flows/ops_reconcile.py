"""Nightly reconciliation of the ledger against the archive core and ticketing.

Publishes a markdown report (artifact ``reconciliation``) with a count summary. Any drift —
a record missing or duplicated in a target, or a stuck item — fails the run, so it shows red.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from hub.reconcile import reconcile
from hub.settings import OSLO, get_settings
from hub.wiring import connect, get_ledger

__all__ = ["reconciliation"]


@flow(name="reconciliation", log_prints=False)
async def reconciliation() -> State:
    settings = get_settings()
    async with connect(settings) as ports:
        report = await reconcile(get_ledger(settings), ports, catalog=settings.laptop.catalog,
                                 stuck_after=timedelta(minutes=settings.ops.stuck_after_minutes))
    now = datetime.now(OSLO)
    await acreate_markdown_artifact(key="reconciliation", markdown=report.markdown(now),
                                    description="Ledger vs. archive core and ticketing")
    summary = report.summary()
    get_run_logger().info("reconciliation: %s", summary)
    if report.drift:
        return Failed(message=f"drift found: {summary['missing']} missing, {summary['duplicate']} duplicate, "
                              f"{summary['stuck']} stuck, {summary['left_holding']} laptop(s) held by leavers — see the "
                              "'reconciliation' artifact", data=summary)
    return Completed(message=f"no drift in {summary['checked']} records", data=summary)
