"""Nettskjema forms connector: implements :class:`hub.ports.forms.FormsPort` over API v3.

::

    POST {token_url}                                  OAuth 2 client credentials (auth.py)
    GET  {base}/form/me                               → [Form]          list_forms, health
    GET  {base}/form/{id}/elements                    → [Element]       matrix row names (cached;
                                                                        fetched again for a new row)
    GET  {base}/form/{id}/submission-metadata         → NDJSON          submissions_after
    GET  {base}/form/submission/{sid}                 → Submission      get_submission
    GET  {base}/form/submission/attachment/{aid}      → bytes           get_attachment
    GET  {base}/form/submission/{sid}/pdf             → application/pdf get_submission_pdf

Errors (all from :mod:`hub.errors`): 401 after one token refresh, and 403 (the form is not
shared with ``<client_id>@apiclient``) → ``ConfigError`` with a hint saying what to fix;
404 → ``NotFound``; a payload that does not fit the models → ``InvalidInput`` naming the
field, never its value (a submission without an ``answers`` list — the older API's
``formAnswers`` — names that shape: it is never read as an empty submission); an answer that is not JSON at all → ``MalformedResponse`` (a
``TransientError``: a proxy or Nettskjema failing), and so is a file answer that is not the
file Nettskjema recorded — a page, a body cut short, not 200 (:mod:`connectors.nettskjema.files`;
the attachment's recorded ``mediaType`` and ``size`` are remembered from ``get_submission``,
so a proxy's page is never passed on as the applicant's file); 429/502/503/504 and network
errors are retried by :class:`hub.http.ApiClient` (honouring ``Retry-After``), then
``TransientError``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError

from connectors.nettskjema.auth import ClientCredentialsAuth
from connectors.nettskjema.config import NettskjemaConfig
from connectors.nettskjema.files import check_file
from connectors.nettskjema.models import (
    AnswerError,
    RawElement,
    RawForm,
    RawSubmission,
    RawSubmissionMetadata,
    sub_element_names,
    to_form_info,
    to_meta,
    to_submission,
)
from hub.errors import ConfigError, HubError, InvalidInput, NotFound, PermanentError
from hub.http import ApiClient, parse_json, parse_model
from hub.ports.common import Health, HealthProbe
from hub.ports.forms import AttachmentRef, FormInfo, Submission, SubmissionMeta

__all__ = ["NettskjemaForms", "SYSTEM"]

SYSTEM = "nettskjema"

M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: Any, what: str) -> M:
    """Validate one payload; on failure ``InvalidInput`` naming the fields, never the value."""
    return parse_model(model, raw, system=SYSTEM, what=what,
                       hint=f"Nettskjema's answer does not fit the API v3 shape; check {what} in "
                            "Nettskjema, then replay.")


_SHAPE_HINT = ("The connector reads Nettskjema API v3 (https://nettskjema.no/api/v3): check "
               "HUB_NETTSKJEMA__BASE_URL, then replay the item.")


def _json_kind(value: Any) -> str:
    """``null``, ``an object``, ``a string``...: what a JSON value is, never what it holds."""
    kinds = {type(None): "null", dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _require_answers(body: Any, what: str) -> None:
    """A submission must carry an ``answers`` list: without one it is not an empty submission
    (an applicant would be told every answer is missing) but a shape this connector does not read."""
    if not isinstance(body, dict) or isinstance(body.get("answers"), list):
        return  # not an object at all: _parse names that
    keys = ", ".join(sorted(str(k)[:40] for k in body)[:8]) or "none"
    if "answers" in body:
        problem = f"its 'answers' is {_json_kind(body['answers'])}, not a list"
    elif "formAnswers" in body:
        problem = "it has 'formAnswers' (the older Nettskjema API's shape) instead of 'answers'"
    else:
        problem = f"it has no 'answers' list (its keys: {keys})"
    raise InvalidInput(f"Nettskjema answered {what} in a shape this connector cannot read: {problem}",
                       system=SYSTEM, hint=_SHAPE_HINT)


class NettskjemaForms:
    """Nettskjema as a :class:`~hub.ports.forms.FormsPort`."""

    def __init__(self, config: NettskjemaConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.auth = ClientCredentialsAuth(config.token_url, config.client_id, config.client_secret,
                                          refresh_margin=config.refresh_margin_seconds, system=SYSTEM)
        self._api = ApiClient(SYSTEM, config.base_url, headers={"Accept": "application/json"},
                              auth=self.auth, policy=config.policy(), transport=transport)
        self._rows: dict[int, dict[int, str]] = {}
        self._files: dict[int, AttachmentRef] = {}  # attachment id → what Nettskjema recorded

    async def __aenter__(self) -> NettskjemaForms:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    @property
    def principal(self) -> str:
        return f"{self.config.client_id}@apiclient"

    def _explain(self, exc: HubError, what: str) -> HubError:
        """Give 403 and 404 a hint an operator can act on."""
        if isinstance(exc, ConfigError) and exc.status == 403:
            return ConfigError(exc.message, system=SYSTEM, status=403,
                               hint=f"Share the form ({what}) with {self.principal} in Nettskjema, "
                                    "or check the form id in the hub's settings.")
        if isinstance(exc, NotFound):
            return NotFound(exc.message, system=SYSTEM, status=404,
                            hint=f"Nettskjema has no {what}; check the id (it may have been deleted).")
        return exc

    async def _get(self, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._api.request("GET", url, **kwargs)
        except HubError as exc:
            raise self._explain(exc, what) from exc

    async def _json(self, url: str, what: str) -> Any:
        response = await self._get(url, what)
        return parse_json(response, SYSTEM)  # not JSON at all: MalformedResponse (transient)

    async def list_forms(self) -> list[FormInfo]:
        body = await self._json("form/me", "form list")
        if not isinstance(body, list):
            raise InvalidInput("Nettskjema sent a form list that is not a JSON array", system=SYSTEM)
        return [to_form_info(_parse(RawForm, item, "form list entry")) for item in body]

    async def submissions_after(self, form_id: int, after: int | None) -> AsyncIterator[SubmissionMeta]:
        """Stream ``submission-metadata`` (NDJSON) one line at a time; yield ids above ``after``."""
        what = f"form {int(form_id)}"
        try:
            # ndjson() is an async generator: close it (and the HTTP stream) even if our
            # caller stops early.
            stream = cast(AsyncGenerator[Any, None], self._api.ndjson(f"form/{int(form_id)}/submission-metadata"))
            async with aclosing(stream) as lines:
                async for line in lines:
                    raw = _parse(RawSubmissionMetadata, line, f"submission-metadata line of {what}")
                    if after is None or raw.submissionId > after:
                        yield to_meta(raw)
        except HubError as exc:
            raise self._explain(exc, what) from exc

    async def _row_names(self, form_id: int, *, refresh: bool = False) -> dict[int, str]:
        """Matrix row ids → external ids (cached per form) for answers lacking the name."""
        if refresh or form_id not in self._rows:
            what = f"form {form_id} elements"
            body = await self._json(f"form/{form_id}/elements", what)
            if not isinstance(body, list):
                raise InvalidInput(f"Nettskjema answered {what} with {_json_kind(body)}, not an array of "
                                   "elements", system=SYSTEM, hint=_SHAPE_HINT)
            self._rows[form_id] = sub_element_names([_parse(RawElement, e, f"element of form {form_id}")
                                                     for e in body])
        return self._rows[form_id]

    async def _rows_for(self, raw: RawSubmission) -> dict[int, str] | None:
        """Row names for the matrix answers that carry only a ``subElementId``: from the form's
        elements, fetched again once if the form gained a row since they were cached."""
        wanted = {a.subElementId for a in raw.answers if a.subElementId is not None and not a.externalSubElementId}
        if not wanted:
            return None
        form_id = raw.submissionMetadata.formId
        rows = await self._row_names(form_id)
        if not wanted <= rows.keys():
            rows = await self._row_names(form_id, refresh=True)
        return rows

    async def get_submission(self, submission_id: int) -> Submission:
        what = f"submission {int(submission_id)}"
        body = await self._json(f"form/submission/{int(submission_id)}", what)
        _require_answers(body, what)
        raw = _parse(RawSubmission, body, what)
        rows = await self._rows_for(raw)
        try:
            submission = to_submission(raw, rows)
        except AnswerError as exc:
            raise InvalidInput(f"Nettskjema {what} has an answer that does not decode: {exc.field}: "
                               f"{exc.reason}", system=SYSTEM,
                               hint=f"Correct the answer in {what} in Nettskjema (or have the respondent "
                                    "resubmit), then replay the item.") from None
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False))
            raise InvalidInput(f"Nettskjema {what} does not decode: {fields}", system=SYSTEM) from None
        self._files.update((ref.attachment_id, ref) for ref in submission.attachments)
        return submission

    async def get_attachment(self, attachment_id: int) -> bytes:
        """The file's bytes, checked against its recorded ``mediaType`` and ``size`` when this
        client has read its submission: anything else is ``MalformedResponse``, never the file."""
        what = f"attachment {int(attachment_id)}"
        response = await self._get(f"form/submission/attachment/{int(attachment_id)}", what)
        recorded = self._files.get(int(attachment_id))
        return check_file(response, what, system=SYSTEM, media_type=recorded.media_type if recorded else None,
                          size=recorded.size if recorded else 0)

    async def get_submission_pdf(self, submission_id: int) -> bytes:
        what = f"submission {int(submission_id)}"
        response = await self._get(f"form/submission/{int(submission_id)}/pdf", what,
                                   headers={"Accept": "application/pdf"})
        check_file(response, f"the PDF of {what}", system=SYSTEM, media_type="application/pdf")
        if not response.content.startswith(b"%PDF"):
            raise PermanentError(f"Nettskjema answered the PDF of {what} with something that is not a PDF",
                                 system=SYSTEM, hint="Check HUB_NETTSKJEMA__BASE_URL and Nettskjema's status.")
        return response.content

    async def health(self) -> Health:
        """A token (fetched or cached) and ``form/me``: reachable, authenticated, forms shared."""
        probe = HealthProbe(SYSTEM)
        try:
            forms = await self.list_forms()
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok(f"{len(forms)} form(s) shared with {self.principal} at {self.config.base_url}")
