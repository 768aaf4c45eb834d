"""WebDAV/CalDAV XML: the request bodies the connector sends and the multistatus it reads.

Only what the connector needs: ``PROPFIND`` for the room calendars and their properties,
``REPORT calendar-query`` (events in a time range), ``REPORT calendar-multiget`` (named
resources with their ETags and data) and ``REPORT free-busy-query`` (RFC 4791 §7.8-7.10).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape

from hub.errors import MalformedResponse

__all__ = ["DAV", "CALDAV", "GARBLED", "DavResource", "parse_multistatus", "read_multistatus", "propfind_body",
           "calendar_query_body", "multiget_body", "free_busy_body", "mkcalendar_body", "utc_stamp"]

# A 2xx body that does not parse at all is a fault on the wire (cut short, a proxy's page),
# like a JSON body that is not JSON: retried, never filed as bad data.
GARBLED = ("The calendar server's answer could not be read (cut short, or a proxy's page); it is retried. If it "
           "persists, look at the calendar server and any proxy in front of it.")

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"


def clark(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class DavResource:
    """One ``<response>`` of a multistatus: its href, status and the properties found (200)."""

    href: str
    status: int = 200
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, namespace: str, name: str) -> str | None:
        element = self.props.get(clark(namespace, name))
        if element is None:
            return None
        return "".join(element.itertext()).strip()

    def has(self, namespace: str, name: str, child: tuple[str, str]) -> bool:
        element = self.props.get(clark(namespace, name))
        return element is not None and element.find(clark(*child)) is not None

    @property
    def etag(self) -> str | None:
        return self.text(DAV, "getetag")

    @property
    def calendar_data(self) -> bytes | None:
        text = self.text(CALDAV, "calendar-data")
        return text.encode("utf-8") if text else None


def _status(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_multistatus(body: bytes) -> list[DavResource]:
    """Every ``<response>`` with the properties that came back 200 (raises ``ET.ParseError``)."""
    root = ET.fromstring(body)
    found = []
    for response in root.iter(clark(DAV, "response")):
        href = unquote(response.findtext(clark(DAV, "href"), default=""))
        resource = DavResource(href=href, status=_status(response.findtext(clark(DAV, "status"))) or 200)
        for propstat in response.findall(clark(DAV, "propstat")):
            if _status(propstat.findtext(clark(DAV, "status"))) != 200:
                continue
            prop = propstat.find(clark(DAV, "prop"))
            for element in prop if prop is not None else ():
                resource.props[element.tag] = element
        found.append(resource)
    return found


def read_multistatus(body: bytes, where: str) -> list[DavResource]:
    """:func:`parse_multistatus`, with a body that is not XML reported as a garbled answer
    (``MalformedResponse``, transient: retried) that names the resource asked (``where``)."""
    try:
        return parse_multistatus(body)
    except ET.ParseError as exc:
        raise MalformedResponse(f"{where} did not answer WebDAV XML (a 207 multistatus): {exc}", system="caldav",
                                hint=GARBLED) from None


def utc_stamp(moment: datetime) -> str:
    """``20261127T090000Z`` (CalDAV time ranges are UTC)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def propfind_body(props: Iterable[tuple[str, str]]) -> bytes:
    namespaces = {ns for ns, _ in props} - {DAV}
    prefixes = {ns: f"n{i}" for i, ns in enumerate(sorted(namespaces))}
    declarations = "".join(f' xmlns:{p}="{escape(ns)}"' for ns, p in prefixes.items())
    names = "".join(f"<{prefixes.get(ns, 'D')}:{name}/>" for ns, name in props)
    return (f'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"{declarations}>'
            f"<D:prop>{names}</D:prop></D:propfind>").encode()


def calendar_query_body(start: datetime, end: datetime) -> bytes:
    """Every VEVENT overlapping [start, end), with its ETag and iCalendar data."""
    return (f'<?xml version="1.0" encoding="utf-8"?>'
            f'<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV}">'
            f"<D:prop><D:getetag/><C:calendar-data/></D:prop>"
            f'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{utc_stamp(start)}" end="{utc_stamp(end)}"/>'
            f"</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>").encode()


def multiget_body(hrefs: Iterable[str], *, with_data: bool = True) -> bytes:
    data = "<C:calendar-data/>" if with_data else ""
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (f'<?xml version="1.0" encoding="utf-8"?>'
            f'<C:calendar-multiget xmlns:D="DAV:" xmlns:C="{CALDAV}">'
            f"<D:prop><D:getetag/><D:getlastmodified/>{data}</D:prop>{refs}</C:calendar-multiget>").encode()


def free_busy_body(start: datetime, end: datetime) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><C:free-busy-query xmlns:C="{CALDAV}">'
            f'<C:time-range start="{utc_stamp(start)}" end="{utc_stamp(end)}"/></C:free-busy-query>').encode()


def mkcalendar_body(displayname: str, description: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>'
            f'<C:mkcalendar xmlns:D="DAV:" xmlns:C="{CALDAV}"><D:set><D:prop>'
            f"<D:displayname>{escape(displayname)}</D:displayname>"
            f"<C:calendar-description>{escape(description)}</C:calendar-description>"
            f'<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>'
            f"</D:prop></D:set></C:mkcalendar>").encode()
