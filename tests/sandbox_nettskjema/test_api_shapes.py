"""The sandbox's API v3 over real HTTP: element and answer shapes, NDJSON, files, PDFs, times."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pypdf
from stdnum.no import fodselsnummer

from sandbox.common import control_headers
from sandbox.nettskjema.forms import DOCX_MEDIA_TYPE, FORMS, FRITAK_FORM_ID, LAPTOP_FORM_ID
from sandbox.procs import Proc
from tests.sandbox_nettskjema.conftest import api, ndjson, row_names, submit

LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
OSLO = ZoneInfo("Europe/Oslo")


def metadata(proc: Proc, token: str, form_id: int) -> list[dict[str, Any]]:
    return ndjson(api(proc, f"form/{form_id}/submission-metadata", token))


def submission(proc: Proc, token: str, submission_id: int) -> dict[str, Any]:
    response = api(proc, f"form/submission/{submission_id}", token)
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_element(answers: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:
        grouped.setdefault(answer["externalElementId"], []).append(answer)
    return grouped


def test_elements_carry_ids_options_and_rows(nettskjema: Proc, token: str) -> None:
    elements = api(nettskjema, f"form/{LAPTOP_FORM_ID}/elements", token).json()
    assert elements[0]["elementType"] == "HEADING" and elements[0]["externalElementId"] is None
    by_id = {e["externalElementId"]: e for e in elements if e["externalElementId"]}
    assert list(by_id) == ["feide", "model", "location", "cost_centre", "justification", "needed_by",
                           "accessories", "current_satisfaction"]
    assert [o["externalAnswerOptionId"] for o in by_id["model"]["answerOptions"]] == [
        "thinkpad-t14", "macbook-air-13", "latitude-7450", "surface-laptop"]
    assert by_id["model"]["answerOptions"][3]["text"] == "Microsoft Surface Laptop 7"
    assert [r["externalElementId"] for r in by_id["accessories"]["subElements"]] == ["dock", "headset", "bag"]
    assert (by_id["current_satisfaction"]["minimumValue"], by_id["current_satisfaction"]["maximumValue"]) == (1, 5)
    assert by_id["location"]["elementType"] == "SELECT" and by_id["needed_by"]["elementType"] == "DATE"
    for element in FORMS[LAPTOP_FORM_ID].elements:
        assert element.element_id in {e["elementId"] for e in elements}


def test_submission_metadata_is_ndjson_with_local_times(nettskjema: Proc, token: str) -> None:
    form = next(f for f in api(nettskjema, "form/me", token).json() if f["formId"] == FRITAK_FORM_ID)
    lines = metadata(nettskjema, token, FRITAK_FORM_ID)
    assert len(lines) == form["numberOfDeliveredSubmissions"] == 6
    ids = [line["submissionId"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == 6
    for line in lines:
        assert line["formId"] == FRITAK_FORM_ID
        assert {"answerTime", "createdDate", "modifiedDate", "person"} <= set(line)
        assert LOCAL_TIME.fullmatch(line["createdDate"]), line["createdDate"]
    assert form["lastSubmissionDate"] == lines[-1]["createdDate"]


def test_answers_stream_has_one_line_per_answer(nettskjema: Proc, token: str) -> None:
    lines = ndjson(api(nettskjema, f"form/{LAPTOP_FORM_ID}/answers", token))
    per_submission = Counter(line["submissionId"] for line in lines)
    for meta in metadata(nettskjema, token, LAPTOP_FORM_ID):
        assert per_submission[meta["submissionId"]] == len(submission(nettskjema, token, meta["submissionId"])["answers"])
    assert {line["externalElementId"] for line in lines} >= {"feide", "model", "accessories"}


def test_laptop_answer_shapes(nettskjema: Proc, token: str) -> None:
    first = metadata(nettskjema, token, LAPTOP_FORM_ID)[0]["submissionId"]
    body = submission(nettskjema, token, first)
    assert body["submissionMetadata"]["submissionId"] == first
    assert body["submissionMetadata"]["person"] == {"name": "Sigrid Kværnø", "email": "sigkva@oslomet.no"}
    answers = by_element(body["answers"])
    assert all(a["submissionId"] == first and isinstance(a["answerId"], int) for a in body["answers"])
    assert answers["feide"][0]["textAnswer"] == "sigkva@oslomet.no"
    assert answers["feide"][0]["elementType"] == "QUESTION"
    model = answers["model"][0]
    assert (model["elementType"], model["externalAnswerOptionIds"]) == ("RADIO", ["thinkpad-t14"])
    assert model["answerOptionIds"] == [FORMS[LAPTOP_FORM_ID].element("model").options[0].option_id]  # type: ignore[union-attr]
    assert (answers["location"][0]["elementType"], answers["location"][0]["externalAnswerOptionIds"]) == (
        "SELECT", ["pilestredet"])
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", answers["needed_by"][0]["textAnswer"])
    names = row_names(nettskjema, token, LAPTOP_FORM_ID)
    rows = {names[a["subElementId"]]: a for a in answers["accessories"]}
    assert set(rows) == {"dock", "headset"}
    assert all("externalSubElementId" not in a for a in answers["accessories"])  # the real shape: a number only
    assert "textAnswer" not in model and "textAnswer" not in answers["accessories"][0]  # options carry no text
    assert all(a["elementType"] == "MATRIX_CHECKBOX" and a["externalAnswerOptionIds"] == ["yes"]
               and isinstance(a["subElementId"], int) for a in rows.values())
    assert answers["current_satisfaction"][0] == {**answers["current_satisfaction"][0],
                                                  "textAnswer": "3", "elementType": "LINEAR_SCALE"}


def test_fritak_answer_shapes_and_seed(nettskjema: Proc, token: str) -> None:
    bodies = [submission(nettskjema, token, m["submissionId"]) for m in metadata(nettskjema, token, FRITAK_FORM_ID)]
    answers = [by_element(b["answers"]) for b in bodies]
    fnrs = [a["fnr"][0]["textAnswer"] for a in answers]
    assert [fodselsnummer.is_valid(f) for f in fnrs] == [True, True, True, False, True, True]
    assert int(fnrs[2][0]) >= 4  # the D-nummer
    assert [len(a.get("attachment_1", [])) + len(a.get("attachment_2", [])) + len(a.get("attachment_3", []))
            for a in answers] == [1, 3, 2, 1, 0, 1]
    third = answers[2]
    assert third["credits"][0] == {**third["credits"][0], "textAnswer": "7,5", "elementType": "NUMBER"}
    assert third["completed"][0]["textAnswer"] == "24.01.2025"
    assert third["courses"][0]["externalAnswerOptionIds"] == ["ITPE3100"]
    assert answers[1]["courses"][0]["externalAnswerOptionIds"] == ["DATA1200", "MATA1000"]
    names = row_names(nettskjema, token, FRITAK_FORM_ID)
    level = {names[a["subElementId"]]: a["externalAnswerOptionIds"] for a in third["level"]}
    assert level == {"bachelor": ["yes"], "master": ["no"]}
    assert {a["elementType"] for a in third["level"]} == {"MATRIX_RADIO"}
    attachment = third["attachment_1"][0]
    assert attachment["elementType"] == "ATTACHMENT" and attachment["filename"] == "eksamensbevis.pdf"
    assert attachment["attachment"] == {k: attachment[k] for k in ("answerAttachmentId", "filename", "mediaType", "size")}
    assert answers[5]["attachment_1"][0]["mediaType"] == DOCX_MEDIA_TYPE
    assert "æ" in bodies[0]["submissionMetadata"]["person"]["name"] or "Ø" in bodies[0]["submissionMetadata"]["person"]["name"]


def test_attachment_bytes_and_content_type(nettskjema: Proc, token: str) -> None:
    for meta in metadata(nettskjema, token, FRITAK_FORM_ID):
        for answer in submission(nettskjema, token, meta["submissionId"])["answers"]:
            if answer["elementType"] != "ATTACHMENT":
                continue
            response = api(nettskjema, f"form/submission/attachment/{answer['answerAttachmentId']}", token)
            assert response.status_code == 200
            served = response.headers.get("content-type")
            assert served is None if answer["filename"] == "karakterutskrift.pdf" else (
                served.split(";")[0] == answer["mediaType"])
            assert len(response.content) == answer["size"]
            assert response.content[:4] == (b"%PDF" if answer["mediaType"] == "application/pdf" else b"PK\x03\x04")
    assert api(nettskjema, "form/submission/attachment/1", token).status_code == 404


def test_pdf_of_a_submission_holds_the_norwegian_text(nettskjema: Proc, token: str) -> None:
    created = submit(nettskjema, "fritak", {"answers": {
        "name": "Åshild Ærø-Øvergård", "grounds": "Fullført emnet – se vedlegg 😀 ŋ", "courses": ["MATA1000"],
        "credits": "7,5", "level": {"master": "yes"}}})
    assert created.status_code == 201, created.text
    response = api(nettskjema, f"form/submission/{created.json()['submissionId']}/pdf", token)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    for expected in ("Søknad om fritak", "Åshild Ærø-Øvergård", "Matematikk for ingeniørfag", "7,5",
                     "Masternivå: Ja", "Fullført emnet - se vedlegg"):
        assert expected in text, expected


def test_created_date_is_oslo_wall_time_without_offset(nettskjema: Proc, token: str) -> None:
    summer = submit(nettskjema, "laptop", {"answers": {"feide": "norstr@oslomet.no"},
                                           "createdDate": "2026-07-01T10:00:00+00:00"})
    winter = submit(nettskjema, "laptop", {"answers": {"feide": "norstr@oslomet.no"},
                                           "createdDate": "2026-12-01T10:00:00Z"})
    now = submit(nettskjema, "laptop", {"answers": {"feide": "norstr@oslomet.no"}})
    assert submission(nettskjema, token, summer.json()["submissionId"])["submissionMetadata"]["createdDate"] == (
        "2026-07-01T12:00:00")
    assert submission(nettskjema, token, winter.json()["submissionId"])["submissionMetadata"]["createdDate"] == (
        "2026-12-01T11:00:00")
    stamped = submission(nettskjema, token, now.json()["submissionId"])["submissionMetadata"]["createdDate"]
    assert LOCAL_TIME.fullmatch(stamped)
    local = datetime.fromisoformat(stamped).replace(tzinfo=OSLO)
    assert abs((datetime.now(OSLO) - local).total_seconds()) < 60


def test_fault_injection_answers_429_with_retry_after(nettskjema: Proc, token: str) -> None:
    armed = httpx.post(f"{nettskjema.url}/_sandbox/faults", headers=control_headers(),
                       json={"path": "/api/v3/form/me", "status": 429,
                                                                "count": 1, "retry_after": 2}, timeout=5)
    assert armed.status_code == 201
    first, second = api(nettskjema, "form/me", token), api(nettskjema, "form/me", token)
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert second.status_code == 200
