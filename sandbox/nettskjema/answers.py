"""Turn the control route's simple body into Nettskjema answer records, validating it.

Simple body (``POST /_sandbox/forms/{formId}/submissions``)::

    {"answers": {"feide": "sigkva@oslomet.no", "model": "thinkpad-t14",
                 "accessories": {"dock": "yes"}, "needed_by": "01.12.2026"},
     "attachments": {"attachment_1": [{"filename": "vitnemål.pdf", "mediaType": "application/pdf",
                                       "contentBase64": "JVBERi0..."}]},
     "createdDate": "2026-11-20T09:15:02", "person": {"name": "...", "email": "..."}}

Values: a string for QUESTION/DATE/NUMBER/LINEAR_SCALE (DATE as ``dd.mm.yyyy`` or
``YYYY-MM-DD``; a TIME-format one as ``hh:mm``; a DATE_TIME-format one as ``dd.mm.yyyy hh:mm``
or ``YYYY-MM-DDThh:mm``; NUMBER and LINEAR_SCALE also as JSON numbers); an option's external id, or a list of them, for
RADIO/SELECT/CHECKBOX; ``{row: option or [options]}`` for matrices. ``null``/``""`` means
"not answered". Mandatory flags are *not* enforced, so tests can inject incomplete
submissions. Error messages name the element, never echo free-text values.

An attachment item may say ``"servedWithoutContentType": true``: its download then comes
without a Content-Type header, as the real service sends some files (its answer still
records the ``mediaType``).

The records come back without ``answerId``/``submissionId``/``answerAttachmentId``: the
store assigns those. They have the real service's shape: text answers carry ``textAnswer``;
option answers (RADIO, SELECT, CHECKBOX) have no ``textAnswer`` key; matrix answers carry the
row only as the numeric ``subElementId`` (its name is in ``form/{id}/elements``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.privacy import mask
from sandbox.nettskjema.forms import (
    ATTACHMENT,
    CHECKBOX,
    DATE,
    DATE_TIME,
    LINEAR_SCALE,
    MATRIX_CHECKBOX,
    MATRIX_RADIO,
    MATRIX_TYPES,
    NUMBER,
    OPTION_TYPES,
    QUESTION,
    TIME,
    Element,
    Form,
)

__all__ = ["SubmissionError", "UploadedFile", "build_answers", "synthetic_answers"]

_NUMBER = re.compile(r"-?\d+(,\d+)?")
_DMY = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


class SubmissionError(ValueError):
    """The body does not fit the form; the message says which element and why."""


@dataclass(frozen=True)
class UploadedFile:
    """An attachment to store; ``answer_index`` points at its record in the answer list."""

    answer_index: int
    filename: str
    media_type: str
    data: bytes
    served_type: str = ""  # the download's Content-Type; "" sends none

def _record(element: Element, **fields: Any) -> dict[str, Any]:
    """A text answer's record: ``textAnswer`` and empty option lists, as the real service sends."""
    return {"elementId": element.element_id, "externalElementId": element.external_id,
            "textAnswer": None, "answerOptionIds": [], "externalAnswerOptionIds": [],
            **fields, "elementType": element.element_type}


def _option_record(element: Element, options: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """An option or matrix answer's record: no ``textAnswer`` key at all (the real shape)."""
    return {"elementId": element.element_id, "externalElementId": element.external_id,
            **_option_fields(options), "elementType": element.element_type, **fields}


def _text(element: Element, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SubmissionError(f"{element.external_id}: expected text")
    return str(value)


def _date_text(element: Element, value: Any) -> str:
    text = _text(element, value).strip()
    if match := _ISO.fullmatch(text):
        year, month, day = match.groups()
    elif match := _DMY.fullmatch(text):
        day, month, year = match.groups()
    else:
        raise SubmissionError(f"{element.external_id}: expected a date as dd.mm.yyyy")
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        raise SubmissionError(f"{element.external_id}: not a calendar date") from None
    return parsed.strftime("%d.%m.%Y")


def _clock_text(element: Element, value: Any) -> str:
    text = _text(element, value).strip()
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise SubmissionError(f"{element.external_id}: expected a time as hh:mm")
    hour, minute = (int(g) for g in match.groups())
    if hour > 23 or minute > 59:
        raise SubmissionError(f"{element.external_id}: not a time of day")
    return f"{hour:02d}:{minute:02d}"


def _when_text(element: Element, value: Any) -> str:
    """A DATE element's answer in its ``dateFormat``: ``01.06.2023``, ``12:00`` or ``12.06.2023 13:33``."""
    if element.format == TIME:
        return _clock_text(element, value)
    if element.format == DATE_TIME:
        day, sep, clock = _text(element, value).strip().replace("T", " ").partition(" ")
        if not sep:
            raise SubmissionError(f"{element.external_id}: expected a date and time as dd.mm.yyyy hh:mm")
        return f"{_date_text(element, day)} {_clock_text(element, clock)}"
    return _date_text(element, value)


def _number_text(element: Element, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:g}".replace(".", ",")
    else:
        text = _text(element, value).strip().replace(".", ",")
    if not _NUMBER.fullmatch(text):
        raise SubmissionError(f"{element.external_id}: expected a number like 7,5")
    return text


def _scale_text(element: Element, value: Any) -> str:
    text = _text(element, value).strip()
    if not text.lstrip("-").isdigit():
        raise SubmissionError(f"{element.external_id}: expected a whole number")
    low, high = element.minimum or 0, element.maximum or 10
    if not low <= int(text) <= high:
        raise SubmissionError(f"{element.external_id}: expected a value from {low} to {high}")
    return str(int(text))


def _chosen(element: Element, value: Any, *, single: bool, where: str) -> list[dict[str, Any]]:
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, list) or not chosen or not all(isinstance(v, str) for v in chosen):
        raise SubmissionError(f"{where}: expected an option id or a list of them")
    if single and len(chosen) != 1:
        raise SubmissionError(f"{where}: exactly one option may be chosen")
    if len(set(chosen)) != len(chosen):
        raise SubmissionError(f"{where}: an option is chosen twice")
    options = []
    for ext in chosen:
        option = element.option(ext)
        if option is None:
            valid = ", ".join(o.external_id for o in element.options)
            raise SubmissionError(f"{where}: unknown option {mask(ext)!r}; options: {valid}")
        options.append({"id": option.option_id, "ext": option.external_id})
    return options


def _option_fields(options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"answerOptionIds": [o["id"] for o in options],
            "externalAnswerOptionIds": [o["ext"] for o in options]}


def _element_answers(element: Element, value: Any) -> list[dict[str, Any]]:
    kind = element.element_type
    where = str(element.external_id)
    if kind == QUESTION:
        return [_record(element, textAnswer=_text(element, value))]
    if kind == DATE:
        return [_record(element, textAnswer=_when_text(element, value))]
    if kind == NUMBER:
        return [_record(element, textAnswer=_number_text(element, value))]
    if kind == LINEAR_SCALE:
        return [_record(element, textAnswer=_scale_text(element, value))]
    if kind in OPTION_TYPES:
        options = _chosen(element, value, single=kind != CHECKBOX, where=where)
        return [_option_record(element, options)]
    if kind in MATRIX_TYPES:
        if not isinstance(value, dict) or not value:
            raise SubmissionError(f"{where}: expected {{row: option}} for a matrix")
        records = []
        for row_ext, row_value in value.items():
            row = element.row(str(row_ext))
            if row is None:
                valid = ", ".join(r.external_id for r in element.rows)
                raise SubmissionError(f"{where}: unknown row {mask(str(row_ext))!r}; rows: {valid}")
            options = _chosen(element, row_value, single=kind == MATRIX_RADIO, where=f"{where}.{row_ext}")
            records.append(_option_record(element, options, subElementId=row.sub_element_id))
        return records
    if kind == ATTACHMENT:
        raise SubmissionError(f"{where}: files go in \"attachments\", not \"answers\"")
    raise SubmissionError(f"{where}: element type {kind} takes no answers")


def _file(element: Element, item: Any, index: int) -> tuple[dict[str, Any], UploadedFile]:
    where = f"{element.external_id}[{index}]"
    if not isinstance(item, dict):
        raise SubmissionError(f"{where}: expected {{filename, mediaType, contentBase64}}")
    filename, media_type = item.get("filename"), item.get("mediaType")
    if not isinstance(filename, str) or not filename.strip():
        raise SubmissionError(f"{where}: filename is missing")
    if not isinstance(media_type, str) or "/" not in media_type:
        raise SubmissionError(f"{where}: mediaType is missing or not a media type")
    try:
        data = base64.b64decode(str(item.get("contentBase64") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise SubmissionError(f"{where}: contentBase64 is not base64") from None
    if not data:
        raise SubmissionError(f"{where}: the file is empty")
    record = _record(element, textAnswer=filename, filename=filename, mediaType=media_type,
                     size=len(data))
    served = "" if item.get("servedWithoutContentType") is True else media_type
    return record, UploadedFile(-1, filename, media_type, data, served)


def build_answers(form: Form, body: Any) -> tuple[list[dict[str, Any]], list[UploadedFile]]:
    """Answer records (in form order) and the files to store, or :class:`SubmissionError`."""
    if not isinstance(body, dict):
        raise SubmissionError('expected {"answers": {...}, "attachments"?: {...}}')
    answers, attachments = body.get("answers") or {}, body.get("attachments") or {}
    if not isinstance(answers, dict) or not isinstance(attachments, dict):
        raise SubmissionError('"answers" and "attachments" must be objects keyed by externalElementId')
    known = ", ".join(str(e.external_id) for e in form.questions)
    for key in [*answers, *attachments]:
        if form.element(str(key)) is None:
            raise SubmissionError(f"form {form.form_id} has no element {mask(str(key))!r}; elements: {known}")
    records: list[dict[str, Any]] = []
    files: list[UploadedFile] = []
    for element in form.questions:
        value = answers.get(element.external_id)
        if value is not None and value != "" and value != [] and value != {}:
            records.extend(_element_answers(element, value))
        uploads = attachments.get(element.external_id)
        if uploads is None:
            continue
        if element.element_type != ATTACHMENT:
            raise SubmissionError(f"{element.external_id}: is {element.element_type}, not ATTACHMENT")
        for index, item in enumerate(uploads if isinstance(uploads, list) else [uploads]):
            record, upload = _file(element, item, index)
            files.append(UploadedFile(len(records), upload.filename, upload.media_type, upload.data,
                                      upload.served_type))
            records.append(record)
    return records, files


def synthetic_answers(form: Form, index: int) -> list[dict[str, Any]]:
    """Answers for the ``bulk`` route: every element answered, cheaply, varied by ``index``."""
    simple: dict[str, Any] = {}
    for element in form.questions:
        ext, kind = str(element.external_id), element.element_type
        if kind == QUESTION:
            simple[ext] = f"bulk{index:06d}@oslomet.no" if ext in ("feide", "email") else f"Syntetisk svar {index}"
        elif kind == DATE:
            day, clock = f"{1 + index % 28:02d}.{1 + index % 12:02d}.2026", f"{8 + index % 10:02d}:{index % 4 * 15:02d}"
            simple[ext] = {TIME: clock, DATE_TIME: f"{day} {clock}"}.get(element.format, day)
        elif kind == NUMBER:
            simple[ext] = f"{index % 30},5"
        elif kind == LINEAR_SCALE:
            simple[ext] = str(element.minimum or 1)
        elif kind in OPTION_TYPES:
            simple[ext] = element.options[index % len(element.options)].external_id
        elif kind == MATRIX_CHECKBOX or kind == MATRIX_RADIO:
            simple[ext] = {element.rows[0].external_id: element.options[0].external_id}
    if form.element("fnr") is not None:
        simple.pop("fnr", None)  # synthetic bulk rows carry no national id at all
    records, _ = build_answers(form, {"answers": simple})
    return records
