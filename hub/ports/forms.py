"""Forms port: submissions from a form service (Nettskjema first).

Answers are keyed by the element's *external id* (``externalElementId``), which the form
author sets and which does not change when questions are reordered — never by position.
Times without an offset from the form service are Europe/Oslo local time; here they are
always timezone-aware.

Date and time answers (Nettskjema's DATE element, whose ``dateFormat`` is DATE, TIME or
DATE_TIME; a TIME element type is read the same way) keep what was typed in ``text`` and
its typed value:

- a date, ``"01.06.2023"``: ``date``;
- a time, ``"12:00"``: ``time`` (Oslo wall-clock time of day; naive, since a time without a
  date has no offset);
- both, ``"12.06.2023 13:33"``: ``date_time`` (timezone-aware, Europe/Oslo), and its
  ``date`` and ``time`` as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = ["FormInfo", "SubmissionMeta", "AttachmentRef", "Answer", "Submission", "FormsPort"]


class FormInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    form_id: int
    title: str
    open_from: datetime | None = None
    open_to: datetime | None = None
    submissions: int | None = Field(None, description="numberOfDeliveredSubmissions")


class SubmissionMeta(BaseModel):
    """One line of ``submission-metadata``: enough to decide whether to fetch the rest."""

    model_config = ConfigDict(frozen=True)

    form_id: int
    submission_id: int
    created: datetime
    modified: datetime | None = None


class AttachmentRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    attachment_id: int
    filename: str
    media_type: str
    size: int


class Answer(BaseModel):
    """One answer, decoded: free text, chosen options, a date and/or time, a number or an attachment."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    element_type: str
    text: str | None = None
    options: tuple[str, ...] = Field((), description="externalAnswerOptionIds of the chosen options")
    date: dt.date | None = Field(None, description="the day of a date or date-and-time answer")
    date_time: AwareDatetime | None = Field(None, description="a date-and-time answer, timezone-aware (Europe/Oslo)")
    time: dt.time | None = Field(None, description="the time of day of a time or date-and-time answer "
                                                   "(Oslo wall-clock time)")
    number: Decimal | None = None
    attachment: AttachmentRef | None = None
    sub_element: str | None = Field(None, description="row of a matrix question")


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    meta: SubmissionMeta
    answers: tuple[Answer, ...]
    respondent_name: str | None = None
    respondent_email: str | None = None

    def answer(self, external_id: str) -> Answer | None:
        return next((a for a in self.answers if a.external_id == external_id), None)

    def all(self, external_id: str) -> list[Answer]:
        """Every answer to an element: attachments and matrix rows can repeat."""
        return [a for a in self.answers if a.external_id == external_id]

    @property
    def attachments(self) -> list[AttachmentRef]:
        return [a.attachment for a in self.answers if a.attachment is not None]


class FormsPort(Protocol):
    async def list_forms(self) -> list[FormInfo]: ...

    def submissions_after(self, form_id: int, after: int | None) -> AsyncIterator[SubmissionMeta]:
        """Metadata of every submission with ``submission_id > after``, streamed (NDJSON),
        so memory stays flat however many submissions the form has."""
        ...

    async def get_submission(self, submission_id: int) -> Submission: ...

    async def get_attachment(self, attachment_id: int) -> bytes: ...

    async def get_submission_pdf(self, submission_id: int) -> bytes: ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
