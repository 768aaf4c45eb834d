"""Pydantic models of the Nettskjema API v3 payloads (field names as Nettskjema spells them)
and their decoding into :mod:`hub.ports.forms` models.

Tolerant where the real service varies: extra fields are ignored; an answer without
``externalElementId`` is keyed by its numeric ``elementId``; an option without an external
id by its ``answerOptionId``; option answers carry no ``textAnswer``; a matrix row by
``externalSubElementId`` when present, else by the element's ``subElements`` (looked up from
``form/{id}/elements``; a row its author gave no external id is keyed by its numeric
``subElementId``); attachment fields may sit on the answer or in ``attachment``.

Strict where a wrong value would pass silently: a submission without an ``answers`` list
(the older API's ``formAnswers``) does not fit :class:`RawSubmission`; an answer with neither
``externalElementId`` nor ``elementId``, a matrix answer without a row, or a row the form's
elements do not know, raises :class:`AnswerError`.

Decoding (:mod:`connectors.nettskjema.values`): DATE ``"01.06.2023"`` → ``date``, ``"12:00"``
→ ``time``, ``"12.06.2023 13:33"`` → ``date_time`` (Europe/Oslo) with its ``date`` and
``time`` (TIME and DATE_TIME element types too); NUMBER ``"4,5"`` (decimal comma, spaces as
thousands separators) → ``Decimal``; LINEAR_SCALE → ``Decimal`` as well;
``createdDate``/``modifiedDate`` without an offset → Europe/Oslo, always timezone-aware.
A value that does not decode raises :class:`AnswerError` naming the element and the
problem — never the value, which may hold a fødselsnummer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from connectors.nettskjema.values import (
    DATE_KINDS,
    OSLO,
    AnswerError,
    decode_date,
    decode_number,
    decode_when,
)
from hub.ports.forms import Answer, AttachmentRef, FormInfo, Submission, SubmissionMeta

__all__ = [
    "OSLO", "AnswerError", "oslo_time", "RawPerson", "RawSubmissionMetadata", "RawAttachment", "RawAnswer",
    "RawSubmission", "RawForm", "RawSubElement", "RawElement", "to_meta", "to_answer", "to_submission",
    "to_form_info", "decode_date", "decode_number", "decode_when", "sub_element_names", "MATRIX_KINDS",
]

MATRIX_KINDS = frozenset({"MATRIX_RADIO", "MATRIX_CHECKBOX"})


def oslo_time(value: Any) -> Any:
    """``"2023-06-01T20:57:15"`` (Oslo wall time) → aware datetime; an offset is respected."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected a local date-time like 2023-06-01T20:57:15") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=OSLO) if value.tzinfo is None else value.astimezone(OSLO)
    raise ValueError("expected a local date-time like 2023-06-01T20:57:15")


OsloTime = Annotated[datetime, BeforeValidator(oslo_time)]
OptionalOsloTime = Annotated[datetime | None, BeforeValidator(oslo_time)]


class NsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RawPerson(NsModel):
    name: str | None = None
    email: str | None = None


class RawSubmissionMetadata(NsModel):
    """One ``submission-metadata`` line, or ``submissionMetadata`` of a submission."""

    formId: int
    submissionId: int
    createdDate: OsloTime
    modifiedDate: OptionalOsloTime = None
    answerTime: int | None = None
    person: RawPerson | None = None


class RawAttachment(NsModel):
    answerAttachmentId: int
    filename: str
    mediaType: str = "application/octet-stream"
    size: int = 0


class RawAnswer(NsModel):
    elementId: int | None = None
    externalElementId: str | None = None
    elementType: str = "UNKNOWN"
    textAnswer: str | None = None
    answerOptionIds: list[int] = Field(default_factory=list)
    externalAnswerOptionIds: list[str | None] = Field(default_factory=list)
    subElementId: int | None = None
    externalSubElementId: str | None = None
    answerAttachmentId: int | None = None
    filename: str | None = None
    mediaType: str | None = None
    size: int | None = None
    attachment: RawAttachment | None = None

    @property
    def key(self) -> str:
        return self.externalElementId or str(self.elementId)


class RawSubmission(NsModel):
    """``GET form/submission/{id}``."""

    submissionMetadata: RawSubmissionMetadata
    answers: list[RawAnswer]  # required: the older API's ``formAnswers`` is not an empty submission


class RawForm(NsModel):
    """One entry of ``GET form/me``."""

    formId: int
    title: str = ""
    openFrom: OptionalOsloTime = None
    openTo: OptionalOsloTime = None
    numberOfDeliveredSubmissions: int | None = None


class RawSubElement(NsModel):
    subElementId: int
    externalElementId: str | None = None


class RawElement(NsModel):
    """One entry of ``GET form/{id}/elements`` (only what decoding needs)."""

    elementId: int | None = None
    externalElementId: str | None = None
    elementType: str = "UNKNOWN"
    subElements: list[RawSubElement] = Field(default_factory=list)


def sub_element_names(elements: list[RawElement]) -> dict[int, str]:
    """``subElementId`` → the row's external id (its number when the author set none), for
    answers that carry only the number. Every row of the form is in it."""
    return {s.subElementId: s.externalElementId or str(s.subElementId) for e in elements for s in e.subElements}


def _options(raw: RawAnswer) -> tuple[str, ...]:
    chosen: list[str] = []
    for index, option_id in enumerate(raw.answerOptionIds):
        external = raw.externalAnswerOptionIds[index] if index < len(raw.externalAnswerOptionIds) else None
        chosen.append(external or str(option_id))
    extra = raw.externalAnswerOptionIds[len(raw.answerOptionIds):]
    chosen.extend(e for e in extra if e)
    return tuple(chosen)


def _attachment(raw: RawAnswer, field: str) -> AttachmentRef:
    if raw.attachment is not None:
        a = raw.attachment
        return AttachmentRef(attachment_id=a.answerAttachmentId, filename=a.filename,
                             media_type=a.mediaType, size=a.size)
    if raw.answerAttachmentId is None:
        raise AnswerError(field, "ATTACHMENT answer without answerAttachmentId")
    return AttachmentRef(attachment_id=raw.answerAttachmentId, filename=raw.filename or raw.textAnswer or "",
                         media_type=raw.mediaType or "application/octet-stream", size=raw.size or 0)


def _row(raw: RawAnswer, rows: Mapping[int, str] | None, field: str) -> str | None:
    """The matrix row an answer belongs to, by its external id; None for a non-matrix answer."""
    if raw.externalSubElementId:
        return raw.externalSubElementId
    if raw.subElementId is None:
        if raw.elementType.upper() in MATRIX_KINDS:
            raise AnswerError(field, f"{raw.elementType.upper()} answer without subElementId (its row)")
        return None
    name = (rows or {}).get(raw.subElementId)
    if name is None:
        raise AnswerError(field, f"matrix row subElementId {raw.subElementId} is not among the form's elements")
    return name


def to_answer(raw: RawAnswer, rows: Mapping[int, str] | None = None) -> Answer:
    """One answer record → :class:`~hub.ports.forms.Answer` (or :class:`AnswerError`).

    ``rows`` maps ``subElementId`` → row name (:func:`sub_element_names`); a matrix answer
    without ``externalSubElementId`` needs it."""
    kind = raw.elementType.upper()
    if raw.externalElementId is None and raw.elementId is None:
        raise AnswerError(f"answers[{kind}]", "answer without externalElementId or elementId")
    field = f"answers[{raw.key}]"
    text = raw.textAnswer
    fields: dict[str, Any] = {"external_id": raw.key, "element_type": kind, "options": _options(raw)}
    if kind == "ATTACHMENT" or raw.answerAttachmentId is not None or raw.attachment is not None:
        fields["attachment"] = _attachment(raw, field)
    elif kind in DATE_KINDS and text:
        when = decode_when(text, field, kind)
        fields.update(text=text, date=when.date, time=when.time, date_time=when.date_time)
    elif kind in ("NUMBER", "LINEAR_SCALE") and text:
        fields.update(text=text, number=decode_number(text, field))
    else:
        fields["text"] = text
    fields["sub_element"] = _row(raw, rows, field)
    return Answer(**fields)


def to_meta(raw: RawSubmissionMetadata) -> SubmissionMeta:
    return SubmissionMeta(form_id=raw.formId, submission_id=raw.submissionId, created=raw.createdDate,
                          modified=raw.modifiedDate)


def to_submission(raw: RawSubmission, rows: Mapping[int, str] | None = None) -> Submission:
    person = raw.submissionMetadata.person or RawPerson()
    return Submission(meta=to_meta(raw.submissionMetadata),
                      answers=tuple(to_answer(a, rows) for a in raw.answers),
                      respondent_name=person.name or None, respondent_email=person.email or None)


def to_form_info(raw: RawForm) -> FormInfo:
    return FormInfo(form_id=raw.formId, title=raw.title, open_from=raw.openFrom, open_to=raw.openTo,
                    submissions=raw.numberOfDeliveredSubmissions)
