"""Noark 5 Tjenestegrensesnitt (N5WS v1.1) archive-core sandbox.

A local stand-in for an archive core such as Documaster or nikita, faithful enough that
any client navigating by relation from ``{base}/api`` can build the whole v1.1
structure (arkivskaper → arkiv → arkivdel → mappe/saksmappe → registrering/journalpost →
dokumentbeskrivelse → dokumentobjekt) and archive a PDF: HAL-style ``_links`` keyed by
relation URI, ``ny-*`` templates and 201 + ``Location`` on create, the metadata catalogue
(every code list with its ``ny-*`` relation, virksomhetsspesifikkeMetadata fields),
ETag/If-Match (409 when stale), OData ``$filter``/``$orderby``/``$top``/``$skip``,
file upload with checksum verification and download, ``feil`` error bodies, HTTP Basic.
Data lives in one SQLite file in ``--data-dir``, so a restart keeps it.

Run: ``python -m sandbox.noark5 --port 8702 --data-dir var/sandbox/noark5``; discovery at
``http://127.0.0.1:8702/noark5v5/api``. See :mod:`sandbox.noark5.api` for the layout.
"""

from sandbox.noark5.api import Settings
from sandbox.noark5.app import SEED_ARKIV, SEED_ARKIVDELER, create_app

__all__ = ["Settings", "create_app", "SEED_ARKIV", "SEED_ARKIVDELER"]
