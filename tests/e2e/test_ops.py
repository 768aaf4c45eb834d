"""Operations on the real stack: health and the e-mail automation, reconciliation with drift
made on purpose, replay of dead letters, and the `hub` command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from sandbox.common import control_headers
from tests.e2e.conftest import mail_to, rt_tickets, send_event, wait_flow_run, wait_item

pytestmark = pytest.mark.e2e

OPERATORS = "drift@oslomet.no"


async def _artifact(key: str) -> dict:
    async with get_client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            limit=1, sort="CREATED_DESC")
    assert found, f"no artifact {key}"
    return found[0].model_dump(mode="json")


def _hub(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env()}
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True, text=True, env=env,
                          timeout=180)


async def test_unhealthy_connector_is_reported_and_operators_are_emailed(stack: Stack) -> None:
    run = await run_deployment("connector-health/connector-health", timeout=120, poll_interval=0.5)
    assert run.state.is_completed()
    table = (await _artifact("connector-health"))["data"]
    assert {"hr", "archive", "ticketing", "mail", "forms", "prefect"} <= {row["connector"] for row in _rows(table)}
    def hr_alerts() -> list:
        return [m for m in mail_to(stack, OPERATORS) if "[hub] hr is unhealthy" in str(m["Subject"])]

    before = len(hr_alerts())

    # HR starts refusing the hub's API key (401 for every request for a while).
    httpx.post(f"{stack.dfo_url}/_sandbox/faults", headers=control_headers(stack.sandbox_token),
               json={"path": "/api", "status": 401, "count": 1000}).raise_for_status()
    try:
        await run_deployment("connector-health/connector-health", timeout=120, poll_interval=0.5)
        rows = {r["connector"]: r for r in _rows((await _artifact("connector-health"))["data"])}
        assert rows["hr"]["status"] == "DOWN" and rows["archive"]["status"] in ("ok", "slow")
        deadline = time.monotonic() + 90  # the automation runs notify-operators
        while len(hr_alerts()) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        mails = hr_alerts()
        assert len(mails) == before + 1 and "401" in mails[-1].get_content()
        # Still down on the next check: no second e-mail (only a change alerts).
        await run_deployment("connector-health/connector-health", timeout=120, poll_interval=0.5)
        await asyncio.sleep(5)
        assert len(hr_alerts()) == before + 1
    finally:
        httpx.delete(f"{stack.dfo_url}/_sandbox/faults", headers=control_headers(stack.sandbox_token))
    await run_deployment("connector-health/connector-health", timeout=120, poll_interval=0.5)
    rows = {r["connector"]: r for r in _rows((await _artifact("connector-health"))["data"])}
    assert rows["hr"]["status"] in ("ok", "slow")


def _rows(data: object) -> list[dict]:
    import json

    return json.loads(data) if isinstance(data, str) else list(data)  # type: ignore[arg-type]


async def test_reconciliation_reports_drift_made_on_purpose(stack: Stack, ledger: Ledger, rt_http: httpx.Client,
                                                             archive) -> None:
    send_event(stack, "10006")
    wait_item(ledger, "onboarding", "10006")
    clean = await run_deployment("reconciliation/nightly", timeout=180, poll_interval=0.5)
    assert clean.state.is_completed(), clean.state.message

    # Drift 1: an RT administrator deletes the account ticket (the hub itself may not delete).
    ticket = rt_tickets(rt_http, "'CF.{ExternalRef}' = 'onboarding:10006:account'")[0]
    root = ("root", (stack.rt_dir / "root-password").read_text().strip())
    httpx.delete(f"{stack.rt_url}/REST/2.0/ticket/{ticket['id']}", auth=root, timeout=30).raise_for_status()
    # Drift 2: someone files a second personnel file with the same external id in the archive
    # (by hand, with any N5WS client).
    from tests.sandbox_noark5.generic_client import RelationClient

    with RelationClient(f"{stack.noark5_url}/api", ("hub", stack.secrets["n5ws_password"])) as client:
        struktur = client.follow(client.root(), "arkivstruktur/")
        arkivdel = client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Personalarkiv'")[0]
        created = client.create(arkivdel, "sakarkiv/ny-saksmappe/", {
            "tittel": "Personalmappe – kopi", "offentligTittel": "Personalmappe – *****",
            "saksstatus": {"kode": "B"}, "virksomhetsspesifikkeMetadata": {"vnd-oslomet-v1:eksternid": "dfo:ansatt:10006"}})
        assert created.status_code == 201, created.text
    run = await run_deployment("reconciliation/nightly", timeout=180, poll_interval=0.5)
    assert run.state.is_failed() and "drift found" in run.state.message
    report = (await _artifact("reconciliation"))["data"]
    assert "**missing** | onboarding | 10006 | ticketing ticket onboarding:10006:account" in report
    assert "**duplicate** | onboarding | 10006 | archive case file dfo:ansatt:10006" in report


async def test_dead_letters_replay_from_the_command_line(stack: Stack, ledger: Ledger) -> None:
    send_event(stack, "77777")
    failed = wait_item(ledger, "onboarding", "77777")
    assert failed.state == ItemState.FAILED
    listed = _hub(stack, "items", "--state", "failed", "--service", "onboarding", "--json")
    assert listed.returncode == 0 and '"77777"' in listed.stdout
    run = await run_deployment("dead-letters/dead-letters", timeout=120, poll_interval=0.5)
    assert run.state.is_completed()
    rows = _rows((await _artifact("dead-letters"))["data"])
    assert any(r["key"] == "77777" and "77777" in r["reason (and what to do)"] for r in rows)

    # The fix: HR registers the employee. Then the dead letter is replayed.
    httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", headers=control_headers(stack.sandbox_token), json={
        "id": "77777", "fornavn": "Sen", "etternavn": "Registrert", "brukerident": "senreg",
        "epost": "senreg@oslomet.no", "startdato": "2026-12-14", "organisasjonId": "10000200",
        "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False}).raise_for_status()
    replayed = _hub(stack, "replay", str(failed.id), "--yes")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed" in replayed.stdout
    done = wait_item(ledger, "onboarding", "77777", done_states=(ItemState.DONE,))
    assert done.data["replays"] == 1
    again = _hub(stack, "replay", str(failed.id), "--yes")  # idempotent: it completed meanwhile
    assert "skipped: it is done" in again.stdout


def test_cli_events_status_and_doctor(stack: Stack, ledger: Ledger) -> None:
    sent = _hub(stack, "events", "send", "10005")  # a hire (starts in 3 days): onboarding acts on it
    assert sent.returncode == 0 and "202" in sent.stdout
    status = _hub(stack, "status")
    assert "Backlog per service" in status.stdout and "onboarding" in status.stdout, status.stdout
    doctor = _hub(stack, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "All good" in doctor.stdout and "deployments" in doctor.stdout
    assert "sandbox-dfo-key" not in doctor.stdout + status.stdout  # secrets never print


async def test_flow_run_of_an_event_from_the_cli_completes(stack: Stack, ledger: Ledger) -> None:
    item = wait_item(ledger, "onboarding", "10005")
    assert item.flow_run_id
    run = await wait_flow_run(item.flow_run_id)
    assert run.state.is_completed()


async def test_prefect_refuses_a_read_of_more_runs_than_the_hubs_page(stack: Stack) -> None:
    """What ``tests/ledger/test_redrive``'s fake Prefect mirrors: a read of more than
    :data:`hub.prefect_api.READ_LIMIT` runs is refused, so the hub reads by id in pages."""
    from prefect.exceptions import PrefectHTTPStatusError

    from hub.prefect_api import READ_LIMIT

    async with get_client() as client:
        with pytest.raises(PrefectHTTPStatusError, match=f"less than or equal to {READ_LIMIT}"):
            await client.read_flow_runs(limit=READ_LIMIT + 1)
        assert isinstance(await client.read_flow_runs(limit=READ_LIMIT), list)
