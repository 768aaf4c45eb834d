"""Public 360 sandbox: the SIF JSON RPC API (cases, documents with files, contacts).

Run::

    python -m sandbox.p360 --port 8707 --data-dir var/sandbox/p360

Faithful to the SIF contracts as public sources describe them
(/work/shared/reference/public360-sif.md); listens on 127.0.0.1 only.

Transport and auth (:mod:`sandbox.p360.app`)
    ``POST /Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/{Service}/{Method}``, body
    ``{"parameter": {...}}``; ``?authkey=<key>`` or ``Authorization: authkey <key>`` +
    ``clientid``; wrong → 401. Business errors: HTTP 200, ``Successful: false``.
CaseService (:mod:`sandbox.p360.cases`)
    CreateCase, GetCases (ExternalId, CaseNumber, Title LIKE, paging), UpdateCase; case
    numbers ``26/00012``.
DocumentService, FileService (:mod:`sandbox.p360.documents`)
    CreateDocument (files inside), GetDocuments, UpdateDocument, GetFileWithMetadata;
    document numbers ``26/00012-3``; no document external id.
ContactService (:mod:`sandbox.p360.contacts`)
    Synchronize*/Get* for private persons, contact persons, enterprises — blanks clear
    stored values.
SupportService
    Ping, GetSIFVersion, GetCodeTableRows.
Control (the control token, see :mod:`sandbox.common`)
    ``GET /_sandbox/health``, ``GET /_sandbox/state``, ``POST /_sandbox/reset``,
    ``PATCH|DELETE /_sandbox/{cases|documents|contacts|files}/{recno}`` (change a record
    as a person in 360 would: planted drift, edited contacts),
    ``/_sandbox/faults``.

Data lives in ``<data-dir>/p360.json``; a restart keeps it.
"""

from sandbox.p360.app import DEFAULT_AUTH_KEY, DEFAULT_CLIENT_ID, RPC_PREFIX, create_app
from sandbox.p360.process import DEFAULT_PORT, start_p360_sandbox

__all__ = ["create_app", "start_p360_sandbox", "RPC_PREFIX", "DEFAULT_PORT", "DEFAULT_AUTH_KEY",
           "DEFAULT_CLIENT_ID"]
