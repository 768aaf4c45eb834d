"""Pydantic models of the Nettskjema API v3 payloads (field names as Nettskjema spells them)
and their decoding into :mod:`hub.ports.forms` models.

Tolerant where the real service varies: extra fields are ignored; an answer without
``externalElementId`` is keyed by its numeric ``elementId``; an option without an external
id by its ``answerOptionId``; a matrix row by ``externalSubElementId`` when present, else
by the element's ``subElements`` (looked up from ``form/{id}/elements``), else by its
numeric ``subElementId``; attachment fields may sit on the answer or in ``attachment``.

Decoding: DATE ``"01.06.2023"`` (also ``"12.06.2023 13:33"``; a time-only ``"12:00"``
keeps just the text) → ``date``; NUMBER ``"4,5"`` (decimal comma, spaces as thousands
separators) → ``Decimal``; LINEAR_SCALE → ``Decimal`` as well; ``createdDate``/
``modifiedDate`` without an offset → Europe/Oslo, always timezone-aware.
A value that does not decode raises :class:`AnswerError` naming the element and the
problem — never the value, which may hold a fødselsnummer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from hub.ports.forms import Answer, AttachmentRef, FormInfo, Submission, SubmissionMeta

__all__ = [
    "OSLO", "AnswerError", "oslo_time", "RawPerson", "RawSubmissionMetadata", "RawAttachment", "RawAnswer",
    "RawSubmission", "RawForm", "RawSubElement", "RawElement", "to_meta", "to_answer", "to_submission",
    "to_form_info", "decode_date", "decode_number", "sub_element_names",
]

OSLO = ZoneInfo("Europe/Oslo")

_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?")
_TIME_ONLY = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
_SPACES = re.compile(r"[\s\u00a0\u202f']")


class AnswerError(ValueError):
    """An answer value that does not decode; ``field`` names it, the value is never kept."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


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
    answers: list[RawAnswer] = Field(default_factory=list)


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
    """``subElementId`` → the row's external id, for answers that carry only the number."""
    return {s.subElementId: s.externalElementId for e in elements for s in e.subElements if s.externalElementId}


def decode_date(text: str, field: str) -> date | None:
    """``dd.mm.yyyy`` (optionally with a time) or ``yyyy-mm-dd`` → date; a time alone → None."""
    value = text.strip()
    if _TIME_ONLY.fullmatch(value):
        return None
    if match := _DMY.fullmatch(value):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO_DATE.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise AnswerError(field, "expected a date as dd.mm.yyyy")
    try:
        return date(year, month, day)
    except ValueError:
        raise AnswerError(field, "not a calendar date") from None


def decode_number(text: str, field: str) -> Decimal:
    """Norwegian number text (``"4,5"``, ``"1 234,5"``, ``"77"``) → Decimal."""
    value = _SPACES.sub("", text)
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AnswerError(field, "expected a number like 4,5") from None
    if not number.is_finite():
        raise AnswerError(field, "expected a finite number")
    return number


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


def to_answer(raw: RawAnswer, rows: Mapping[int, str] | None = None) -> Answer:
    """One answer record → :class:`~hub.ports.forms.Answer` (or :class:`AnswerError`)."""
    kind = raw.elementType.upper()
    field = f"answers[{raw.key}]"
    text = raw.textAnswer
    fields: dict[str, Any] = {"external_id": raw.key, "element_type": kind, "options": _options(raw)}
    if kind == "ATTACHMENT" or raw.answerAttachmentId is not None or raw.attachment is not None:
        fields["attachment"] = _attachment(raw, field)
    elif kind == "DATE" and text:
        fields.update(text=text, date=decode_date(text, field))
    elif kind in ("NUMBER", "LINEAR_SCALE") and text:
        fields.update(text=text, number=decode_number(text, field))
    else:
        fields["text"] = text
    if raw.subElementId is not None or raw.externalSubElementId:
        fields["sub_element"] = (raw.externalSubElementId
                                 or (rows or {}).get(raw.subElementId or -1)
                                 or str(raw.subElementId))
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
