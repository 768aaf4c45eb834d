"""The forms port's answer values and the Nettskjema decoding behind them (pure; no HTTP):
dates, times of day and date-times keep what was typed as a typed value, and anything that
does not fit is an error naming the element, never a silent wrong value."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.nettskjema.models import RawAnswer, RawSubmission, to_answer
from connectors.nettskjema.values import OSLO, AnswerError, decode_when
from hub.ports.forms import Answer

FNR = "12449921257"  # synthetic (month +40)


def decoded(element_type: str, text: str, **extra: Any) -> Answer:
    return to_answer(RawAnswer(elementId=7, externalElementId="when", elementType=element_type, textAnswer=text,
                               **extra))


def test_a_date_time_answer_keeps_its_time_of_day_in_oslo() -> None:
    answer = decoded("DATE", "12.06.2023 13:33")
    assert answer.date_time == datetime(2023, 6, 12, 13, 33, tzinfo=OSLO)
    assert answer.date_time is not None and answer.date_time.utcoffset() == timedelta(hours=2)
    assert (answer.date, answer.time, answer.text) == (date(2023, 6, 12), time(13, 33), "12.06.2023 13:33")
    winter = decoded("DATE_TIME", "05.01.2024 08:15")
    assert winter.date_time is not None and winter.date_time.astimezone(UTC) == datetime(2024, 1, 5, 7, 15, tzinfo=UTC)


def test_a_date_answer_is_a_date_only() -> None:
    answer = decoded("DATE", "01.06.2023")
    assert (answer.date, answer.time, answer.date_time) == (date(2023, 6, 1), None, None)
    assert decoded("DATE", "2023-06-01").date == date(2023, 6, 1)


@pytest.mark.parametrize("element_type", ["DATE", "TIME"])
def test_a_time_answer_is_a_typed_time_of_day(element_type: str) -> None:
    answer = decoded(element_type, "12:00")
    assert (answer.time, answer.date, answer.date_time, answer.text) == (time(12, 0), None, None, "12:00")
    assert answer.element_type == element_type


def test_autumn_wall_time_passed_twice_is_the_first_and_a_skipped_one_is_refused() -> None:
    autumn = decode_when("25.10.2026 02:30", "f")
    assert autumn.date_time is not None and autumn.date_time.utcoffset() == timedelta(hours=2)
    with pytest.raises(AnswerError) as caught:
        decode_when("29.03.2026 02:30", "answers[when]")
    assert caught.value.field == "answers[when]" and "skip" in caught.value.reason


@pytest.mark.parametrize(("element_type", "text", "reason"), [
    ("TIME", "01.06.2023", "expected a time as hh:mm"),
    ("DATE_TIME", "01.06.2023", "expected a date and time"),
    ("DATE_TIME", "13:33", "expected a date and time"),
    ("DATE", "12.06.2023 25:00", "not a time of day"),
    ("DATE", "12.06.2023 13:33 i morgen", "expected a date"),
    ("DATE", "2023-06-12 garbage", "expected a date"),
    ("DATE", "31.02.2024 10:00", "not a calendar date"),
    ("DATE", f"{FNR[:2]}.{FNR[2:4]}.{FNR[4:8]} {FNR[8:]}", "expected a date"),
])
def test_a_date_or_time_that_does_not_fit_names_the_element_never_the_value(element_type: str, text: str,
                                                                              reason: str) -> None:
    with pytest.raises(AnswerError) as caught:
        decoded(element_type, text)
    assert caught.value.field == "answers[when]" and reason in caught.value.reason
    assert text not in str(caught.value)


def test_the_port_refuses_a_naive_date_time() -> None:
    with pytest.raises(ValidationError):
        Answer(external_id="when", element_type="DATE", date_time=datetime(2023, 6, 12, 13, 33))


def test_a_submission_without_answers_does_not_fit() -> None:
    meta = {"formId": 1, "submissionId": 2, "createdDate": "2023-06-01T20:57:15"}
    with pytest.raises(ValidationError):
        RawSubmission.model_validate({"submissionMetadata": meta, "formAnswers": []})
    assert RawSubmission.model_validate({"submissionMetadata": meta, "answers": []}).answers == []


def test_option_answers_need_no_text_and_matrix_rows_must_be_known() -> None:
    radio = to_answer(RawAnswer(elementId=1, externalElementId="radio", elementType="RADIO", answerOptionIds=[5],
                                externalAnswerOptionIds=["yes"]))
    assert (radio.options, radio.text) == (("yes",), None)
    row = RawAnswer(elementId=2, externalElementId="grid", elementType="MATRIX_RADIO", answerOptionIds=[5],
                    externalAnswerOptionIds=["yes"], subElementId=88)
    assert to_answer(row, {88: "bachelor"}).sub_element == "bachelor"
    with pytest.raises(AnswerError, match="subElementId 88 is not among"):
        to_answer(row, {89: "master"})
    with pytest.raises(AnswerError, match="without subElementId"):
        to_answer(RawAnswer(elementId=2, externalElementId="grid", elementType="MATRIX_CHECKBOX"))
    with pytest.raises(AnswerError, match="without externalElementId or elementId"):
        to_answer(RawAnswer(elementType="QUESTION", textAnswer="x"))
