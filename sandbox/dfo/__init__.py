"""DFØ (state HR/payroll, SAP) sandbox: employees, positions, org units, change events.

Run::

    python -m sandbox.dfo --port 8701 --data-dir var/sandbox/dfo --api-key K \\
        --intake-url http://127.0.0.1:8000/events/dfo --hmac-secret S
    python -m sandbox.dfo announce 10005 [--gyldig-etter 2026-12-01] \\
        --intake-url URL --hmac-secret S [--data-dir D] [--uri dfo:ansatte]

Faithful to what public consumers of the DFØ-SAP API read (UiO's Cerebrum ``dfo``
client and datasource, NTNU's Go models, UiT's DFØ tooling):

Base path and auth
    Resources hang below the API gateway's base URL (here ``http://127.0.0.1:N/api``) as
    ``ansatte/v2``, ``stillinger/v2`` and ``orgenhet/v2`` — Cerebrum's default paths. The
    gateway (Gravitee) wants ``X-Gravitee-Api-Key``; missing/wrong → 401
    ``{"message": "Unauthorized", "http_status_code": 401}``; an unknown path → 404
    ``{"message": "No context-path matches the request URI.", ...}`` (gateway, not DFØ).

``GET /api/ansatte/v2/{id}`` → ``{"ansatt": [ {...} ]}``
    ``id, brukerident, dfoBrukerident, eksternIdent, tittel, fornavn, etternavn, fnr,
    annenId[] {idType, idBeskrivelse, idNr, idStartdato, idSluttdato, idLand}, fdato, kjonn,
    landkode, medarbeidergruppe, medarbeiderundergruppe, startdato, sluttdato, sluttarsak,
    stillingId (int), dellonnsprosent ("100.00"), kostnadssted, organisasjonId (int),
    jurBedriftsnummer, pdo, tilleggsstilling[] {stillingId, startdato, sluttdato,
    dellonnsprosent, ekstraStilling}, lederflagg, portaltilgang, turnustilgang,
    eksternbruker, reservasjonPublisering, epost, tjenestetelefon, mobilnummer, endretDato,
    endretKlokkeslett, endretInfotype, endretAv``. Empty values are ``""``; dates
    ``YYYY-MM-DD``. Unknown id → 404 ``{"standard": {"faultText": "IKKE ANSATT"}}``.
``GET /api/ansatte/v2`` → ``{"ansatt": [ ... every employee ... ]}``
    The real list is not paged (Cerebrum reads it in one response); neither is this one.
``GET /api/stillinger/v2/{id}`` → ``{"stilling": [ {...} ]}``
    ``id, stillingsnavn, stillingskode, stillingstittel, organisasjonId, yrkeskode,
    yrkeskodetekst, innehaver[] {innehaverAnsattnr, innehaverStartdato, innehaverSluttdato},
    stillingskat[] {stillingskatId, stillingskatStartdato, stillingskatSluttdato,
    stillingskatBetegn}``; open periods end ``9999-12-31``. Unknown → 404 ``UBESATT STILLING``.
``GET /api/orgenhet/v2/{id}`` → ``{"organisasjon": [ {...} ]}``
    ``id, orgKortnavn, organisasjonsnavn, leder[] {lederAnsattnr, lederBrukerident}, pdo,
    type, orgKostnadssted, authWf[], lokasjonId, dbhKode, dbhBetegnelse,
    overordnOrgenhetId`` (``""`` at the top). Unknown → 404 ``UKJENT ORGANISASJONSENHET``.

(The real API has been seen to unwrap one-element lists, to drop empty ones or send
``[null]``, to pad or unpad employee ids, and NTNU reads ``organisasjon_id`` on a stilling;
the connector tolerates all of these. The sandbox answers in the list form above unless
``/_sandbox/quirks`` switches variants on (:mod:`sandbox.dfo.quirks`). The ``dato``
as-of header is ignored.)

Identities: ``fnr`` is served as stored, so a test can add a foreign hire with DFØ's
placeholder (``"00000000000"`` or the birth date + ``00100``) and a passport in ``annenId``,
or an ``fnr`` of the wrong length, through ``POST /_sandbox/ansatte``.

Sandbox control (no API key; the control token instead, see :mod:`sandbox.common`)
    ``POST /_sandbox/ansatte`` — add/replace one employee in the DFØ shape (``id`` and a
    stilling are assigned when absent; stored as given, so malformed data can be served);
    ``POST|GET|DELETE /_sandbox/quirks`` — serve shape variants (:mod:`sandbox.dfo.quirks`);
    ``POST /_sandbox/announce`` ``{"id", "gyldigEtter"?, "uri"?}`` — sign and POST the event
    ``{"id","uri","gyldigEtter"}`` to ``--intake-url`` (``gyldigEtter`` defaults to the
    employee's ``startdato``, or today for an unknown id) and answer with the intake's
    status and body;
    ``POST /_sandbox/ansatte/{id}/sluttdato`` ``{"sluttdato": "YYYY-MM-DD" | null}`` — set or
    withdraw an end date (also in the stilling's holder period) and announce ``dfo:ansatte``;
    ``POST /_sandbox/ansatte/{id}/flytt`` ``{"organisasjonId"}`` — move the person (and their
    stilling) to another unit and announce ``dfo:stillinger``; both take ``"gyldigEtter"``
    (default: the new end date, else today) and ``"announce": false`` (a lost event: changed,
    not announced);
    ``POST /_sandbox/orgenheter`` ``{"id", "organisasjonsnavn", "lederAnsattnr"?, "lokasjonId"?,
    "overordnOrgenhetId"?}`` — add a unit, e.g. on another campus (``lokasjonId`` KJELLER);
    ``GET /_sandbox/health``; ``/_sandbox/faults`` (see
    :mod:`sandbox.common`).

Seed: three org units with leaders and twelve employees (see :mod:`sandbox.dfo.seed`),
written to ``<data-dir>/dfo.json`` on first start; later starts reuse the file.
"""

from sandbox.dfo.announce import announce, event_body
from sandbox.dfo.app import API_KEY_HEADER, API_PREFIX, create_app
from sandbox.dfo.process import start_dfo_sandbox

__all__ = ["announce", "event_body", "create_app", "start_dfo_sandbox", "API_PREFIX", "API_KEY_HEADER"]
