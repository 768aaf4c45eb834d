"""Request Tracker 5 as a real, isolated test peer (not a stand-in): install, create, serve.

See :mod:`sandbox.rt.instance` for the on-disk layout and the template cache,
:mod:`sandbox.rt.server` for starting it, and ``python -m sandbox.rt --help``.
"""

from sandbox.rt.install import RtInstallError, ensure_packages, rt_installed
from sandbox.rt.instance import RtInstance, RtSetupError, build_template, create, load
from sandbox.rt.server import running, start

__all__ = [
    "RtInstance",
    "RtInstallError",
    "RtSetupError",
    "build_template",
    "create",
    "ensure_packages",
    "load",
    "rt_installed",
    "running",
    "start",
]
