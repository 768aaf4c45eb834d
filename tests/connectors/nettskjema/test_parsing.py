"""Pure parsing units (httpx.MockTransport): payload variants the sandbox never sends but the
real service may — answers without external ids, time-only dates, numbers with thousands
separators, malformed lines — and that no error message echoes an answer value."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from connectors.nettskjema import NettskjemaConfig, NettskjemaForms
from hub.errors import ConfigError, InvalidInput, MalformedResponse

FNR = "12449921257"  # synthetic (month +40)
META = {"formId": 1, "submissionId": 77, "answerTime": 1000, "createdDate": "2026-11-20T08:15:02Z",
        "modifiedDate": None, "anonymous": False, "person": {"name": None, "email": None}}
ELEMENTS = [{"elementId": 10, "externalElementId": "grid", "elementType": "MATRIX_RADIO",
             "subElements": [{"subElementId": 501, "externalElementId": "row_a"},
                             {"subElementId": 502, "externalElementId": None}]}]


def answer(**fields: Any) -> dict[str, Any]:
    return {"submissionId": 77, "answerId": 1, "answerOptionIds": [], "externalAnswerOptionIds": [], **fields}


def make(routes: dict[str, Any], calls: list[str], token: Any = None) -> NettskjemaForms:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/oauth2/token":
            return token if isinstance(token, httpx.Response) else httpx.Response(
                200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        body = routes.get(request.url.path)
        if body is None:
            return httpx.Response(404, json={"message": "nope"})
        if isinstance(body, str):
            return httpx.Response(200, text=body, headers={"content-type": "application/x-ndjson"})
        return httpx.Response(200, json=body)

    config = NettskjemaConfig(base_url="http://ns.test/api/v3", token_url="http://ns.test/oauth2/token",
                              client_id="c", client_secret=SecretStr("s"), max_attempts=1)
    return NettskjemaForms(config, transport=httpx.MockTransport(handler))


async def test_real_service_variants_decode() -> None:
    answers = [
        answer(elementId=9, externalElementId=None, elementType="QUESTION", textAnswer="uten id"),
        answer(elementId=10, externalElementId="grid", elementType="MATRIX_RADIO", answerOptionIds=[7],
               externalAnswerOptionIds=[None], subElementId=501),
        answer(elementId=10, externalElementId="grid", elementType="MATRIX_RADIO", answerOptionIds=[8],
               externalAnswerOptionIds=["b"], subElementId=502),
        answer(elementId=11, externalElementId="time", elementType="DATE", textAnswer="12:00"),
        answer(elementId=12, externalElementId="when", elementType="DATE", textAnswer="12.06.2023 13:33"),
        answer(elementId=13, externalElementId="amount", elementType="NUMBER", textAnswer="1 234,5"),
        answer(elementId=14, externalElementId="file", elementType="ATTACHMENT", textAnswer="sølvi.png",
               answerAttachmentId=538819, filename="sølvi.png", mediaType="image/png", size=628613),
    ]
    calls: list[str] = []
    routes = {"/api/v3/form/submission/77": {"submissionMetadata": META, "answers": answers},
              "/api/v3/form/1/elements": ELEMENTS}
    async with make(routes, calls) as forms:
        sub = await forms.get_submission(77)
        await forms.get_submission(77)
    assert sub.meta.created == datetime(2026, 11, 20, 9, 15, 2, tzinfo=ZoneInfo("Europe/Oslo"))
    assert sub.answer("9").text == "uten id"  # type: ignore[union-attr]
    assert [(a.sub_element, a.options) for a in sub.all("grid")] == [("row_a", ("7",)), ("502", ("b",))]
    assert sub.answer("time").date is None and sub.answer("time").text == "12:00"  # type: ignore[union-attr]
    assert sub.answer("when").date == date(2023, 6, 12)  # type: ignore[union-attr]
    assert sub.answer("amount").number == Decimal("1234.5")  # type: ignore[union-attr]
    assert sub.attachments[0].attachment_id == 538819 and sub.attachments[0].filename == "sølvi.png"
    assert calls.count("/api/v3/form/1/elements") == 1  # row names cached per form
    assert calls.count("/oauth2/token") == 1


@pytest.mark.parametrize(("bad", "field"), [
    ({"elementType": "DATE", "externalElementId": "completed", "textAnswer": "31.02.2024"}, "answers[completed]"),
    ({"elementType": "DATE", "externalElementId": "completed", "textAnswer": f"født {FNR}"}, "answers[completed]"),
    ({"elementType": "NUMBER", "externalElementId": "credits", "textAnswer": FNR + ",x"}, "answers[credits]"),
])
async def test_undecodable_answer_names_the_field_never_the_value(bad: dict[str, Any], field: str) -> None:
    answers = [answer(elementId=1, externalElementId="fnr", elementType="QUESTION", textAnswer=FNR),
               answer(elementId=2, **bad)]
    async with make({"/api/v3/form/submission/77": {"submissionMetadata": META, "answers": answers}}, []) as forms:
        with pytest.raises(InvalidInput) as caught:
            await forms.get_submission(77)
    text = str(caught.value)
    assert field in text and "submission 77" in text
    assert FNR not in text and bad["textAnswer"] not in text


async def test_malformed_metadata_line_names_the_field() -> None:
    lines = json.dumps(META) + "\n" + json.dumps({**META, "submissionId": None}) + "\n"
    async with make({"/api/v3/form/1/submission-metadata": lines}, []) as forms:
        seen = []
        with pytest.raises(InvalidInput) as caught:
            async for meta in forms.submissions_after(1, None):
                seen.append(meta.submission_id)
    assert seen == [77]
    assert "submissionId" in caught.value.message and "form 1" in caught.value.message


async def test_malformed_created_date_names_the_field() -> None:
    body = {"submissionMetadata": {**META, "createdDate": f"{FNR}"}, "answers": []}
    async with make({"/api/v3/form/submission/77": body}, []) as forms:
        with pytest.raises(InvalidInput) as caught:
            await forms.get_submission(77)
    assert "submissionMetadata.createdDate" in caught.value.message and FNR not in str(caught.value)


async def test_token_response_without_access_token_is_malformed_and_retried() -> None:
    """A 200 without a token is a garbled answer (a proxy, a fault on the wire): transient, tried
    again — not a permanent error that failed a whole batch run on one bad answer."""
    token = httpx.Response(200, json={"token_type": "Bearer"})
    async with make({"/api/v3/form/me": []}, [], token=token) as forms:
        with pytest.raises(MalformedResponse) as caught:
            await forms.list_forms()
    assert "access_token" in caught.value.message and "TOKEN_URL" in caught.value.hint

    answers = iter([httpx.Response(200, json=[]), httpx.Response(200, json={
        "access_token": "t", "token_type": "Bearer", "expires_in": 3600})])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return next(answers)
        return httpx.Response(200, json=[])

    config = NettskjemaConfig(base_url="http://ns.test/api/v3", token_url="http://ns.test/oauth2/token",
                              client_id="c", client_secret=SecretStr("s"), max_attempts=2)
    async with NettskjemaForms(config, transport=httpx.MockTransport(handler)) as forms:
        assert await forms.list_forms() == []


async def test_token_grant_refused_is_a_config_error() -> None:
    token = httpx.Response(400, json={"error": "unsupported_grant_type"})
    async with make({"/api/v3/form/me": []}, [], token=token) as forms:
        with pytest.raises(ConfigError) as caught:
            await forms.list_forms()
    assert "unsupported_grant_type" in caught.value.message and "TOKEN_URL" in caught.value.hint
