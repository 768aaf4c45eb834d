"""The production shape on one machine: PostgreSQL, Redis, a split Prefect server and N workers.

::

    postgres (Debian's)      Prefect's database and the hub's ledger
    redis-server (Debian's)  Prefect's event messaging, causal ordering, slot leases, docket
    prefect-server           the API and UI only (--no-services)
    prefect-services         the scheduler, triggers, zombie detection... in their own process
    worker-1 … worker-N      `python -m deployments worker --pool hub`: each flow run in its own
                             process, forked from a preloaded fork server
    intake, sandboxes, RT    as in the embedded stack (:class:`devtools.stack.Stack`)

The deployments are registered in the work pool by ``python -m deployments deploy`` (the
same catalog the embedded runner serves). A worker killed with ``kill -9`` is restarted by
the supervisor; its running flow runs are marked Crashed by the zombie automation and
their work items taken over by ``redrive-stuck`` once their lease ends — the ledger's claims
keep any item from being worked twice at once.

``docs/production.md`` describes the same processes on real hosts.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.pgcluster import create_databases, init_cluster, postgres_command
from devtools.stack import Progress, Stack, _stop_together
from sandbox.procs import Proc, free_port, wait_tcp

__all__ = ["ScaledStack", "DEMO_PG_PORT", "DEMO_REDIS_PORT"]

PREFECT_DB = "prefect"
LEDGER_DB = "hub_ledger"
# The demo's (scripts/demo.sh --scale N); tests and benchmarks pick free ports.
DEMO_PG_PORT = 8708
DEMO_REDIS_PORT = 8709


@dataclass
class ScaledStack(Stack):
    workers: int = 3
    pool: str = "hub"
    worker_limit: int = 8  # flow runs at once per worker
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)

    # ---- where things are ----------------------------------------------------------------

    @property
    def pg_data(self) -> Path:
        return self.home / "postgres"

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{n}" for n in range(1, self.workers + 1)]

    def env(self) -> dict[str, str]:
        env = super().env()
        redis = f"redis://127.0.0.1:{self.redis_port}"
        env.update({
            "PREFECT_SERVER_DATABASE_CONNECTION_URL":
                f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{PREFECT_DB}",
            "HUB_LEDGER_URL": f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/{LEDGER_DB}",
            "PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect_redis.messaging",
            "PREFECT_SERVER_EVENTS_MESSAGING_CACHE": "prefect_redis.messaging",
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
            "PREFECT_REDIS_MESSAGING_URL": f"{redis}/0",
            "PREFECT_SERVER_DOCKET_URL": f"{redis}/1",
            # A worker asks for runs every second (Prefect's default, 10 s, is most of the
            # time from an HR event to running code).
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            # Prefect keeps 5 database connections per process and opens up to 10 more for one
            # use each: under a backlog most sessions got a new PostgreSQL backend (a fork, the
            # login, asyncpg's type introspection). 20 kept connections (docs/production.md).
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "20",
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": "10",
        })
        env.update(self.extra_env)
        return env

    # ---- processes -------------------------------------------------------------------------

    def start_backing(self) -> None:
        """PostgreSQL and Redis, each in the foreground under the supervisor like every part."""
        made = init_cluster(self.pg_data)
        self._start("postgres", postgres_command(self.pg_data, self.pg_port))
        (self.home / "redis").mkdir(parents=True, exist_ok=True)
        self._start("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                              "--dir", str(self.home / "redis"), "--appendonly", "yes", "--save", "",
                              "--protected-mode", "yes"])
        wait_tcp(self.pg_port, 60)
        wait_tcp(self.redis_port, 30)
        deadline = time.monotonic() + 30
        while True:  # the port opens a moment before the server takes connections
            try:
                create_databases(self.pg_port, PREFECT_DB, LEDGER_DB)
                break
            except (subprocess.CalledProcessError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        if made:
            print(f"[stack] PostgreSQL cluster created in {self.pg_data}", flush=True)

    def _seed_prefect_db(self) -> None:
        """PostgreSQL: the API server migrates it itself."""

    def start_prefect(self) -> Proc:
        self.start_backing()
        (self.home / "prefect").mkdir(parents=True, exist_ok=True)
        return self._start("prefect-server", [sys.executable, "-m", "prefect", "server", "start", "--no-services",
                                              "--host", "127.0.0.1", "--port", str(self.ports.prefect)],
                           url=self.prefect_ui)

    def start_runner(self) -> Proc:
        """Instead of the embedded runner: the background services (once the API has migrated the
        database), the deployments in the work pool, and the workers."""
        self._start("prefect-services", [sys.executable, "-m", "prefect", "server", "services", "start"],
                    env={"PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false"})
        self.deploy()
        procs = [self.start_worker(name) for name in self.worker_names]
        return procs[0]

    def deploy(self) -> None:
        log = self.logs / "deploy.log"
        with log.open("ab") as out:
            done = subprocess.run([sys.executable, "-m", "deployments", "deploy", "--pool", self.pool],
                                  env=self.env(), stdout=out, stderr=subprocess.STDOUT, timeout=300)
        if done.returncode:
            raise RuntimeError(f"registering the deployments in the work pool failed; see {log}:\n"
                               + log.read_text()[-2000:])

    def start_worker(self, name: str) -> Proc:
        """The hub's worker: Prefect's process worker, each run forked from a preloaded fork server."""
        return self._start(name, [sys.executable, "-m", "deployments", "worker", "--pool", self.pool,
                                  "--name", name, "--limit", str(self.worker_limit)])

    def wait_runner(self, timeout: float = 90.0) -> None:
        """Wait until every worker is online in the pool."""
        import httpx

        deadline = time.monotonic() + timeout
        online: set[str] = set()
        while time.monotonic() < deadline:
            for name in self.worker_names:
                proc = self.procs[name]
                if not proc.alive():
                    raise RuntimeError(f"{name} exited; see {proc.log_path}:\n{proc.tail()}")
            r = httpx.post(f"{self.prefect_api}/work_pools/{self.pool}/workers/filter", json={}, timeout=5)
            if r.status_code == 200:
                online = {w["name"] for w in r.json() if w.get("status") == "ONLINE"}
                if set(self.worker_names) <= online:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"workers online after {timeout:.0f}s: {sorted(online)} of {self.worker_names}")

    def start_all(self, progress: Progress = print, *, with_rt: bool = True) -> None:
        progress(f"the production shape: PostgreSQL, Redis, the Prefect API and its services apart, "
                 f"{self.workers} worker(s)")
        super().start_all(progress, with_rt=with_rt)

    def stop_all(self) -> None:
        """Workers first (they hand their runs back to Prefect as they stop), databases last."""
        if self.supervisor is not None:
            self.supervisor.stop()
        _stop_together([self.procs.pop(n) for n in self.worker_names if n in self.procs])
        backing = [self.procs.pop(n) for n in ("postgres", "redis") if n in self.procs]
        super().stop_all()
        _stop_together(backing)
