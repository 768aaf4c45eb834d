"""No fødselsnummer anywhere it must not be. Runs last in the e2e folder (file name) so it
scans what every other end-to-end test wrote: log files, Prefect run logs, flow-run
parameters and artifacts, the run inputs a suspended case stores (the case handler's form:
description and schema), task runs and events in the Prefect database, RT ticket subjects,
public archive titles and e-mails.

The numbers looked for are every employee's (their ``fnr`` as DFØ sends it, malformed ones
included, and every passport or foreign id number in ``annenId`` — the seeded D-nummer hire's
and the passport hire onboarded by tests/e2e/test_onboarding.py), every number typed into the
fritak form's fødselsnummer field, and every valid one typed into its free text (the
grounds), each in the ways a person writes it (``DDMMYYNNNNN``, ``DDMMYY NNNNN``, with a dot
or a hyphen)."""

from __future__ import annotations

import re

import httpx
import pytest

from devtools.stack import Stack
from hub.privacy import contains_fnr, is_valid_fnr
from tests.e2e.conftest import all_logs, rt_tickets

pytestmark = pytest.mark.e2e


async def _applicant_ids() -> list[str]:
    """Every fødselsnummer typed into the fritak form (seeded and by the tests)."""
    from hub.settings import get_settings
    from hub.wiring import build_forms
    from sandbox.nettskjema.forms import FRITAK_FORM_ID

    forms = build_forms(get_settings())
    found = []
    try:
        async for meta in forms.submissions_after(FRITAK_FORM_ID, None):
            submission = await forms.get_submission(meta.submission_id)
            answer = submission.answer("fnr")
            if answer and answer.text:
                found.append(answer.text.strip())
            for other in submission.answers:  # typed into free text, e.g. the grounds
                for number in re.findall(r"(?<!\d)(\d{6})[ .-]?(\d{5})(?!\d)", other.text or ""):
                    if is_valid_fnr("".join(number)):
                        found.append("".join(number))
    finally:
        await forms.aclose()
    return found


@pytest.fixture(scope="module")
def national_ids(stack: Stack) -> list[str]:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    employees = _employees(stack)
    ids = [str(e["fnr"]) for e in employees if e.get("fnr") and set(str(e["fnr"])) != {"0"}]
    with ThreadPoolExecutor(1) as pool:
        applicants = pool.submit(asyncio.run, _applicant_ids()).result()
    assert len(ids) >= 10 and len(applicants) >= 6
    return ids + applicants + _passports(employees)


def _employees(stack: Stack) -> list[dict]:
    response = httpx.get(f"{stack.dfo_api}/ansatte/v2", headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]})
    return [e for e in response.json()["ansatt"] if isinstance(e, dict)]


def _passports(employees: list[dict]) -> list[str]:
    """Every passport or foreign id number in DFØ's annenId (a list, or one bare object)."""
    found = []
    for employee in employees:
        others = employee.get("annenId") or []
        for other in [others] if isinstance(others, dict) else others:
            if isinstance(other, dict) and other.get("idNr"):
                found.append(str(other["idNr"]))
    return found


@pytest.fixture(scope="module")
def passports(stack: Stack) -> list[str]:
    found = _passports(_employees(stack))
    assert found, "no employee with a passport to look for"
    return found


def test_a_hire_onboarded_on_a_passport_is_among_those_scanned(stack: Stack, passports: list[str]) -> None:
    """The scan covers an onboarding done on a passport (test_onboarding's foreign hire), if it ran."""
    from hub.wiring import get_ledger

    on_passport = [i for i in get_ledger().items(service="onboarding", limit=None)
                   if (i.data or {}).get("identified_by") == "passport"]
    if not on_passport:
        pytest.skip("no hire was onboarded on a passport in this run (tests/e2e/test_onboarding.py not run)")
    assert len(passports) >= 2  # the seeded D-nummer hire's and the foreign hire's


def _leaks(text: str, national_ids: list[str]) -> list[str]:
    return [n for n in national_ids
            if any(written in text for written in (n, *(f"{n[:6]}{sep}{n[6:]}" for sep in " .-")))]


def _prefect_all(stack: Stack, path: str) -> list[dict]:
    rows: list[dict] = []
    while True:
        page = httpx.post(f"{stack.prefect_api}/{path}/filter", json={"limit": 200, "offset": len(rows)},
                          timeout=30).json()
        rows.extend(page)
        if len(page) < 200:
            return rows


def test_log_files(stack: Stack, national_ids: list[str]) -> None:
    logs = all_logs(stack)
    assert any("runner" in p.name for p in logs)
    for path, text in logs.items():
        assert not _leaks(text, national_ids), path


def test_prefect_logs_parameters_and_artifacts(stack: Stack, national_ids: list[str]) -> None:
    logs = _prefect_all(stack, "logs")
    runs = _prefect_all(stack, "flow_runs")
    artifacts = _prefect_all(stack, "artifacts")
    assert logs and runs and artifacts
    assert not _leaks(" ".join(entry["message"] for entry in logs), national_ids)
    assert not _leaks(str([(r["name"], r["parameters"], (r.get("state") or {}).get("message")) for r in runs]),
                      national_ids)
    assert not _leaks(str([(a.get("data"), a.get("description")) for a in artifacts]), national_ids)


def test_prefect_run_inputs_task_runs_and_events(stack: Stack, national_ids: list[str]) -> None:
    """What a suspended case stores for the case handler (description, schema, initial data),
    and task runs and events, as the Prefect database holds them."""
    api = stack.prefect_api
    inputs: list[dict] = []
    for run in _prefect_all(stack, "flow_runs"):
        found = httpx.post(f"{api}/flow_runs/{run['id']}/input/filter", json={"prefix": "", "limit": 200},
                           timeout=30)
        found.raise_for_status()
        inputs.extend(found.json())
    assert any(i["key"].endswith("description") for i in inputs), "no suspended case's form to scan"
    assert not _leaks(str([(i["key"], i["value"]) for i in inputs]), national_ids)
    task_runs = _prefect_all(stack, "task_runs")
    assert task_runs
    assert not _leaks(str([(t["name"], t.get("state")) for t in task_runs]), national_ids)
    page = httpx.post(f"{api}/events/filter", json={"limit": 50}, timeout=30).json()
    events: list[dict] = page["events"]
    while page.get("next_page") and len(events) < 20_000:
        page = httpx.get(page["next_page"], timeout=30).json()
        events.extend(page["events"])
    assert events
    assert not _leaks(str(events), national_ids)


def test_ticket_subjects(stack: Stack, rt_http: httpx.Client, national_ids: list[str]) -> None:
    tickets = rt_tickets(rt_http, "id > 0")
    assert tickets
    for ticket in tickets:
        assert not contains_fnr(ticket["Subject"]), ticket["id"]
        assert not _leaks(ticket["Subject"], national_ids), ticket["id"]


async def test_public_archive_titles(archive, national_ids: list[str]) -> None:
    cases = [c for prefix in ("Personalmappe", "Søknad om fritak")
             for c in await archive.find_case_files_by_title_prefix(prefix)]
    assert any(c.title.startswith("Søknad om fritak") for c in cases)
    for case in cases:
        assert case.public_title and not contains_fnr(case.public_title)
        assert "*****" in case.public_title and not _leaks(case.public_title + case.title, national_ids)
        for entry in await archive.list_journal_entries(case):
            assert not contains_fnr(entry.title) and not _leaks(entry.title, national_ids)


def test_emails(stack: Stack, national_ids: list[str]) -> None:
    from sandbox.smtp import read_messages

    messages = read_messages(stack.maildir)
    assert messages
    for message in messages:
        assert not _leaks(message.as_string(), national_ids)
