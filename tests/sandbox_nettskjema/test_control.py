"""The sandbox's control routes, CLI, seed and persistence."""

from __future__ import annotations

import base64
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common import control_headers
from sandbox.nettskjema.forms import FRITAK_FORM_ID, LAPTOP_FORM_ID
from sandbox.nettskjema.pdfs import document_pdf
from sandbox.nettskjema.process import start_nettskjema_sandbox
from sandbox.nettskjema.seed import seed_submissions
from sandbox.procs import Proc, python_module
from tests.sandbox_nettskjema.conftest import api, fetch_token, ndjson, row_names, submit


def count(proc: Proc, token: str, form_id: int) -> int:
    return len(ndjson(api(proc, f"form/{form_id}/submission-metadata", token)))


PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()


@pytest.mark.parametrize(("form", "body", "message"), [
    ("laptop", {"answers": {"colour": "red"}}, "form 404101 has no element 'colour'"),
    ("laptop", {"answers": {"model": "thinkpad-x1"}}, "model: unknown option 'thinkpad-x1'"),
    ("laptop", {"answers": {"model": ["thinkpad-t14", "latitude-7450"]}}, "model: exactly one option"),
    ("laptop", {"answers": {"needed_by": "next week"}}, "needed_by: expected a date as dd.mm.yyyy"),
    ("laptop", {"answers": {"needed_by": "31.02.2026"}}, "needed_by: not a calendar date"),
    ("laptop", {"answers": {"current_satisfaction": "9"}}, "current_satisfaction: expected a value from 1 to 5"),
    ("laptop", {"answers": {"accessories": {"mouse": "yes"}}}, "accessories: unknown row 'mouse'"),
    ("laptop", {"answers": {"accessories": "yes"}}, "accessories: expected {row: option}"),
    ("fritak", {"answers": {"credits": "syv"}}, "credits: expected a number like 7,5"),
    ("fritak", {"answers": {"level": {"bachelor": ["yes", "no"]}}}, "level.bachelor: exactly one option"),
    ("fritak", {"answers": {"attachment_1": "vitnemål.pdf"}}, "attachment_1: files go in \"attachments\""),
    ("fritak", {"attachments": {"grounds": [{"filename": "a.pdf", "mediaType": "application/pdf",
                                            "contentBase64": PDF}]}}, "grounds: is QUESTION, not ATTACHMENT"),
    ("fritak", {"attachments": {"attachment_1": [{"filename": "a.pdf", "mediaType": "application/pdf",
                                                  "contentBase64": "***"}]}}, "contentBase64 is not base64"),
    ("fritak", {"answers": {"fnr": "12345678901"}, "createdDate": "yesterday"}, "createdDate must be ISO 8601"),
])
def test_invalid_bodies_are_refused_and_nothing_is_stored(nettskjema: Proc, token: str, form: str,
                                                          body: dict[str, Any], message: str) -> None:
    form_id = LAPTOP_FORM_ID if form == "laptop" else FRITAK_FORM_ID
    before = count(nettskjema, token, form_id)
    response = submit(nettskjema, form, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert "12345678901" not in response.text
    assert count(nettskjema, token, form_id) == before


def test_unknown_form_is_404(nettskjema: Proc) -> None:
    assert submit(nettskjema, "vacation", {"answers": {}}).status_code == 404


def test_valid_body_is_stored_with_assigned_ids(nettskjema: Proc, token: str) -> None:
    pdf = document_pdf("Vitnemål", ["Bachelor i anvendt datateknologi"], datetime(2025, 6, 20, 12, 0))
    response = submit(nettskjema, FRITAK_FORM_ID, {
        "answers": {"name": "Kåre Ødegård", "courses": "DATA1100", "credits": 7.5, "completed": "2025-06-20",
                    "level": {"bachelor": "yes", "master": "no"}},
        "attachments": {"attachment_1": [{"filename": "vitnemål.pdf", "mediaType": "application/pdf",
                                          "contentBase64": base64.b64encode(pdf).decode()}]}})
    assert response.status_code == 201
    body = api(nettskjema, f"form/submission/{response.json()['submissionId']}", token).json()
    rows = row_names(nettskjema, token, FRITAK_FORM_ID)
    answers = {(a["externalElementId"], rows.get(a.get("subElementId", 0))): a for a in body["answers"]}
    assert answers[("credits", None)]["textAnswer"] == "7,5"
    assert answers[("completed", None)]["textAnswer"] == "20.06.2025"
    assert answers[("courses", None)]["externalAnswerOptionIds"] == ["DATA1100"]
    attachment = answers[("attachment_1", None)]
    assert attachment["textAnswer"] == "vitnemål.pdf" and attachment["size"] == len(pdf)
    assert api(nettskjema, f"form/submission/attachment/{attachment['answerAttachmentId']}", token).content == pdf


def test_bulk_adds_contiguous_submissions(nettskjema: Proc, token: str) -> None:
    before = count(nettskjema, token, LAPTOP_FORM_ID)
    assert httpx.post(f"{nettskjema.url}/_sandbox/forms/laptop/bulk", headers=control_headers(),
                      json={"count": 0}, timeout=5).status_code == 400
    response = httpx.post(f"{nettskjema.url}/_sandbox/forms/laptop/bulk", headers=control_headers(),
                          json={"count": 25}, timeout=10)
    assert response.status_code == 201
    first, last = response.json()["firstSubmissionId"], response.json()["lastSubmissionId"]
    assert last - first == 24
    ids = [m["submissionId"] for m in ndjson(api(nettskjema, f"form/{LAPTOP_FORM_ID}/submission-metadata", token))]
    assert len(ids) == before + 25 and ids[-25:] == list(range(first, last + 1))
    sample = api(nettskjema, f"form/submission/{last}", token).json()["answers"]
    assert {a["externalElementId"] for a in sample} >= {"feide", "model", "location", "accessories"}


def test_forms_listing(nettskjema: Proc) -> None:
    forms = {f["formId"]: f for f in httpx.get(f"{nettskjema.url}/_sandbox/forms", headers=control_headers(),
                                               timeout=5).json()}
    fritak = {e["externalElementId"]: e for e in forms[FRITAK_FORM_ID]["elements"]}
    assert list(fritak)[:4] == ["name", "student_number", "fnr", "email"]
    assert fritak["courses"]["options"] == ["DATA1100", "DATA1200", "DAPE1400", "MATA1000", "ITPE3100"]
    assert fritak["level"]["rows"] == ["bachelor", "master"]
    assert forms[LAPTOP_FORM_ID]["aliases"] == ["laptop"]


def test_cli_submit_fills_in_a_form(nettskjema: Proc, token: str, tmp_path: Path) -> None:
    vitnemal = tmp_path / "vitnemål.pdf"
    vitnemal.write_bytes(b"%PDF-1.4 vitnemal")
    laptop = subprocess.run(python_module(
        "sandbox.nettskjema", "submit", "--url", str(nettskjema.url), "--form", "laptop",
        "feide=haklov@oslomet.no", "model=macbook-air-13", "location=kjeller", "needed_by=01.12.2026",
        "accessories=dock:yes,bag:yes", "justification=Trenger ny maskin før høstsemesteret"),
        capture_output=True, text=True, timeout=30)
    assert laptop.returncode == 0, laptop.stderr
    answers = api(nettskjema, f"form/submission/{int(laptop.stdout)}", token).json()["answers"]
    rows = row_names(nettskjema, token, LAPTOP_FORM_ID)
    assert {rows[a["subElementId"]] for a in answers if a["externalElementId"] == "accessories"} == {"dock", "bag"}
    assert next(a for a in answers if a["externalElementId"] == "justification")["textAnswer"].endswith("høstsemesteret")

    fritak = subprocess.run(python_module(
        "sandbox.nettskjema", "submit", "--url", str(nettskjema.url), "--form", "fritak",
        "name=Kari Ås", "courses=DATA1100,DATA1200", "level=bachelor:yes", "--attach",
        f"attachment_1={vitnemal}"), capture_output=True, text=True, timeout=30)
    assert fritak.returncode == 0, fritak.stderr
    answers = api(nettskjema, f"form/submission/{int(fritak.stdout)}", token).json()["answers"]
    attachment = next(a for a in answers if a["externalElementId"] == "attachment_1")
    assert (attachment["filename"], attachment["mediaType"]) == ("vitnemål.pdf", "application/pdf")

    wrong = subprocess.run(python_module("sandbox.nettskjema", "submit", "--url", str(nettskjema.url), "--form",
                                         "laptop", "model=atari"), capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 1 and "unknown option 'atari'" in wrong.stderr


def test_seed_is_deterministic() -> None:
    assert seed_submissions(date(2026, 11, 20)) == seed_submissions(date(2026, 11, 20))
    assert seed_submissions(date(2026, 11, 20)) != seed_submissions(date(2026, 11, 21))


def test_restart_keeps_added_submissions(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc = start_nettskjema_sandbox(data, logs)
    try:
        token = fetch_token(proc)
        seeded = count(proc, token, LAPTOP_FORM_ID)
        added = submit(proc, "laptop", {"answers": {"feide": "torbra@oslomet.no", "model": "latitude-7450"}})
        submission_id = added.json()["submissionId"]
    finally:
        proc.stop()
    again = start_nettskjema_sandbox(data, logs)
    try:
        token = fetch_token(again)
        assert count(again, token, LAPTOP_FORM_ID) == seeded + 1
        body = api(again, f"form/submission/{submission_id}", token).json()
        assert body["answers"][0]["textAnswer"] == "torbra@oslomet.no"
        next_id = submit(again, "laptop", {"answers": {"feide": "sigkva@oslomet.no"}}).json()["submissionId"]
        assert next_id == submission_id + 1
    finally:
        again.stop()
