"""Nettskjema API v3 sandbox (the University of Oslo's form service): forms, submissions,
attachments, submission PDFs, OAuth 2 client credentials.

Run::

    python -m sandbox.nettskjema --port 8704 --data-dir var/sandbox/nettskjema \\
        [--client-id ID --client-secret S --token-ttl SECONDS]
    python -m sandbox.nettskjema submit --url http://127.0.0.1:8704 --form laptop|fritak \\
        KEY=VALUE ... [--attach KEY=path.pdf]

Faithful to the public API (recorded responses of ``nettskjema.no/api/v3`` used by UiO's
``nettskjemar`` client) so that a client written to the docs works:

Auth (:mod:`sandbox.nettskjema.oauth`)
    ``POST /oauth2/token`` (HTTP Basic ``client_id:secret``, ``grant_type=client_credentials``)
    → ``{"access_token", "token_type": "Bearer", "expires_in"}`` (86 400 s unless
    ``--token-ttl``). The API wants ``Authorization: Bearer``; a missing/unknown/expired token
    → 401 (empty body, ``WWW-Authenticate: Bearer error="invalid_token"``). A client sees a
    form only when ``<clientId>@apiclient`` is granted on it, otherwise 403. The hub client
    is granted 404101, 404102, 404103 and 404104 (laptop, fritak, group room, cancel); 404199 to nobody.

API under ``/api/v3/``
    ``GET form/me`` — the client's forms (``formId, title, openFrom, openTo,
    lastSubmissionDate, modifiedDate, numberOfDeliveredSubmissions, ...``);
    ``GET form/{id}/elements`` — elements with ``answerOptions`` and ``subElements``;
    ``GET form/{id}/submission-metadata`` — NDJSON, one ``submissionMetadata`` object per
    line, in ``submissionId`` order, streamed page by page from SQLite;
    ``GET form/{id}/answers`` — NDJSON, one answer per line (each carries ``submissionId``);
    ``GET form/submission/{sid}`` — ``{"submissionMetadata": {...}, "answers": [...]}``;
    ``GET form/submission/attachment/{answerAttachmentId}`` — the file with its media type;
    ``GET form/submission/{sid}/pdf`` — the submission as a PDF (fpdf2).
    ``createdDate``/``modifiedDate`` are Europe/Oslo wall time without an offset.

Answer records by element type (the real service's shapes)
    QUESTION/DATE/NUMBER/LINEAR_SCALE: ``textAnswer`` (DATE ``"01.06.2023"``, or ``"12:00"``
    and ``"12.06.2023 13:33"`` for the TIME and DATE_TIME ``dateFormat``; NUMBER with a
    decimal comma ``"7,5"``); RADIO/SELECT/CHECKBOX: ``answerOptionIds`` +
    ``externalAnswerOptionIds`` and no ``textAnswer`` key; MATRIX_RADIO/MATRIX_CHECKBOX: one
    record per row with the numeric ``subElementId`` only (the row's external id is in
    ``elements``); ATTACHMENT: ``answerAttachmentId, filename, mediaType, size`` (also nested
    as ``attachment``; ``textAnswer`` = filename).

Like the real service
    Errors answer ``{"message": "..."}`` (Norwegian); ``elements`` includes HEADING, TEXT,
    IMAGE and PAGE_BREAK elements (a page break's ``elementId`` and ``sequence`` are null);
    JSON and NDJSON come gzip-encoded to a client that accepts it
    (:mod:`sandbox.nettskjema.compression`); a file uploaded with
    ``"servedWithoutContentType": true`` (one seeded fritak file) downloads without a
    Content-Type. Form 404105 (``fagdag``) has every element type and date format; grant it
    to read it.

Sandbox control (the control token, see :mod:`sandbox.common`)
    ``POST /_sandbox/forms/{formId|alias}/submissions`` — add one submission from a simple
    body (see :mod:`sandbox.nettskjema.answers`) → 201 ``{"submissionId", "formId"}`` or 400;
    ``POST /_sandbox/forms/{form}/bulk`` ``{"count": N}`` — N synthetic submissions;
    ``GET /_sandbox/forms`` — forms with element external ids, options and rows;
    ``POST /_sandbox/forms/{form}/grants`` ``{"clientId"}`` — grant a client;
    ``POST /_sandbox/clients`` ``{"clientId", "clientSecret"}`` — register another client;
    ``POST /_sandbox/revoke-tokens`` — invalidate every issued token;
    ``GET /_sandbox/stats`` — counters (``token_requests``, ``tokens_issued``,
    ``token_refused``, ``api_requests``, ``api_unauthorized``, ``api_forbidden``,
    ``expired_tokens_seen``, ``gzip_responses``); ``GET /_sandbox/health``; ``/_sandbox/faults``
    (:mod:`sandbox.common`).

Data: ``<data-dir>/nettskjema.sqlite3``, seeded on first start (:mod:`sandbox.nettskjema.seed`);
submissions added later survive a restart. Form and element ids: :mod:`sandbox.nettskjema.forms`.
"""

from sandbox.nettskjema.forms import EVENT_FORM_ID, FRITAK_FORM_ID, LAPTOP_FORM_ID, UNSHARED_FORM_ID
from sandbox.nettskjema.process import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, start_nettskjema_sandbox

# The ASGI app (``sandbox.nettskjema.app.create_app``) is not imported here: the ``submit``
# CLI and test helpers stay quick to start without Starlette and fpdf2.
__all__ = ["start_nettskjema_sandbox", "LAPTOP_FORM_ID", "FRITAK_FORM_ID", "EVENT_FORM_ID", "UNSHARED_FORM_ID",
           "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET"]
