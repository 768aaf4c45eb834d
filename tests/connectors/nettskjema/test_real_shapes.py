"""NettskjemaForms over HTTP against the sandbox serving the real v3 API's shapes: error bodies
``{"message"}``, option answers without ``textAnswer``, matrix rows named only in
``/elements`` (with page breaks whose ``elementId`` is null), gzip, a file without a
Content-Type, date/time answers — and the shapes it must refuse, each named in the error."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from hub.errors import ConfigError, InvalidInput, NotFound
from sandbox.common import control_headers
from sandbox.nettskjema.forms import EVENT_FORM_ID, FRITAK_FORM_ID, LAPTOP_FORM_ID, UNSHARED_FORM_ID
from sandbox.procs import Proc
from tests.connectors.nettskjema.conftest import MakeForms, arm_fault, stats, submit

OSLO_SUMMER = timedelta(hours=2)


def raw_submission(proc: Proc, submission_id: int) -> dict[str, Any]:
    """The body the sandbox serves, read with a token of our own (to show the shape the connector gets)."""
    token = httpx.post(proc.extra["token_url"], auth=(proc.extra["client_id"], proc.extra["client_secret"]),
                       data={"grant_type": "client_credentials"}, timeout=5).json()["access_token"]
    response = httpx.get(f"{proc.extra['base_url']}/form/submission/{submission_id}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return dict(response.json())


async def first_id(make_forms: MakeForms, form_id: int, index: int = 0) -> int:
    async with make_forms() as forms:
        return [m.submission_id async for m in forms.submissions_after(form_id, None)][index]


async def test_the_message_of_an_error_body_reaches_the_operator(make_forms: MakeForms) -> None:
    async with make_forms() as forms:
        with pytest.raises(NotFound) as missing:
            await forms.get_submission(10**9)
        with pytest.raises(ConfigError) as unshared:
            await forms.submissions_after(UNSHARED_FORM_ID, None).__anext__()
    assert f"Fant ikke innsending {10**9}" in missing.value.message
    assert "har ikke tilgang til skjema" in unshared.value.message and unshared.value.status == 403


async def test_option_answers_without_text_decode(nettskjema: Proc, make_forms: MakeForms) -> None:
    first = await first_id(make_forms, LAPTOP_FORM_ID)
    served = {a["externalElementId"]: a for a in raw_submission(nettskjema, first)["answers"]}
    assert "textAnswer" not in served["model"] and "textAnswer" not in served["location"]
    async with make_forms() as forms:
        sub = await forms.get_submission(first)
    model, location = sub.answer("model"), sub.answer("location")
    assert model is not None and (model.options, model.text) == (("thinkpad-t14",), None)
    assert location is not None and location.options == ("pilestredet",)


async def test_matrix_rows_are_named_through_elements_with_page_breaks(nettskjema: Proc,
                                                                        make_forms: MakeForms) -> None:
    third = await first_id(make_forms, FRITAK_FORM_ID, 2)
    served = [a for a in raw_submission(nettskjema, third)["answers"] if a["externalElementId"] == "level"]
    assert served and all("externalSubElementId" not in a and isinstance(a["subElementId"], int) for a in served)
    async with make_forms() as forms:
        sub = await forms.get_submission(third)
        laptop = await forms.get_submission(await first_id(make_forms, LAPTOP_FORM_ID))
    assert {a.sub_element: a.options for a in sub.all("level")} == {"bachelor": ("yes",), "master": ("no",)}
    assert {a.sub_element: a.options for a in laptop.all("accessories")} == {"dock": ("yes",), "headset": ("yes",)}


async def test_gzip_answers_are_read(nettskjema: Proc, make_forms: MakeForms) -> None:
    before = stats(nettskjema).get("gzip_responses", 0)
    async with make_forms() as forms:
        listed = await forms.list_forms()
        ids = [m.submission_id async for m in forms.submissions_after(FRITAK_FORM_ID, None)]
        sub = await forms.get_submission(ids[0])
    assert len(listed) == 4 and len(ids) >= 6 and sub.answer("name") is not None
    assert stats(nettskjema)["gzip_responses"] >= before + 4  # form/me, the stream, the submission, elements


async def test_a_file_without_a_content_type_is_the_file(nettskjema: Proc, make_forms: MakeForms) -> None:
    content = b"%PDF-1.4 karakterutskrift " + bytes(range(256)) * 8
    added = submit(nettskjema, "fritak", {"answers": {"name": "Ola Nordmann"}, "attachments": {"attachment_1": [
        {"filename": "karakterutskrift.pdf", "mediaType": "application/pdf", "servedWithoutContentType": True,
         "contentBase64": base64.b64encode(content).decode()}]}})
    second = await first_id(make_forms, FRITAK_FORM_ID, 1)
    async with make_forms() as forms:
        (ref,) = (await forms.get_submission(added)).attachments
        assert ref.media_type == "application/pdf"
        assert await forms.get_attachment(ref.attachment_id) == content
        seeded = [r for r in (await forms.get_submission(second)).attachments if r.filename == "karakterutskrift.pdf"]
        assert len(seeded) == 1 and (await forms.get_attachment(seeded[0].attachment_id)).startswith(b"%PDF")


async def test_date_time_and_time_answers_are_typed(nettskjema: Proc, make_forms: MakeForms) -> None:
    assert httpx.post(f"{nettskjema.url}/_sandbox/forms/fagdag/grants", headers=control_headers(),
                      json={"clientId": nettskjema.extra["client_id"]}, timeout=5).status_code == 201
    added = submit(nettskjema, "fagdag", {"answers": {
        "name": "Kari Nordmann", "track": "drift", "day": "12.06.2026", "lunch": "11:30",
        "arrival": "12.06.2026 08:05", "sessions": {"morgen": "ja"}}})
    async with make_forms() as forms:
        sub = await forms.get_submission(added)
    arrival, lunch, day = sub.answer("arrival"), sub.answer("lunch"), sub.answer("day")
    assert arrival is not None and arrival.date_time == datetime.fromisoformat("2026-06-12T08:05:00+02:00")
    assert arrival.date_time is not None and arrival.date_time.utcoffset() == OSLO_SUMMER
    assert (arrival.date, arrival.time, arrival.text) == (date(2026, 6, 12), time(8, 5), "12.06.2026 08:05")
    assert lunch is not None and (lunch.time, lunch.date, lunch.date_time) == (time(11, 30), None, None)
    assert day is not None and (day.date, day.time, day.date_time) == (date(2026, 6, 12), None, None)
    assert [(a.sub_element, a.options) for a in sub.all("sessions")] == [("morgen", ("ja",))]
    assert sub.meta.form_id == EVENT_FORM_ID


def _served_as(proc: Proc, submission_id: int, body: dict[str, Any]) -> None:
    """The next answer to ``form/submission/{id}`` is ``body`` (200, JSON): a peer's other shape."""
    arm_fault(proc, path=f"/api/v3/form/submission/{submission_id}", kind="malformed", count=1,
              body=json.dumps(body))


@pytest.mark.parametrize(("reshape", "named"), [
    (lambda b: {"submissionMetadata": b["submissionMetadata"], "formAnswers": b["answers"]}, "'formAnswers'"),
    (lambda b: {"submissionMetadata": b["submissionMetadata"]}, "no 'answers' list (its keys: submissionMetadata)"),
    (lambda b: {**b, "answers": None}, "its 'answers' is null, not a list"),
])
async def test_a_submission_without_answers_is_an_error_naming_the_shape(
        nettskjema: Proc, make_forms: MakeForms, reshape: Any, named: str) -> None:
    first = await first_id(make_forms, FRITAK_FORM_ID)
    _served_as(nettskjema, first, reshape(raw_submission(nettskjema, first)))
    async with make_forms() as forms:
        with pytest.raises(InvalidInput) as caught:
            await forms.get_submission(first)
        assert (await forms.get_submission(first)).answer("name") is not None  # the real shape still reads
    assert named in caught.value.message and f"submission {first}" in caught.value.message
    assert "BASE_URL" in caught.value.hint


async def test_a_matrix_row_the_elements_do_not_know_is_an_error(nettskjema: Proc, make_forms: MakeForms) -> None:
    third = await first_id(make_forms, FRITAK_FORM_ID, 2)
    body = raw_submission(nettskjema, third)
    level = next(a for a in body["answers"] if a["externalElementId"] == "level")
    level["subElementId"] = 999_999
    _served_as(nettskjema, third, body)
    async with make_forms() as forms:
        with pytest.raises(InvalidInput) as caught:
            await forms.get_submission(third)
    assert "answers[level]" in caught.value.message and "subElementId 999999" in caught.value.message


async def test_elements_that_are_not_a_list_are_an_error(nettskjema: Proc, make_forms: MakeForms) -> None:
    third = await first_id(make_forms, FRITAK_FORM_ID, 2)
    arm_fault(nettskjema, path=f"/api/v3/form/{FRITAK_FORM_ID}/elements", kind="malformed", count=1,
              body=json.dumps({"elements": []}))
    async with make_forms() as forms:
        with pytest.raises(InvalidInput) as caught:
            await forms.get_submission(third)
    assert f"form {FRITAK_FORM_ID} elements" in caught.value.message and "not an array" in caught.value.message
