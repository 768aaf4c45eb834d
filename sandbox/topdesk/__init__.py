"""TOPdesk sandbox: incidents, persons, operator groups and Asset Management laptops.

Run::

    python -m sandbox.topdesk --port 8705 --data-dir var/sandbox/topdesk \\
        [--username hub --app-password sandbox-topdesk-app-password]

Faithful to TOPdesk's public REST API (developers.topdesk.com: incident API, supporting
files, Asset Management) where the hub uses it; listens on 127.0.0.1 only.

Auth
    Everything below ``/tas/api`` wants HTTP Basic with a login name and its
    *application password*; wrong or missing → 401 ``[{"message": "..."}]``.
Incidents (:mod:`sandbox.topdesk.incidents`)
    ``POST /tas/api/incidents`` with ``callerLookup {email}`` (or ``caller {dynamicName}``),
    ``briefDescription`` (at most 80 characters, longer → 400), ``request``,
    ``operatorGroup {id|name}``, ``category {name}``, ``status`` (firstLine/secondLine),
    ``processingStatus {id|name}``, ``optionalFields1.text1`` (≤ 100 characters; the hub's
    external reference), ``targetDate`` → 201 with ``id`` (UUID) and ``number``
    (``I 2611 001``). Read by ``/id/{id}`` or ``/number/{number}``; ``PUT``/``PATCH``
    update the given fields only (``action`` appends to the progress trail,
    ``processingStatus``, ``closed: true``). ``GET /tas/api/incidents?query=<FIQL>``
    pages with ``start``/``page_size``: 200 when the rest fits, 206 Partial Content when
    more follow, 204 when nothing matches. Processing statuses: Logged, In progress,
    Waiting for user, Completed, Closed, Rejected (``GET /incidents/processing_status``).
Persons, branches, operator groups (:mod:`sandbox.topdesk.directory`)
    ``GET|POST /tas/api/persons`` (FIQL ``email==x``), ``GET /tas/api/branches``
    (``OsloMet``), ``GET /tas/api/operatorgroups`` ("User accounts", "Equipment").
Asset Management (:mod:`sandbox.topdesk.assets`)
    Template ``Laptop`` (fields ``name, model, serial-number, lifecycle-status,
    hub-reference``) with twelve laptops; ETag/If-Match on updates (stale → 412); persons
    linked through ``/assets/{id}/assignments``.
Control (the control token, see :mod:`sandbox.common`)
    ``GET /_sandbox/health``, ``GET /_sandbox/state`` (everything), ``POST /_sandbox/reset``
    (back to the seed), ``/_sandbox/faults`` (see :mod:`sandbox.common`).

Data lives in ``<data-dir>/topdesk.json``; a restart keeps it.
"""

from sandbox.topdesk.app import API_PREFIX, DEFAULT_APP_PASSWORD, DEFAULT_USERNAME, create_app
from sandbox.topdesk.process import DEFAULT_PORT, start_topdesk_sandbox

__all__ = ["create_app", "start_topdesk_sandbox", "API_PREFIX", "DEFAULT_PORT", "DEFAULT_USERNAME",
           "DEFAULT_APP_PASSWORD"]
