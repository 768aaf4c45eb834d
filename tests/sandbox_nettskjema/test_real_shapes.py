"""The sandbox serves what nettskjema.no serves (the shapes recorded against the real v3 API):
``{"message"}`` error bodies, page breaks and texts among the elements, date formats, gzip,
and a file download without a Content-Type."""

from __future__ import annotations

import base64
import gzip

import httpx

from sandbox.common import control_headers
from sandbox.nettskjema.forms import EVENT_FORM_ID, FRITAK_FORM_ID, UNSHARED_FORM_ID
from sandbox.procs import Proc
from tests.sandbox_nettskjema.conftest import api, stats, submit


def test_errors_answer_only_a_message(nettskjema: Proc, token: str) -> None:
    for path, status in ((f"form/submission/{10**9}", 404), ("form/999/elements", 404),
                         (f"form/{UNSHARED_FORM_ID}/elements", 403), ("no/such/route", 404)):
        response = api(nettskjema, path, token)
        assert response.status_code == status, path
        assert list(response.json()) == ["message"] and response.json()["message"], path
    assert api(nettskjema, f"form/submission/{10**9}", token).json() == {"message": f"Fant ikke innsending {10**9}"}


def test_injected_faults_answer_a_message_too(nettskjema: Proc, token: str) -> None:
    armed = httpx.post(f"{nettskjema.url}/_sandbox/faults", headers=control_headers(),
                       json={"path": "/api/v3/form/me", "status": 503, "count": 1}, timeout=5)
    assert armed.status_code == 201
    response = api(nettskjema, "form/me", token)
    assert response.status_code == 503 and list(response.json()) == ["message"]


def test_elements_hold_page_breaks_texts_and_images(nettskjema: Proc, token: str) -> None:
    elements = api(nettskjema, f"form/{FRITAK_FORM_ID}/elements", token).json()
    kinds = [e["elementType"] for e in elements]
    assert {"HEADING", "TEXT", "IMAGE", "PAGE_BREAK"} <= set(kinds)
    page_break = elements[kinds.index("PAGE_BREAK")]
    assert (page_break["elementId"], page_break["sequence"], page_break["externalElementId"]) == (None, None, None)
    after = elements[kinds.index("PAGE_BREAK") + 1]
    assert after["sequence"] == 1 and after["externalElementId"] == "level"  # numbered again on each page
    image = elements[kinds.index("IMAGE")]
    assert image["imageUrl"] and image["altText"] and image["externalElementId"] is None


def test_date_formats_of_the_event_form(nettskjema: Proc, token: str) -> None:
    granted = httpx.post(f"{nettskjema.url}/_sandbox/forms/fagdag/grants", headers=control_headers(),
                         json={"clientId": nettskjema.extra["client_id"]}, timeout=5)
    assert granted.status_code == 201
    elements = {e["externalElementId"]: e for e in api(nettskjema, f"form/{EVENT_FORM_ID}/elements", token).json()
                if e["externalElementId"]}
    assert [elements[k]["dateFormat"] for k in ("day", "lunch", "arrival")] == ["DATE", "TIME", "DATE_TIME"]
    assert {elements[k]["elementType"] for k in ("day", "lunch", "arrival")} == {"DATE"}
    created = submit(nettskjema, "fagdag", {"answers": {"day": "2026-06-12", "lunch": "11:30",
                                                        "arrival": "2026-06-12T08:05"}})
    assert created.status_code == 201, created.text
    answers = {a["externalElementId"]: a for a in
               api(nettskjema, f"form/submission/{created.json()['submissionId']}", token).json()["answers"]}
    assert [answers[k]["textAnswer"] for k in ("day", "lunch", "arrival")] == [
        "12.06.2026", "11:30", "12.06.2026 08:05"]
    refused = submit(nettskjema, "fagdag", {"answers": {"arrival": "12.06.2026"}})
    assert refused.status_code == 400 and "arrival: expected a date and time" in refused.json()["error"]


def test_json_and_ndjson_are_gzipped_when_asked(nettskjema: Proc, token: str) -> None:
    url = f"{nettskjema.extra['base_url']}/form/{FRITAK_FORM_ID}/submission-metadata"
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    before = stats(nettskjema).get("gzip_responses", 0)
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip" and "content-length" not in response.headers
    assert gzip.decompress(raw).decode().count("\n") >= 6
    plain = httpx.get(url, headers={**headers, "Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers and plain.text.count("\n") >= 6
    small = api(nettskjema, f"form/submission/{10**9}", token)  # httpx asks for gzip by default
    assert small.headers["content-encoding"] == "gzip" and small.json()["message"]
    assert stats(nettskjema)["gzip_responses"] == before + 2


def test_a_file_can_come_without_a_content_type(nettskjema: Proc, token: str) -> None:
    content = b"%PDF-1.4 uten innholdstype"
    created = submit(nettskjema, "fritak", {"answers": {"name": "Ola Nordmann"}, "attachments": {"attachment_1": [
        {"filename": "vitnemål.pdf", "mediaType": "application/pdf", "servedWithoutContentType": True,
         "contentBase64": base64.b64encode(content).decode()}]}})
    assert created.status_code == 201, created.text
    answer = next(a for a in api(nettskjema, f"form/submission/{created.json()['submissionId']}", token).json()[
        "answers"] if a["elementType"] == "ATTACHMENT")
    assert answer["mediaType"] == "application/pdf"  # recorded in the answer, not sent with the file
    download = api(nettskjema, f"form/submission/attachment/{answer['answerAttachmentId']}", token)
    assert download.status_code == 200 and download.content == content
    assert "content-type" not in download.headers and "content-encoding" not in download.headers
