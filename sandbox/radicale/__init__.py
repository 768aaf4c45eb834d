"""A real CalDAV server for group-room booking: Radicale, with one calendar per room.

Run::

    python -m sandbox.radicale --port 8706 --data-dir var/sandbox/radicale \\
        [--user hub --password sandbox-caldav-password]

This is Radicale itself (PyPI ``radicale``), not a stand-in. The module only prepares it:

- ``<data-dir>/radicale.conf``: listens on 127.0.0.1 only; htpasswd authentication
  (SHA-512 crypt) with one account, ``hub``; rights ``owner_only`` (the hub's account owns
  ``/hub/``); filesystem storage in ``<data-dir>/collections``; the web UI is off.
- One resource calendar per group room (:data:`sandbox.radicale.rooms.ROOMS`), created
  with ``MKCALENDAR`` under the calendar home ``/hub/`` (``/hub/p35-u101/``...). Each
  carries the room's facts as WebDAV properties in the namespace
  ``https://tjenesteplattform.oslomet.no/ns/rooms`` — ``room-id``, ``capacity``,
  ``building``, ``campus`` — next to ``displayname`` and ``calendar-description``, so any
  CalDAV client sees them with an ordinary ``PROPFIND``.

Calendars and events survive a restart (the data directory is kept); existing calendars
are left alone. :func:`start_radicale` starts it as a subprocess for fixtures and the stack.
"""

from sandbox.radicale.configure import DEFAULT_PASSWORD, DEFAULT_USER
from sandbox.radicale.process import start_radicale
from sandbox.radicale.rooms import ROOMS, ROOMS_NS, SandboxRoom, room_by_id

__all__ = ["start_radicale", "ROOMS", "ROOMS_NS", "SandboxRoom", "room_by_id", "DEFAULT_USER",
           "DEFAULT_PASSWORD"]
