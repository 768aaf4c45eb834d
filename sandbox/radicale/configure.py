"""Write the Radicale configuration and provision the room calendars.

Everything lives in the data directory::

    <data-dir>/radicale.conf     the server's configuration (127.0.0.1 only)
    <data-dir>/users             htpasswd file (SHA-512 crypt) with the hub's account
    <data-dir>/collections/      Radicale's filesystem storage

The room calendars are created through Radicale's own WSGI application with ordinary
CalDAV requests (``MKCALENDAR`` with the room's properties), in process, before the server
starts listening: what ends up on disk is exactly what a client creating them would leave.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
from passlib.hash import sha512_crypt

from sandbox.radicale.rooms import ROOMS, ROOMS_NS, SandboxRoom

__all__ = ["write_config", "provision_rooms", "config_path", "DEFAULT_USER", "DEFAULT_PASSWORD"]

DEFAULT_USER = "hub"
DEFAULT_PASSWORD = "sandbox-caldav-password"


def config_path(data_dir: Path) -> Path:
    return data_dir / "radicale.conf"


def write_config(data_dir: Path, port: int, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
                 log_level: str = "warning") -> Path:
    """Write ``radicale.conf`` and the htpasswd file; return the configuration's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    users = data_dir / "users"
    # 5000 rounds (the crypt default): cheap enough per request; logins are cached anyway.
    users.write_text(f"{user}:{sha512_crypt.using(rounds=5000).hash(password)}\n")
    users.chmod(0o600)
    config = configparser.ConfigParser(interpolation=None)
    config["server"] = {"hosts": f"127.0.0.1:{port}", "max_connections": "32", "timeout": "30"}
    config["auth"] = {"type": "htpasswd", "htpasswd_filename": str(users), "htpasswd_encryption": "sha512",
                      "cache_logins": "true", "delay": "0.2"}
    config["rights"] = {"type": "owner_only"}
    config["storage"] = {"filesystem_folder": str(data_dir / "collections")}
    config["web"] = {"type": "none"}
    config["logging"] = {"level": log_level, "mask_passwords": "true"}
    path = config_path(data_dir)
    with path.open("w") as handle:
        config.write(handle)
    return path


def _mkcalendar_body(room: SandboxRoom) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:R="{ROOMS_NS}">
  <D:set><D:prop>
    <D:displayname>{escape(room.name)} ({escape(room.building)})</D:displayname>
    <C:calendar-description>Resource calendar of {escape(room.name)}, {escape(room.building)}: room for \
{room.capacity} people. Book through the Nettskjema form "Bestille grupperom".</C:calendar-description>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
    <R:room-id>{escape(room.id)}</R:room-id>
    <R:capacity>{room.capacity}</R:capacity>
    <R:building>{escape(room.building)}</R:building>
    <R:campus>{escape(room.campus)}</R:campus>
  </D:prop></D:set>
</C:mkcalendar>"""


def provision_rooms(config_file: Path, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
                    rooms: tuple[SandboxRoom, ...] = ROOMS) -> list[str]:
    """Create every missing room calendar under ``/<user>/``; return the ids created."""
    from radicale import Application, config

    configuration = config.load([(str(config_file), False)])
    app = Application(configuration)
    created = []
    transport = httpx.WSGITransport(app=app)  # type: ignore[arg-type]
    with httpx.Client(transport=transport, base_url="http://radicale.localhost", auth=(user, password)) as dav:
        home = f"/{user}/"
        if dav.request("PROPFIND", home, headers={"Depth": "0"}).status_code == 404:
            dav.request("MKCOL", home).raise_for_status()
        for room in rooms:
            path = f"{home}{room.collection}/"
            if dav.request("PROPFIND", path, headers={"Depth": "0"}).status_code != 404:
                continue
            response = dav.request("MKCALENDAR", path, content=_mkcalendar_body(room).encode(),
                                   headers={"Content-Type": "application/xml; charset=utf-8"})
            response.raise_for_status()
            created.append(room.id)
    return created
