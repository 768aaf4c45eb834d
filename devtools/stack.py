"""The whole local stack, started the same way by the demo, the tests and the benchmarks.

Parts, each on 127.0.0.1 with its log in ``<home>/logs``:

- Prefect server (SQLite in ``<home>/prefect``) — orchestration and the UI;
- the hub runner (``python -m deployments``) — executes every deployment;
- the intake receiver (``python -m hub.intake``) — HR events in;
- sandboxes for DFØ (HR), Nettskjema (forms), TOPdesk, the Noark 5 archive core and Public 360
  (SIF; the archive chosen with ``HUB_ARCHIVE=p360``); an SMTP sink;
- a real CalDAV server (Radicale) with the group-room calendars;
- a real Request Tracker 5 instance (Debian's package), created from a cached template.

Ports come from :data:`hub.settings.PORTS` for the demo, or are picked free for tests.

Start-up is the critical path of every end-to-end test session, so :meth:`Stack.start_all`
starts what does not depend on Prefect (sandboxes, the ledger, the intake, RT) while the
Prefect server starts, and only the runner waits for Prefect. A new Prefect home gets a copy
of a migrated, empty SQLite database cached under ``$HUB_CACHE`` (one per Prefect version and
set of migrations) instead of running Prefect's ~100 migrations again (10–20 s of CPU).

:meth:`Stack.supervise` keeps the parts running (:mod:`devtools.supervise`): a part that dies
is cleared away with its whole process group and restarted with back-off. The chaos
benchmark and the recovery tests crash a part on purpose with :meth:`Stack.kill` and
wait for it with :meth:`Stack.wait_restarted`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.supervise import Policy, Supervisor, http_ready
from hub.settings import PORTS
from sandbox.common import TOKEN_ENV, check_control, keep_token
from sandbox.procs import ROOT, Proc, free_port, python_module, start, wait_http, wait_tcp

__all__ = ["Stack", "StackPorts", "SANDBOXES"]

SANDBOXES = ("dfo", "noark5", "nettskjema", "topdesk", "p360")  # HTTP sandboxes with /_sandbox/faults

Progress = Callable[[str], None]


@dataclass
class StackPorts:
    prefect: int
    intake: int
    dfo: int
    noark5: int
    rt: int
    smtp: int
    nettskjema: int
    radicale: int
    topdesk: int
    p360: int

    @classmethod
    def defaults(cls) -> StackPorts:
        return cls(**{name: PORTS[name] for name in ("prefect", "intake", "dfo", "noark5", "rt", "smtp",
                                                     "nettskjema", "radicale", "topdesk", "p360")})

    @classmethod
    def free(cls) -> StackPorts:
        return cls(prefect=free_port(), intake=free_port(), dfo=free_port(), noark5=free_port(),
                   rt=free_port(), smtp=free_port(), nettskjema=free_port(), radicale=free_port(),
                   topdesk=free_port(), p360=free_port())


@dataclass
class Stack:
    home: Path
    ports: StackPorts = field(default_factory=StackPorts.defaults)
    secrets: dict[str, str] = field(default_factory=lambda: {
        "hmac": "sandbox-hmac-secret", "dfo_key": "sandbox-dfo-key", "n5ws_password": "sandbox-n5ws-password",
        "nettskjema_secret": "sandbox-nettskjema-secret", "caldav_password": "sandbox-caldav-password",
        "p360_auth_key": "sandbox-p360-authkey"})
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    supervisor: Supervisor | None = field(default=None, init=False, repr=False)
    _killed: dict[str, tuple[int, float]] = field(default_factory=dict, init=False, repr=False)

    # ---- addresses ---------------------------------------------------------------------

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.ports.prefect}/api"

    @property
    def prefect_ui(self) -> str:
        return f"http://127.0.0.1:{self.ports.prefect}"

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.intake}"

    @property
    def dfo_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.dfo}"

    @property
    def dfo_api(self) -> str:
        return f"{self.dfo_url}/api"

    @property
    def noark5_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.noark5}/noark5v5"

    @property
    def rt_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rt}"

    @property
    def nettskjema_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.nettskjema}"

    @property
    def topdesk_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.topdesk}"

    @property
    def p360_url(self) -> str:
        """The Public 360 sandbox's root (``/_sandbox`` lives here)."""
        return f"http://127.0.0.1:{self.ports.p360}"

    @property
    def p360_api(self) -> str:
        """The SIF JSON RPC root the p360 connector calls ``{Service}/{Method}`` under."""
        from sandbox.p360 import RPC_PREFIX

        return f"{self.p360_url}{RPC_PREFIX}"

    @property
    def radicale_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.radicale}"

    @property
    def maildir(self) -> Path:
        return self.home / "mail"

    @property
    def rt_dir(self) -> Path:
        return self.home / "rt"

    @property
    def sandbox_token(self) -> str:
        """The sandboxes' control token: ``$HUB_SANDBOX_TOKEN``, else one per home, kept in
        ``<home>/sandbox/control-token`` (0600) so a restarted demo keeps it."""
        if "sandbox_token" not in self.secrets:
            self.secrets["sandbox_token"] = keep_token(self.home / "sandbox" / "control-token",
                                                      os.environ.get(TOKEN_ENV))
        return self.secrets["sandbox_token"]

    def env(self) -> dict[str, str]:
        """Environment for every hub process: where everything is, and Prefect's settings."""
        env = {
            "HUB_HOME": str(self.home),
            TOKEN_ENV: self.sandbox_token,  # every sandbox's /_sandbox routes
            "HUB_PREFECT_API_URL": self.prefect_api,
            "HUB_INTAKE__PORT": str(self.ports.intake),
            "HUB_INTAKE__HMAC_SECRET": self.secrets["hmac"],
            "HUB_DFO__BASE_URL": self.dfo_api,
            "HUB_DFO__API_KEY": self.secrets["dfo_key"],
            "HUB_N5WS__BASE_URL": self.noark5_url,
            "HUB_N5WS__PASSWORD": self.secrets["n5ws_password"],
            "HUB_RT__BASE_URL": self.rt_url,
            "HUB_RT__TOKEN_FILE": str(self.rt_dir / "hub-token"),
            "HUB_SMTP__BASE_URL": f"smtp://127.0.0.1:{self.ports.smtp}",
            "HUB_NETTSKJEMA__BASE_URL": f"{self.nettskjema_url}/api/v3",
            "HUB_NETTSKJEMA__TOKEN_URL": f"{self.nettskjema_url}/oauth2/token",
            "HUB_NETTSKJEMA__CLIENT_SECRET": self.secrets["nettskjema_secret"],
            "HUB_CALDAV__BASE_URL": self.radicale_url,
            "HUB_TOPDESK__BASE_URL": f"{self.topdesk_url}/tas/api",
            "HUB_P360__BASE_URL": self.p360_api,
            "HUB_P360__AUTH_KEY": self.secrets["p360_auth_key"],
            "HUB_P360__CLIENT_ID": "oslomet-hub",
            "HUB_CALDAV__PASSWORD": self.secrets["caldav_password"],
            "HUB_ROOMS__REPLY_MAILDIR": str(self.maildir),
            "PREFECT_API_URL": self.prefect_api,
            "PREFECT_HOME": str(self.home / "prefect"),
            "PREFECT_LOGGING_SETTINGS_PATH": str(ROOT / "hub" / "logging.yml"),
            "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.ports.prefect),
            "PREFECT_UI_API_URL": self.prefect_api,
            # A run that finds its deployment's concurrency limit full is re-offered after
            # this many seconds (Prefect's default, 30 s, stalls a burst of hires).
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "3",
            # A step denied a global slot (RT's write slots) asks again after Prefect's
            # Retry-After: the limit's average occupancy times the slots denied lately, up to
            # this cap (Prefect's default, 30 s, left a freed slot idle while the next laptop
            # order slept; measured in bench/backlog.py).
            "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "1",
            # Slot leases on disk, not in memory: slots held when the server is restarted
            # (the supervisor, the chaos benchmark) are otherwise never given back.
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
            # The server's CSRF protection is off (Prefect's default): a client that supports it
            # asks for a token before its first write and is told 422, once per client — 335
            # requests in a burst of 80 items (bench/backlog), several per flow run.
            "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "false",
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # dead runs are found by missing heartbeats (hub.recovery)
            # SQLite by default; PostgreSQL for scale (postgresql+asyncpg://...).
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": os.environ.get("HUB_PREFECT_DATABASE_URL")
                or f"sqlite+aiosqlite:///{self.home / 'prefect' / 'prefect.db'}",
            # The local API is plain HTTP; a one-certificate bundle instead of the full CA
            # bundle saves ~35 ms per Prefect client, three or four per flow run.
            "PREFECT_API_SSL_CERT_FILE": str(self._small_ca_bundle()),
            "DO_NOT_TRACK": "1",
            "PYTHONPATH": str(ROOT),
        }
        env.update(self.extra_env)
        return env

    def _small_ca_bundle(self) -> Path:
        import certifi

        path = self.home / "prefect" / "local-api-ca.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            bundle = Path(certifi.where()).read_text()
            end = "-----END CERTIFICATE-----"
            path.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index(end) + len(end)] + "\n")
        return path

    def apply_env(self) -> None:
        """Make this process (a test session, the demo) talk to this stack."""
        os.environ.update(self.env())
        from prefect.context import refresh_global_settings_context

        from hub.settings import get_settings

        refresh_global_settings_context()  # Prefect read its settings at import
        get_settings.cache_clear()

    # ---- processes ---------------------------------------------------------------------

    def _start(self, name: str, cmd: list[str], url: str | None = None,
               env: dict[str, str] | None = None) -> Proc:
        proc = start(name, cmd, log_dir=self.logs, env={**self.env(), **(env or {})}, url=url)
        self._add(name, proc)
        return proc

    def _add(self, name: str, proc: Proc) -> None:
        self.procs[name] = proc
        if self.supervisor is not None and not self.supervisor.stopping:
            self.supervisor.watch(name, proc)

    def start_prefect(self) -> Proc:
        (self.home / "prefect").mkdir(parents=True, exist_ok=True)
        self._seed_prefect_db()
        return self._start("prefect-server", [sys.executable, "-m", "prefect", "server", "start",
                                              "--host", "127.0.0.1", "--port", str(self.ports.prefect)],
                           url=self.prefect_ui)

    def _seed_prefect_db(self) -> None:
        """A new home's Prefect database starts as a copy of a cached, migrated empty one."""
        if os.environ.get("HUB_PREFECT_DATABASE_URL") or "PREFECT_SERVER_DATABASE_CONNECTION_URL" in self.extra_env:
            return  # PostgreSQL (or a database of the caller's): Prefect migrates it itself
        target = self.home / "prefect" / "prefect.db"
        if target.exists():
            return
        try:
            template = prefect_db_template()
        except (OSError, subprocess.SubprocessError) as exc:  # Prefect migrates a new file itself
            print(f"[stack] no Prefect database template ({exc}); the server migrates its own", file=sys.stderr)
            return
        partial = target.with_name(f"prefect.db.copy-{os.getpid()}")
        shutil.copyfile(template, partial)
        partial.rename(target)

    def start_sandboxes(self) -> None:
        data = self.home / "sandbox"
        self._start("dfo", python_module("sandbox.dfo", "--port", str(self.ports.dfo),
                                         "--data-dir", str(data / "dfo"), "--api-key", self.secrets["dfo_key"],
                                         "--intake-url", f"{self.intake_url}/events/hr",
                                         "--hmac-secret", self.secrets["hmac"]), url=self.dfo_url)
        self._start("noark5", python_module("sandbox.noark5", "--port", str(self.ports.noark5),
                                            "--data-dir", str(data / "noark5"), "--username", "hub",
                                            "--password", self.secrets["n5ws_password"]), url=self.noark5_url)
        self._start("smtp", python_module("sandbox.smtp", "--port", str(self.ports.smtp),
                                          "--maildir", str(self.maildir)))
        self._start("nettskjema", python_module("sandbox.nettskjema", "--port", str(self.ports.nettskjema),
                                                "--data-dir", str(data / "nettskjema"), "--client-id", "hub-client",
                                                "--client-secret", self.secrets["nettskjema_secret"]),
                    url=self.nettskjema_url)
        self._start("topdesk", python_module("sandbox.topdesk", "--port", str(self.ports.topdesk),
                                             "--data-dir", str(data / "topdesk")), url=self.topdesk_url)
        self._start("p360", python_module("sandbox.p360", "--port", str(self.ports.p360),
                                          "--data-dir", str(data / "p360"), "--client-id", "oslomet-hub"),
                    url=self.p360_url, env={"P360_SANDBOX_AUTH_KEY": self.secrets["p360_auth_key"]})
        self._start("radicale", python_module("sandbox.radicale", "--port", str(self.ports.radicale),
                                              "--data-dir", str(data / "radicale"),
                                              "--password", self.secrets["caldav_password"]), url=self.radicale_url)

    def start_rt(self, progress: Progress = print) -> Proc:
        """A real Request Tracker 5: created once from a cached template, kept in ``<home>/rt``."""
        import sandbox.rt as rt

        rt.ensure_packages(echo=progress)
        if (self.rt_dir / "instance.json").exists():
            instance = rt.load(self.rt_dir, self.ports.rt)
        else:
            progress("Request Tracker: creating an isolated instance (the first time takes a minute)")
            instance = rt.create(self.rt_dir, self.ports.rt)
        proc = rt.start(instance)
        self._add("rt", proc)
        return proc

    def start_hub(self) -> None:
        self.start_intake()
        self.start_runner()

    def start_intake(self) -> Proc:
        """The receiver answers (and stores events) without Prefect; its sweeper dispatches later."""
        return self._start("intake", python_module("hub.intake"), url=self.intake_url,
                           env={"PREFECT_CLIENT_MAX_RETRIES": "0"})  # the dispatcher retries faster itself

    def start_runner(self) -> Proc:
        """The runner registers the deployments at once: start it when Prefect is healthy."""
        return self._start("runner", python_module("deployments"))

    def wait_prefect(self, timeout: float = 120.0) -> None:
        wait_http(f"{self.prefect_api}/health", timeout, proc=self.procs["prefect-server"],
                  ok=lambda r: r.status_code == 200, interval=0.1)

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.wait_prefect(timeout)
        for name in SANDBOXES:
            if name in self.procs:
                wait_http(f"{self.procs[name].url}/_sandbox/faults", timeout, proc=self.procs[name])
                check_control(self.procs[name].url, self.sandbox_token)
        if "smtp" in self.procs:
            wait_tcp(self.ports.smtp, timeout)
        if "radicale" in self.procs:  # 401 until a client logs in: it is up
            wait_http(f"{self.radicale_url}/hub/", timeout, proc=self.procs["radicale"],
                      ok=lambda r: r.status_code in (200, 207, 401))
        if "intake" in self.procs:
            wait_http(f"{self.intake_url}/health", timeout, proc=self.procs["intake"],
                      ok=lambda r: r.status_code == 200)

    def wait_runner(self, timeout: float = 90.0) -> None:
        """Wait until the runner has registered the deployments."""
        import httpx

        deadline = time.monotonic() + timeout
        proc = self.procs["runner"]
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"the runner exited; see {proc.log_path}:\n{proc.tail()}")
            if "hub runner: serving" in proc.output():  # this process's lines, not a crashed one's
                r = httpx.post(f"{self.prefect_api}/deployments/filter", json={"limit": 50}, timeout=5)
                if r.status_code == 200 and r.json():
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the runner did not register deployments in {timeout:.0f}s; see {proc.log_path}")

    def ensure_ports_free(self) -> None:
        """Refuse to start over another running stack: it would answer our health checks."""
        busy = []
        for name, port in vars(self.ports).items():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    busy.append(f"{name} ({port})")
        if busy:
            raise RuntimeError(f"ports already in use: {', '.join(busy)}. Is another hub running? "
                               f"Stop it (Ctrl-C in its terminal) or free the ports.")

    def start_all(self, progress: Progress = print, *, with_rt: bool = True) -> None:
        """Start every part; what needs no Prefect starts while the Prefect server does."""
        self.ensure_ports_free()
        self.home.mkdir(parents=True, exist_ok=True)
        progress("starting the Prefect server, the sandboxes (DFØ, Nettskjema, Noark 5, TOPdesk, Public 360), "
                 "Radicale (CalDAV) and the SMTP sink")
        self.start_prefect()
        self.start_sandboxes()
        rt_failed: list[BaseException] = []
        rt = threading.Thread(target=self._start_rt_into, args=(progress, rt_failed), name="start-rt", daemon=True)
        if with_rt:
            rt.start()  # RT's own start waits until REST2 takes the hub's token
        try:
            self.apply_env()
            from hub.wiring import get_ledger

            get_ledger(migrate=True)  # create or migrate the ledger once, before several processes open it
            progress("starting the intake receiver")
            self.start_intake()
            progress("waiting for the Prefect server to be healthy")
            self.wait_prefect()
            progress("starting the hub runner (deployments)")
            self.start_runner()
        finally:  # RT is in self.procs before anything is stopped
            if with_rt:
                rt.join()
        if rt_failed:
            raise rt_failed[0]
        self.wait_ready()
        self.wait_runner()
        progress("stack ready")

    def _start_rt_into(self, progress: Progress, failed: list[BaseException]) -> None:
        try:
            self.start_rt(progress)
        except BaseException as exc:  # re-raised by start_all in the calling thread
            failed.append(exc)

    def stop_all(self) -> None:
        """Stop the hub's own processes first (they report to Prefect as they stop), then the rest
        at once: each gets SIGTERM together and the same grace, not one grace after another."""
        if self.supervisor is not None:
            self.supervisor.stop()  # first: a deliberate stop restarts nothing
        for names in (("runner", "intake"), None):
            batch = [self.procs.pop(name) for name in (names or list(self.procs)) if name in self.procs]
            _stop_together(batch)
        self.procs.clear()

    # ---- supervision -------------------------------------------------------------------

    def ready(self, name: str, proc: Proc) -> bool:
        """One health probe of a part, the same as :meth:`wait_ready` waits for."""
        if name == "prefect-server":
            return http_ready(f"{self.prefect_api}/health", lambda r: r.status_code == 200)
        if name in SANDBOXES:
            return http_ready(f"{proc.url}/_sandbox/faults")
        if name == "radicale":
            return http_ready(f"{self.radicale_url}/hub/", lambda r: r.status_code in (200, 207, 401))
        if name == "intake":
            return http_ready(f"{self.intake_url}/health", lambda r: r.status_code == 200)
        if name == "smtp":
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.ports.smtp)) == 0
        if name == "runner":
            return "hub runner: serving" in proc.output()
        if name == "rt":  # REST2 accepts the hub's token (RT answers its login page before that)
            token = self.rt_dir / "hub-token"
            return token.exists() and _rt_rest_ready(self.rt_url, token.read_text().strip())
        return proc.url is None or http_ready(proc.url)

    def supervise(self, policy: Policy | None = None, say: Callable[[str], None] | None = None,
                  advice: str = "fix the cause, then start the stack again") -> Supervisor:
        """Supervise every part started so far, in a background thread (idempotent)."""
        if self.supervisor is None or self.supervisor.stopping:
            self.supervisor = Supervisor(self.procs, ready=self.ready, policy=policy, say=say, advice=advice)
        return self.supervisor.start()

    def kill(self, name: str, sig: int = signal.SIGKILL, *, hold: bool = False) -> int:
        """Crash a part as ``kill -9 <pid>`` would; the supervisor restarts it unless ``hold``.

        Returns the pid killed. The supervisor restarts it after its first delay (1 s) however
        often it is killed so; with ``hold`` the part stays down until :meth:`release`.
        """
        proc = self.procs[name]
        if self.supervisor is not None:
            if hold:
                self.supervisor.hold(name)
            else:  # injected, not a crash loop: never counted towards giving up
                self.supervisor.injected(name)
            self._killed[name] = (self.supervisor.restarts(name), time.time())
        os.kill(proc.pid, sig)
        return proc.pid

    def release(self, name: str) -> None:
        """Let the supervisor start a held (or given-up) part again, now."""
        if self.supervisor is None:
            raise RuntimeError("the stack is not supervised; call stack.supervise() first")
        self.supervisor.release(name)

    def wait_restarted(self, name: str, timeout: float = 180.0) -> float:
        """Wait until ``name`` is restarted and ready after :meth:`kill`; seconds from kill to ready."""
        if self.supervisor is None:
            raise RuntimeError("the stack is not supervised; call stack.supervise() first")
        after, killed_at = self._killed.pop(name, (self.supervisor.restarts(name), time.time()))
        event = self.supervisor.wait_for(name, "restarted", after=after, timeout=timeout)
        return event.at - killed_at


def _stop_together(procs: list[Proc], grace: float = 10.0) -> None:
    """:meth:`Proc.stop` for several processes, their graces running side by side."""
    for proc in procs:
        if proc.popen.poll() is None:
            try:
                os.killpg(proc.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:  # SIGKILL what outlived the grace; clear what the leaders left behind
        proc.stop(grace=0.5)


def _cache_root() -> Path:
    return Path(os.environ.get("HUB_CACHE") or Path.home() / ".cache" / "oslomet-hub")


def _prefect_migrations_key() -> str:
    """Prefect's version and its SQLite migrations: a new template whenever either changes."""
    from importlib.metadata import version
    from importlib.util import find_spec

    spec = find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations
    migrations = Path(next(iter(spec.submodule_search_locations))) / "server/database/_migrations/versions/sqlite"
    digest = hashlib.sha256(version("prefect").encode())
    for path in sorted(migrations.glob("*.py")):
        digest.update(b"\0" + path.name.encode())
    return digest.hexdigest()[:16]


def prefect_db_template() -> Path:
    """A migrated, empty Prefect SQLite database, built once per Prefect version (then cached)."""
    target = _cache_root() / f"prefect-db-{_prefect_migrations_key()}.db"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f"{target.stem}.building-{os.getpid()}-{threading.get_ident()}"
    building.mkdir()
    try:
        db = building / "prefect.db"
        env = {**os.environ, "PREFECT_HOME": str(building), "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}"}
        subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=600)
        if not db.exists() or any(building.glob("prefect.db-*")):  # not one closed, complete file
            raise OSError(f"Prefect's migrations left no complete database in {building}")
        db.rename(target)  # atomic; a concurrent builder's equal file may win
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _rt_rest_ready(rt_url: str, token: str) -> bool:
    import httpx

    try:
        response = httpx.get(f"{rt_url}/REST/2.0/rt", headers={"Authorization": f"token {token}"}, timeout=5.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "Version" in response.text
