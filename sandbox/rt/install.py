"""Install Request Tracker 5 from Debian packages when it is missing.

Debian 12 ships RT 5 as ``request-tracker5`` (plus ``rt5-db-sqlite`` and
``rt5-standalone``). The package depends on a mail transport agent, so apt pulls in
Exim; on a machine with an init system that would be started. :func:`ensure_packages`
therefore installs with a temporary ``policy-rc.d`` that forbids starting services,
and afterwards checks that no new socket listens on a non-loopback address (stopping
and disabling the MTA/web server units it finds, if systemd runs).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "RT_SERVER",
    "RT_SETUP_DATABASE",
    "APT_PACKAGES",
    "RtInstallError",
    "rt_installed",
    "ensure_packages",
    "non_loopback_listeners",
]

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_SETUP_DATABASE = Path("/usr/sbin/rt-setup-database-5")
APT_PACKAGES = ("request-tracker5", "rt5-db-sqlite", "rt5-standalone")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
# Daemons the RT packages may pull in; none of them may serve beyond 127.0.0.1 here.
SERVICE_UNITS = ("exim4", "postfix", "sendmail", "apache2", "nginx", "lighttpd")

_INSTALL_HINT = (
    "Install it by hand as root: apt-get update && DEBIAN_FRONTEND=noninteractive "
    "apt-get install -y --no-install-recommends " + " ".join(APT_PACKAGES)
    + " — or skip the RT tests with `pytest -m 'not rt'`."
)


class RtInstallError(RuntimeError):
    """Request Tracker is missing and could not be installed."""


def rt_installed() -> bool:
    return RT_SERVER.exists() and RT_SETUP_DATABASE.exists()


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _decode_ipv4(hex_addr: str) -> str:
    return str(ipaddress.IPv4Address(bytes.fromhex(hex_addr)[::-1]))


def _decode_ipv6(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    # /proc stores the address as four host-order (little-endian) 32-bit words.
    return str(ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))


def non_loopback_listeners() -> set[tuple[str, int]]:
    """Every TCP socket in LISTEN state bound to an address other than loopback."""
    found: set[tuple[str, int]] = set()
    for table, decode in (("/proc/net/tcp", _decode_ipv4), ("/proc/net/tcp6", _decode_ipv6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A = LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            address = decode(hex_addr)
            if not _loopback(address):
                found.add((address, int(hex_port, 16)))
    return found


def _run(cmd: Sequence[str], echo: Callable[[str], None], env: dict[str, str]) -> None:
    echo(f"$ {' '.join(cmd)}")
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:
        echo(f"  {line.rstrip()}")
    if proc.wait() != 0:
        raise RtInstallError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}. {_INSTALL_HINT}")


def _quiet_services(echo: Callable[[str], None]) -> None:
    """Stop and disable daemons that came with the packages (only when systemd runs)."""
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return
    for unit in SERVICE_UNITS:
        probe = subprocess.run(["systemctl", "list-unit-files", f"{unit}.service"],
                               capture_output=True, text=True, check=False)
        if f"{unit}.service" in probe.stdout:
            echo(f"stopping and disabling {unit}.service (RT sends no mail and runs its own server)")
            subprocess.run(["systemctl", "disable", "--now", f"{unit}.service"], check=False,
                           capture_output=True)


def ensure_packages(*, echo: Callable[[str], None] = print) -> bool:
    """Install RT 5 with apt unless present. Returns True if something was installed."""
    if rt_installed():
        return False
    echo(f"Request Tracker 5 is missing ({RT_SERVER} not found); installing {', '.join(APT_PACKAGES)}")
    if os.geteuid() != 0:
        raise RtInstallError(f"Request Tracker 5 is not installed and this process is not root. {_INSTALL_HINT}")
    if shutil.which("apt-get") is None:
        raise RtInstallError(f"Request Tracker 5 is not installed and apt-get is not available. {_INSTALL_HINT}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", APT_LISTCHANGES_FRONTEND="none")
    before = non_loopback_listeners()
    own_policy = not POLICY_RC_D.exists()
    if own_policy:
        # Tell invoke-rc.d/deb-systemd-invoke not to start any service during the install.
        POLICY_RC_D.write_text("#!/bin/sh\n# written by sandbox.rt.install for the duration of an apt run\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        _run(["apt-get", "update"], echo, env)
        _run(["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES], echo, env)
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    _quiet_services(echo)
    new = non_loopback_listeners() - before
    if new:
        shown = ", ".join(f"{addr}:{port}" for addr, port in sorted(new))
        raise RtInstallError(f"after installing RT something listens beyond loopback: {shown}. "
                             "Stop that service (e.g. `systemctl disable --now exim4`) before going on.")
    if not rt_installed():
        raise RtInstallError(f"apt-get finished but {RT_SERVER} is still missing. {_INSTALL_HINT}")
    echo("Request Tracker 5 installed; no service was started.")
    return True
