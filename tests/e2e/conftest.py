"""The real stack for end-to-end tests: Prefect server, runner, intake, sandboxes, RT, SMTP.

Started once for the end-to-end tests on free ports in a temporary folder (about 30 s),
exactly as the demo starts it (:class:`devtools.stack.Stack`). It is stopped when the last test in
``tests/e2e`` is done (package scope), not at the end of the session: the tests that follow
do not share two cores with an idle Prefect server and runner, and they see the environment
they would see when run alone.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.stack import Stack, StackPorts
from hub.ledger import ItemState, Ledger, WorkItem
from sandbox.common import control_headers
from sandbox.dfo.announce import announce


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("hub")
    stack = Stack(home=home, ports=StackPorts.free(), extra_env={"HUB_PAUSE_SCHEDULES": "1"})
    saved = dict(os.environ)
    try:
        stack.start_all(progress=lambda msg: print(f"[stack] {msg}", flush=True))
        yield stack
    finally:
        stack.stop_all()
        os.environ.clear()
        os.environ.update(saved)
        _refresh_settings()


def _refresh_settings() -> None:
    from prefect.context import refresh_global_settings_context

    from hub.settings import get_settings

    refresh_global_settings_context()
    get_settings.cache_clear()


@pytest.fixture(scope="package")
def ledger(stack: Stack) -> Ledger:
    from hub.wiring import get_ledger

    return get_ledger()


def send_event(stack: Stack, employee_id: str, gyldig_etter: date | str | None = None,
               uri: str = "dfo:ansatte") -> httpx.Response:
    """What DFØ does: POST a signed event to the intake."""
    return announce(f"{stack.intake_url}/events/hr", stack.secrets["hmac"], employee_id,
                    gyldig_etter or date.today(), uri)


def wait_item(ledger: Ledger, service: str, key: str, *, timeout: float = 90,
              done_states: tuple[str, ...] = (ItemState.DONE, ItemState.FAILED, ItemState.WAITING)) -> WorkItem:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = ledger.get_item(service, key)
        if item is not None and item.state in done_states:
            return item
        time.sleep(0.3)
    raise AssertionError(f"{service}/{key} did not finish in {timeout}s: {ledger.get_item(service, key)}")


async def wait_flow_run(flow_run_id: str, timeout: float = 90) -> Any:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            run = await client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            await asyncio.sleep(0.3)
    raise AssertionError(f"flow run {flow_run_id} not final after {timeout}s")


def event_flow_run(stack: Stack, event_id: str, timeout: float = 30) -> str:
    """The flow run the intake created for an event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{stack.intake_url}/events/{event_id}", timeout=5).json()
        if body.get("flow_run_id"):
            return str(body["flow_run_id"])
        time.sleep(0.2)
    raise AssertionError(f"event {event_id} was not handed to Prefect in {timeout}s")


@pytest.fixture(scope="package")
def rt_http(stack: Stack) -> Iterator[httpx.Client]:
    token = (stack.rt_dir / "hub-token").read_text().strip()
    with httpx.Client(base_url=f"{stack.rt_url}/REST/2.0", headers={"Authorization": f"token {token}"},
                      timeout=30) as client:
        yield client


def rt_tickets(rt_http: httpx.Client, ticketsql: str) -> list[dict[str, Any]]:
    """Tickets matching a TicketSQL query, read straight from RT (not through the connector)."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = rt_http.get("/tickets", params={"query": ticketsql, "page": page, "per_page": 100,
                                                  "fields": "Subject,Status,Queue,Due,CustomFields"})
        response.raise_for_status()
        body = response.json()
        found.extend(body.get("items", []))
        if page >= int(body.get("pages", 1) or 1):
            return found
        page += 1


def rt_laptops_held_by(rt_http: httpx.Client, email: str) -> list[dict[str, Any]]:
    """Laptops whose HeldBy includes ``email``, read straight from RT."""
    response = rt_http.post("/assets", params={"fields": "Name,Status,HeldBy,CustomFields",
                                               "fields[HeldBy]": "EmailAddress", "per_page": 100},
                            data={"query": "Catalog = 'Laptops'"})
    response.raise_for_status()
    return [a for a in response.json()["items"]
            if any(h.get("EmailAddress") == email for h in a.get("HeldBy", []))]


def rt_comments(rt_http: httpx.Client, ticket_id: str) -> list[str]:
    """The text of every comment on a ticket, read from RT's transactions and attachments."""
    history = rt_http.get(f"/ticket/{ticket_id}/history", params={"per_page": 100, "fields": "Type"}).json()
    texts = []
    for tx in history["items"]:
        if tx.get("Type") != "Comment":
            continue
        parts = rt_http.get(f"/transaction/{tx['id']}/attachments",
                            params={"fields": "Content,ContentType"}).json()["items"]
        texts += [_rt_content(p["Content"]) for p in parts
                  if p.get("Content") and str(p.get("ContentType", "")).startswith("text/")]
    return texts


def _rt_content(value: str) -> str:
    """RT 5 sends attachment content base64-encoded, or as is for some text parts."""
    import base64
    import binascii

    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


@pytest.fixture
async def archive(stack: Stack) -> AsyncIterator[Any]:
    from hub.settings import get_settings
    from hub.wiring import build_archive

    client = build_archive(get_settings())
    try:
        yield client
    finally:
        await client.aclose()


def mail_to(stack: Stack, address: str) -> list[Any]:
    from sandbox.smtp import read_messages

    return [m for m in read_messages(stack.maildir) if address in str(m.get("To", ""))]


def submit(stack: Stack, form: int, answers: dict[str, Any],
           attachments: dict[str, list[tuple[str, str, bytes]]] | None = None) -> int:
    """What a person does in Nettskjema: submit the form (through the sandbox's control route)."""
    import base64

    body: dict[str, Any] = {"answers": answers}
    if attachments:
        body["attachments"] = {key: [{"filename": name, "mediaType": media,
                                      "contentBase64": base64.b64encode(data).decode()}
                                     for name, media, data in files] for key, files in attachments.items()}
    response = httpx.post(f"{stack.nettskjema_url}/_sandbox/forms/{form}/submissions",
                          headers=control_headers(stack.sandbox_token),
                          json=body, timeout=30)
    assert response.status_code == 201, response.text
    return int(response.json()["submissionId"])


def pdf_bytes(title: str) -> bytes:
    from datetime import datetime

    from hub.settings import OSLO
    from mappings.pdf import letter_pdf

    return letter_pdf(sender="Høgskolen i Innlandet", recipient=["Kari Nordmann"], date=datetime(2024, 6, 20,
                      tzinfo=OSLO), title=title, paragraphs=["Emner: Programmering 1, 7,5 studiepoeng."],
                      signature="Studieadministrasjonen")


def all_logs(stack: Stack) -> dict[Path, str]:
    return {p: p.read_text(errors="replace") for p in stack.home.rglob("*.log")}
