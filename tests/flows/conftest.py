"""Service flows in-process against in-memory ports and a temporary Prefect server.

One Prefect server for the session (its SQLite database a copy of the stack's cached,
migrated template, so no migrations run); per test a fresh ledger in ``tmp_path``, fresh
fakes, and a catalog whose adapter registry holds the fakes (``HUB_<PORT>=memory_<port>``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deployments.catalog import CATALOG
from hub.ledger import InboxEvent, Ledger
from hub.services import PORTS, Catalog, use_catalog
from hub.settings import get_settings
from hub.wiring import _ledger, get_ledger
from sandbox.procs import free_port
from tests.flows.fakes import (
    FakeAdapter,
    MemoryArchive,
    MemoryCalendar,
    MemoryCalendarConfig,
    MemoryForms,
    MemoryHr,
    MemoryInbox,
    MemoryMail,
    MemoryTicketing,
)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A temporary Prefect server (like ``prefect_test_harness``), on a copy of the migrated template."""
    import prefect.context
    import prefect.settings
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.server.database.dependencies import temporary_database_interface

    from devtools.stack import prefect_db_template

    home = tmp_path_factory.mktemp("prefect")
    db = home / "prefect.db"
    migrated = True
    try:
        shutil.copyfile(prefect_db_template(), db)
    except (OSError, subprocess.SubprocessError):
        migrated = False  # the server migrates a new file itself (slower)
    s = prefect.settings
    updates: dict[Any, Any] = {
        s.PREFECT_HOME: str(home),
        s.PREFECT_SERVER_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{db}",
        s.PREFECT_SERVER_DATABASE_MIGRATE_ON_START: not migrated,
        s.PREFECT_SERVER_ANALYTICS_ENABLED: False,
        s.PREFECT_LOGGING_TO_API_ENABLED: False,  # the flows' logs stay in this process
        # Nothing here is scheduled, triggered or left to expire: the server's loops only cost CPU.
        **{getattr(s, f"PREFECT_SERVER_SERVICES_{name}_ENABLED"): False
           for name in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "TRIGGERS", "CANCELLATION_CLEANUP",
                        "PAUSE_EXPIRATIONS", "REPOSSESSOR", "CLEANUP_RECONCILER")},
    }
    with temporary_database_interface(), s.temporary_settings(updates=updates):
        server = SubprocessASGIServer(port=free_port())
        prior = SubprocessASGIServer._instances.get(None)
        SubprocessASGIServer._instances[None] = server  # Prefect's own "ephemeral server" is this one
        server.start(timeout=120)
        try:
            with s.temporary_settings(updates={s.PREFECT_API_URL: server.api_url}), \
                    prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
                _upsert_limits()
                yield server.api_url
                _drain_events()
        finally:
            server.stop()
            if prior is not None:
                SubprocessASGIServer._instances[None] = prior
            else:
                SubprocessASGIServer._instances.pop(None, None)


def _drain_events() -> None:
    """Send what the events worker holds before the server stops (else it retries at exit)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


def _upsert_limits() -> None:
    """The catalog's global concurrency limits, as the runner upserts them."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def upsert() -> None:
        async with get_client() as client:
            for name, slots in CATALOG.limits().items():
                await client.upsert_global_concurrency_limit_by_name(name, slots)

    run_coro_as_sync(upsert())


@dataclass
class Fakes:
    hr: MemoryHr
    archive: MemoryArchive
    ticketing: MemoryTicketing
    forms: MemoryForms
    mail: MemoryMail
    calendar: MemoryCalendar
    inbox: MemoryInbox
    ledger: Ledger
    home: Path

    def hr_burst(self, who: list[str], tag: str) -> tuple[list[InboxEvent], list[dict[str, str]]]:
        """HR's dfo:ansatte events for ``who``, received together, and the ``burst`` the intake
        gives one run for them (each event's own parameters)."""
        events = [self.ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id=key,
                                           dedupe_key=f"dfo:{key}:{tag}", payload={}, valid_after=None)[0]
                  for key in who]
        return events, [{"employee_id": e.subject_id, "event_id": e.id} for e in events]


@pytest.fixture
def hub(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """Every port answered by an in-memory fake, a fresh ledger, the real catalog's services."""
    fakes = {"hr": MemoryHr(), "archive": MemoryArchive(), "ticketing": MemoryTicketing(), "forms": MemoryForms(),
             "mail": MemoryMail(), "calendar": MemoryCalendar(), "inbox": MemoryInbox()}
    # One name per port: a settings section (and Settings.adapter_config) is found by name alone.
    adapters = tuple(FakeAdapter(f"memory_{port}", port, fakes[port],
                                 MemoryCalendarConfig if port == "calendar" else FakeAdapter.config_class)
                     for port in PORTS)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HUB_HOME", str(home))
    monkeypatch.setenv("HUB_LEDGER_URL", f"sqlite:///{home / 'ledger.db'}")
    monkeypatch.setenv("HUB_PROFILE", "local")
    for port in PORTS:
        monkeypatch.setenv(f"HUB_{port.upper()}", f"memory_{port}")
    catalog = Catalog(services=CATALOG.services, ops=CATALOG.ops, ops_limits=CATALOG.ops_limits,
                      ignored_events=CATALOG.ignored_events, adapters=adapters)
    get_settings.cache_clear()
    _ledger.cache_clear()
    with use_catalog(catalog):
        ledger = get_ledger(migrate=True)
        try:
            yield Fakes(**fakes, ledger=ledger, home=home)  # type: ignore[arg-type]
        finally:
            ledger.dispose()
            get_settings.cache_clear()
            _ledger.cache_clear()
