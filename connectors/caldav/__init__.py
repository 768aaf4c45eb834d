"""CalDAV calendar connector: group rooms as resource calendars (Radicale first).

:class:`CaldavCalendar` implements :class:`hub.ports.calendar.CalendarPort`; the module
docstring of :mod:`connectors.caldav.client` explains how double bookings are prevented.
"""

from connectors.caldav.client import CaldavCalendar
from connectors.caldav.config import CaldavConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = CaldavConfig
CLIENT = CaldavCalendar

__all__ = ["CONFIG", "CLIENT", "CaldavCalendar", "CaldavConfig"]
