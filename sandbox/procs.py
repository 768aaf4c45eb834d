"""Starting and stopping local processes (the sandboxes, and the hub's own servers and workers).

The ground floor of everything that runs the hub locally: each sandbox's launcher, the dev
stack and demo (:mod:`devtools`), the tests' fixtures and the benchmarks, so that every one of
them starts things the same way: on 127.0.0.1, with a log file, waiting until healthy, and
stopping cleanly (SIGTERM, then SIGKILL after a grace period) with the whole process group.

Every process is started in a session and process group of its own
(``start_new_session``); whatever it forks stays in that group unless it calls ``setsid``
itself. The hub runner's multiprocessing fork server and the flow-run processes it forks
do stay there, so stopping the group stops them too, even when the leader is already dead
(:func:`kill_processes`, :meth:`Proc.stop`). :func:`process_table` reads ``/proc`` so a
supervisor can also remember a process's descendants while it is alive
(:mod:`devtools.supervise`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.settings import ROOT

__all__ = ["free_port", "wait_http", "wait_tcp", "Proc", "start", "respawn", "python_module", "ROOT",
           "ProcInfo", "process_table", "descendants", "group_members", "kill_processes", "describe_exit"]



#: Where :func:`free_port` claims its ports, one file per port holding the claimant's pid.
PORT_CLAIMS = Path(tempfile.gettempdir()) / "hub-port-claims"
_LOWEST_PORT = 10000


def _ephemeral_floor() -> int:
    """The first port of the kernel's ephemeral range (the local ports of outgoing connections)."""
    try:
        return min(int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]), 32768)
    except (OSError, ValueError, IndexError):
        return 32768


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(port: int) -> bool:
    """Claim ``port`` for this process, unless a live process has claimed it already."""
    PORT_CLAIMS.mkdir(parents=True, exist_ok=True)
    path = PORT_CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(path.read_text() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder == os.getpid() or (holder and _alive(holder)):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left by a process that has ended
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        return True
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and no other live process has claimed.

    Not ``bind(0)``: that hands out a port from the kernel's ephemeral range, which the kernel
    may next give to any outgoing connection as its local port, and then the server meant to
    listen there fails with "address already in use". CI saw that: three test processes and
    a chaos bench make thousands of connections while the end-to-end stack starts. The port
    is picked at random below that range instead, and claimed in :data:`PORT_CLAIMS` for as
    long as this process lives, so two test processes that start stacks at the same moment
    never pick the same one.
    """
    floor = _ephemeral_floor()
    for _ in range(1000):
        port = random.randrange(_LOWEST_PORT, floor)
        if not _claim(port):
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use by something that does not claim; stays claimed, so not tried again
        return port
    raise RuntimeError(f"no free TCP port between {_LOWEST_PORT} and {floor} on 127.0.0.1 after 1,000 tries; "
                       f"clear {PORT_CLAIMS} if it holds claims of processes that have ended")


def wait_tcp(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
        time.sleep(0.1)


def wait_http(url: str, timeout: float = 60.0, ok: Callable[[httpx.Response], bool] | None = None,
              proc: Proc | None = None, interval: float = 0.2) -> None:
    """Poll ``url`` every ``interval`` s until it answers (any status < 500, or ``ok(response)``)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} before it was "
                               f"ready; see {proc.log_path}:\n{proc.tail()}")
        try:
            response = httpx.get(url, timeout=2.0)
            if (ok(response) if ok else response.status_code < 500):
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = exc.__class__.__name__
        time.sleep(interval)
    where = f"; see {proc.log_path}:\n{proc.tail()}" if proc else ""
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last}){where}")


# ---- the process table -------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    """One line of ``/proc/<pid>/stat``; ``start`` (clock ticks after boot) tells a reused pid apart."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int
    comm: str

    def __str__(self) -> str:
        return f"{self.comm} {self.pid}"


def _read_stat(pid: int) -> ProcInfo | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return ProcInfo(pid=pid, ppid=int(rest[1]), pgid=int(rest[2]), sid=int(rest[3]), state=rest[0],
                    start=int(rest[19]), comm=comm)


def process_table() -> dict[int, ProcInfo]:
    """Every process on the host (Linux ``/proc``), zombies excluded."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            info = _read_stat(int(entry.name))
            if info is not None and info.state not in ("Z", "X"):
                table[info.pid] = info
    return table


def descendants(pid: int, table: Mapping[int, ProcInfo] | None = None) -> list[ProcInfo]:
    """Children, grandchildren … of ``pid`` (in whatever process group or session they are)."""
    table = process_table() if table is None else table
    children: dict[int, list[ProcInfo]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def group_members(pgid: int, table: Mapping[int, ProcInfo] | None = None) -> list[ProcInfo]:
    """Live processes in process group ``pgid``."""
    table = process_table() if table is None else table
    return [info for info in table.values() if info.pgid == pgid]


def _still(info: ProcInfo) -> bool:
    """Is this very process (same pid *and* start time) still alive?"""
    now = _read_stat(info.pid)
    return now is not None and now.start == info.start and now.state not in ("Z", "X")


def _signal(info: ProcInfo, sig: int) -> None:
    if _still(info):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info.pid, sig)


def kill_processes(pgid: int | None, extra: Iterable[ProcInfo] = (), grace: float = 3.0) -> list[ProcInfo]:
    """Stop process group ``pgid`` and the ``extra`` processes: SIGTERM, ``grace`` s, SIGKILL.

    Works when the group's leader is gone: the group lives on while any member does, and
    Linux does not hand its number to a new process meanwhile. ``extra`` are processes
    recorded earlier (e.g. descendants that left the group); each is signalled only if
    its pid still has the recorded start time. Returns what was found and signalled.
    """
    def targets() -> dict[tuple[int, int], ProcInfo]:
        table = process_table()
        found = {(p.pid, p.start): p for p in (group_members(pgid, table) if pgid else [])}
        found.update({(p.pid, p.start): p for p in extra if _still(p)})
        return {key: p for key, p in found.items() if p.pid != os.getpid()}

    signalled: dict[tuple[int, int], ProcInfo] = {}
    alive = targets()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        deadline = time.monotonic() + wait
        while alive:
            for key, info in alive.items():
                if sig == signal.SIGKILL or key not in signalled:
                    _signal(info, sig)
                signalled.setdefault(key, info)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
            alive = targets()
        if not alive:
            break
    return list(signalled.values())


def describe_exit(returncode: int | None) -> str:
    """``exit code 1`` or ``killed by SIGKILL``: how a process ended, in words."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


# ---- processes the hub starts ------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # How it was started, so that it can be started again exactly so (see respawn).
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    log_offset: int = 0  # size of the log when this process started
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def output(self) -> str:
        """What this process (not an earlier one with the same log) has written."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def group(self) -> list[ProcInfo]:
        """Live processes in this process's group (itself, the fork server, flow runs …)."""
        return group_members(self.popen.pid)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, SIGKILL after ``grace``; also when the leader is already dead."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        kill_processes(self.popen.pid, grace=min(grace, 3.0))  # what the leader left behind


def start(name: str, cmd: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None, url: str | None = None) -> Proc:
    """Start ``cmd`` in its own process group, output to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        offset = log.tell()
        popen = subprocess.Popen(
            list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, cwd=str(cwd or ROOT), start_new_session=True,
        )
    return Proc(name=name, popen=popen, log_path=log_path, url=url, cmd=list(cmd), env=full_env,
                cwd=cwd, log_offset=offset)


def respawn(proc: Proc) -> Proc:
    """Start ``proc``'s command again: same name, environment, folder, log file and URL."""
    if not proc.cmd:
        raise ValueError(f"{proc.name} was not started by sandbox.procs.start; cannot start it again")
    new = start(proc.name, proc.cmd, log_dir=proc.log_path.parent, env=proc.env, cwd=proc.cwd, url=proc.url)
    new.extra.update(proc.extra)
    return new


def python_module(module: str, *args: str) -> list[str]:
    """Command line that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
