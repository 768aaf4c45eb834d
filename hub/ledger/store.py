"""The ledger's operations. Every method is one short transaction.

The writes a work item's run makes most (a step starts and ends, a note on the item, a
reference, the item's end) also come as *ops* (``op_…``): a write not yet made, which
:meth:`Ledger.apply` makes together with others in one transaction. A run keeps the writes
that need not be made at once and makes them with its next one that must
(:class:`hub.flowkit.Run`).

SQLite (default) runs in WAL mode with a busy timeout, so the intake, the sweeper and the
flow-run processes can write to the same file; PostgreSQL is used by URL.
"""

from __future__ import annotations

import json
import select as io_select
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.types import JSON

from hub.ledger.migrate import upgrade
from hub.ledger.models import (
    Cursor,
    EventState,
    ExternalRef,
    InboxEvent,
    ItemState,
    StepState,
    WorkItem,
    WorkItemStep,
    utcnow,
)
from hub.privacy import mask

__all__ = ["Ledger", "Op", "driver_modules"]

Op = Callable[[Connection], Any]
"""A write not yet made: :meth:`Ledger.apply` makes it, in the transaction of ``Connection``.
Ops are Core statements built once where they can be, not the ORM: a room request makes seven
of these transactions, and through a ``Session`` (a ``get`` and a flush, a new statement per
write) the ledger was 29 % of the room batch's CPU, most of it SQLAlchemy, not the database."""

# The tables, for the run's hot writes: a statement on a table skips the ORM.
_ITEMS, _STEPS, _REFS = (cast(Table, m.__table__) for m in (WorkItem, WorkItemStep, ExternalRef))


_WAL_TRIES = 50


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=15000")
    # WAL is the file's, kept once set: the Ledger switches a new file on its first connection,
    # the migration's (Ledger.__init__), before anything else uses it. The switch takes a lock
    # that SQLite refuses at once, without the busy timeout, while other connections write: two
    # CI runs saw "database is locked" when 16 threads opened their first connections to a file
    # Alembic had created in rollback-journal mode. Processes starting together may still race
    # for the switch, so a refused one looks again (another may have made it) and retries.
    for attempt in range(_WAL_TRIES):
        if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            break
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == _WAL_TRIES - 1:
                raise
            time.sleep(0.1)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# A pooled connection used this recently is checked without a round trip; one idle longer is pinged.
PING_IF_IDLE = 1.0  # seconds


def _closed_by_the_server(dbapi_conn: Any) -> bool:
    """Whether an idle connection's socket has something to read: between transactions the
    server sends nothing unasked, so that is its goodbye (a terminated backend's FATAL, a
    restart's end of stream). A local look (``poll`` with no wait), not a round trip; False
    for a connection without a socket (SQLite)."""
    fileno = getattr(dbapi_conn, "fileno", None)
    if fileno is None:
        return False
    poller = io_select.poll()
    poller.register(fileno(), io_select.POLLIN | io_select.POLLPRI)
    return bool(poller.poll(0))


def _check_at_checkout(engine: Engine) -> None:
    """Make sure a pooled connection is alive as it is taken, and replace it if not (a
    ``DisconnectionError`` in a checkout event: the pool connects anew), as SQLAlchemy's
    ``pool_pre_ping`` does, without its round trip on a busy pool:

    - a connection back in the pool less than :data:`PING_IF_IDLE` ago is looked at locally
      (:func:`_closed_by_the_server`): a terminated backend, a restarted server;
    - one idle longer is pinged, which also finds a connection a firewall or the network
      dropped without a word.

    ``pool_pre_ping`` pinged at every checkout. On a busy worker, where each connection comes
    back to the pool within milliseconds, that was a round trip (with PostgreSQL, two: the
    ping opens the transaction) before each of a room request's seven transactions: 2-6 % of
    the ledger's CPU per item (``bench/ledger_life``, both ways in the same run)."""
    dialect = engine.dialect

    def returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None:
            return  # new: connected a moment ago
        idle = time.monotonic() - returned_at
        if idle < PING_IF_IDLE:
            if _closed_by_the_server(dbapi_conn):
                raise DisconnectionError("the database closed a pooled connection")
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection idle for {idle:.0f} s is gone "
                                     f"({type(exc).__name__})") from exc

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checkout)


def _without_nul(value: Any) -> Any:
    """``value`` with every NUL character replaced by U+FFFD, through dicts and lists."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def _storable_parameters(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                         executemany: bool) -> tuple[str, Any]:
    """PostgreSQL refuses a NUL character in text and JSON ("text fields cannot contain NUL
    (0x00) bytes"): hostile form text carrying one crashed the item's every write (the chaos
    bench). Replaced here, once, for every statement on both backends — a NUL means nothing."""
    return statement, _without_nul(parameters)


def _json_without_nul(value: Any) -> str:
    return json.dumps(_without_nul(value))


def driver_modules(url: str) -> tuple[str, ...]:
    """The modules SQLAlchemy imports to open a ledger at ``url``: its dialect and the DB-API
    driver (``sqlalchemy.dialects.postgresql.psycopg`` and ``psycopg``, for one). A process
    that forks flow runs imports them once (``deployments.serve``): in each run, importing
    psycopg cost ~0.4 s on the way to the flow's first line."""
    from sqlalchemy.engine import make_url

    dialect = make_url(url).get_dialect()
    return dialect.__module__, dialect.import_dbapi().__name__


class Ledger:
    """Per-item truth: inbox events, work items with steps, external references."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, json_serializer=_json_without_nul)
        _check_at_checkout(self.engine)
        event.listen(self.engine, "before_cursor_execute", _storable_parameters, retval=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            upgrade(url, self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._statements = _Statements.of(self.engine.dialect.name)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def apply(self, ops: Sequence[Op]) -> Any:
        """Make ``ops`` in order, in one transaction (all or none); the last one's result."""
        with self.engine.begin() as conn:
            result = None
            for op in ops:
                result = op(conn)
            return result

    # ---- inbox -------------------------------------------------------------------------

    def record_event(self, *, source: str, kind: str, subject_id: str, dedupe_key: str,
                     payload: dict[str, Any], valid_after: date | None) -> tuple[InboxEvent, bool]:
        """Store an event durably. Returns (event, created); a duplicate returns the first."""
        with self.session() as s:
            existing = s.scalar(select(InboxEvent).where(InboxEvent.dedupe_key == dedupe_key))
            if existing is not None:
                return existing, False
        try:
            with self.session() as s:
                ev = InboxEvent(id=str(uuid.uuid4()), source=source, kind=kind, subject_id=subject_id,
                                dedupe_key=dedupe_key, payload=payload, valid_after=valid_after,
                                received_at=utcnow(), state=EventState.RECEIVED, dispatch_attempts=0)
                s.add(ev)
            return ev, True
        except IntegrityError:  # a concurrent duplicate won the race
            with self.session() as s:
                first = s.scalar(select(InboxEvent).where(InboxEvent.dedupe_key == dedupe_key))
                assert first is not None
                return first, False

    def get_event(self, event_id: str) -> InboxEvent | None:
        with self.session() as s:
            return s.get(InboxEvent, event_id)

    def mark_dispatched(self, event_id: str, flow_run_id: str, scheduled_for: datetime | None) -> None:
        with self.session() as s:
            s.execute(update(InboxEvent).where(InboxEvent.id == event_id).values(
                state=EventState.DISPATCHED, flow_run_id=flow_run_id, scheduled_for=scheduled_for,
                dispatched_at=utcnow(), last_error=None,
                dispatch_attempts=InboxEvent.dispatch_attempts + 1))

    def mark_ignored(self, event_id: str, reason: str) -> None:
        with self.session() as s:
            s.execute(update(InboxEvent).where(InboxEvent.id == event_id).values(
                state=EventState.IGNORED, last_error=mask(reason)))

    def mark_dispatch_failed(self, event_id: str, error: str, retry_in: timedelta) -> None:
        with self.session() as s:
            s.execute(update(InboxEvent).where(InboxEvent.id == event_id).values(
                last_error=mask(error), next_attempt_at=utcnow() + retry_in,
                dispatch_attempts=InboxEvent.dispatch_attempts + 1))

    def undispatched(self, *, older_than: timedelta, limit: int = 100) -> list[InboxEvent]:
        """Events still waiting for Prefect, oldest first, whose retry time has come."""
        now = utcnow()
        with self.session() as s:
            rows = s.scalars(
                select(InboxEvent)
                .where(InboxEvent.state == EventState.RECEIVED,
                       InboxEvent.received_at <= now - older_than,
                       or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now))
                .order_by(InboxEvent.received_at).limit(limit))
            return list(rows)

    def events(self, *, state: str | None = None, limit: int = 200) -> list[InboxEvent]:
        with self.session() as s:
            q = select(InboxEvent).order_by(InboxEvent.received_at.desc()).limit(limit)
            if state:
                q = q.where(InboxEvent.state == state)
            return list(s.scalars(q))

    # ---- work items --------------------------------------------------------------------

    def ensure_item(self, service: str, source_key: str, *, title: str = "",
                    requested_at: datetime | None = None, data: dict[str, Any] | None = None) -> WorkItem:
        """The work item for (service, source key), created on first sight."""
        item = self.get_item(service, source_key)
        if item is not None:
            return item
        try:
            with self.session() as s:
                item = WorkItem(service=service, source_key=source_key, title=mask(title),
                                state=ItemState.PENDING, attempts=0, manual_steps=0,
                                requested_at=requested_at or utcnow(), data=data or {})
                s.add(item)
            return item
        except IntegrityError:
            found = self.get_item(service, source_key)
            assert found is not None
            return found

    def add_items(self, service: str, new: Sequence[tuple[str, str, datetime | None]]) -> int:
        """Create the work items of ``service`` that are not there yet, from (source key, title,
        requested at), in one read and one write; return how many were created. A poll's page of
        submissions cost three transactions each through :meth:`ensure_item`. If another run
        creates one of them at the same moment, they are created one by one instead."""
        wanted = {key: (title, at) for key, title, at in new}
        if not wanted:
            return 0
        with self.session() as s:
            there = set(s.scalars(select(WorkItem.source_key).where(WorkItem.service == service,
                                                                    WorkItem.source_key.in_(list(wanted)))))
        try:  # a transaction that only writes: on SQLite one that read first cannot wait for a lock
            with self.session() as s:
                s.add_all([WorkItem(service=service, source_key=key, title=mask(title), state=ItemState.PENDING,
                                    attempts=0, manual_steps=0, requested_at=at or utcnow(), data={})
                           for key, (title, at) in wanted.items() if key not in there])
            return len(wanted) - len(there)
        except IntegrityError:  # created meanwhile by another run: one at a time
            created = 0
            for key, (title, at) in wanted.items():
                if self.get_item(service, key) is None:
                    self.ensure_item(service, key, title=title, requested_at=at)
                    created += 1
            return created

    def get_item(self, service: str, source_key: str) -> WorkItem | None:
        with self.session() as s:
            return s.scalar(select(WorkItem).options(selectinload(WorkItem.steps), selectinload(WorkItem.refs))
                            .where(WorkItem.service == service, WorkItem.source_key == source_key))

    def item(self, item_id: int) -> WorkItem:
        with self.session() as s:
            found = s.scalar(select(WorkItem).options(selectinload(WorkItem.steps), selectinload(WorkItem.refs))
                             .where(WorkItem.id == item_id))
            if found is None:
                raise KeyError(f"no work item {item_id}")
            return found

    def outcome(self, item_id: int) -> tuple[str, str | None]:
        """The item's state and last error: one light query (a batch's row for each item)."""
        with self.session() as s:
            row = s.execute(select(WorkItem.state, WorkItem.last_error).where(WorkItem.id == item_id)).one()
            return row[0], row[1]

    def items(self, *, service: str | None = None, states: Sequence[str] | None = None,
              since: datetime | None = None, limit: int | None = 500) -> list[WorkItem]:
        with self.session() as s:
            q = (select(WorkItem).options(selectinload(WorkItem.steps), selectinload(WorkItem.refs))
                 .order_by(WorkItem.requested_at.desc()))
            if service:
                q = q.where(WorkItem.service == service)
            if states:
                q = q.where(WorkItem.state.in_(list(states)))
            if since:
                q = q.where(WorkItem.requested_at >= since)
            if limit:
                q = q.limit(limit)
            return list(s.scalars(q))

    def due_items(self, service: str, *, retry_below: int, after: tuple[datetime, int] | None = None,
                  unstarted: bool = False, limit: int = 500) -> list[WorkItem]:
        """One page of the items a batch takes, oldest first: pending, and failed on a transient
        error fewer than ``retry_below`` times (0: none). ``after`` is the (requested_at, id) of
        the last item of the page before, so a backlog is read a page at a time, never whole.
        ``unstarted``: only items no flow run was created for yet."""
        with self.session() as s:
            q = (select(WorkItem).options(selectinload(WorkItem.steps), selectinload(WorkItem.refs))
                 .where(*_due(service, retry_below))
                 .order_by(WorkItem.requested_at, WorkItem.id).limit(limit))
            if unstarted:
                q = q.where(WorkItem.flow_run_id.is_(None))
            if after is not None:
                at, last = after
                q = q.where(or_(WorkItem.requested_at > at, and_(WorkItem.requested_at == at, WorkItem.id > last)))
            return list(s.scalars(q))

    def count_due(self, service: str, *, retry_below: int, unstarted: bool = False) -> int:
        """How many items :meth:`due_items` would list, over all its pages (one COUNT)."""
        q = select(func.count()).select_from(WorkItem).where(*_due(service, retry_below))
        if unstarted:
            q = q.where(WorkItem.flow_run_id.is_(None))
        with self.session() as s:
            return int(s.scalar(q) or 0)

    def claim(self, item_id: int, owner: str, lease: timedelta) -> bool:
        """Take the item for ``owner`` unless someone else holds an unexpired lease."""
        with self.engine.begin() as conn:
            return bool(_rowcount(conn.execute(_take(item_id, owner, lease))))

    def claim_and_start(self, item_id: int, owner: str, lease: timedelta, flow_run_id: str | None, *,
                        due: Callable[[WorkItem], bool] | None = None) -> WorkItem | None:
        """:meth:`claim`, and if the item was free, load it and :meth:`start_item` it (unless it
        is done already) in the same transaction: what a batch's item costs the ledger before
        its work (a check on a waiting item is no new attempt). Returns the item, ``running``
        now or ``done`` as it was, or None if another owner holds it. ``due``: whether the item,
        as it is now, is still the batch's to take (a batch lists its items before it works
        them, and another run may have taken one further meanwhile); if not, the claim is
        undone in the same transaction and None returned."""
        with self.engine.begin() as conn:  # Core statements: a batch makes one of these per item
            taken = conn.execute(_take(item_id, owner, lease).returning(*_ITEMS.c)).first()
            if taken is None:
                return None
            found = WorkItem(**taken._mapping)  # not in a session, as every item the ledger returns
            found.steps = [WorkItemStep(**row._mapping) for row in conn.execute(
                select(_STEPS).where(_STEPS.c.work_item_id == item_id).order_by(_STEPS.c.id))]
            found.refs = [ExternalRef(**row._mapping) for row in conn.execute(
                select(_REFS).where(_REFS.c.work_item_id == item_id).order_by(_REFS.c.id))]
            if due is not None and found.state != ItemState.DONE and not due(found):
                conn.execute(update(_ITEMS).where(_ITEMS.c.id == item_id).values(lease_owner=None, lease_until=None))
                return None
            if found.state != ItemState.DONE:
                _start(found, flow_run_id, count_attempt=found.state != ItemState.WAITING)
                conn.execute(update(_ITEMS).where(_ITEMS.c.id == item_id).values(
                    {name: getattr(found, name) for name in _STARTED}))
            return found

    def renew(self, item_id: int, owner: str, lease: timedelta) -> bool:
        """Extend ``owner``'s lease (a live run does this every third of its lease); False if
        the lease was lost (it expired and another run took the item over)."""
        with self.session() as s:
            result = s.execute(update(WorkItem).where(WorkItem.id == item_id, WorkItem.lease_owner == owner)
                               .values(lease_until=utcnow() + lease))
            return bool(_rowcount(result))

    def release(self, item_id: int, owner: str) -> None:
        with self.session() as s:
            s.execute(update(WorkItem).where(WorkItem.id == item_id, WorkItem.lease_owner == owner)
                      .values(lease_owner=None, lease_until=None))

    def start_item(self, item_id: int, flow_run_id: str | None, *, count_attempt: bool = True) -> None:
        """Mark running; a check on an item that waits (for stock, a decision) is no new attempt."""
        with self.session() as s:
            item = s.get(WorkItem, item_id)
            assert item is not None
            _start(item, flow_run_id, count_attempt=count_attempt)

    def finish_item(self, item_id: int, state: str, *, error: str | None = None,
                    error_kind: str | None = None, release: str | None = None) -> tuple[str, str | None]:
        """Record how the item's run ended; with ``release`` (its owner), give up the lease in
        the same transaction. Returns the state and the error as stored (masked)."""
        state_now, error_now = self.apply([self.op_finish_item(item_id, state, error=error, error_kind=error_kind,
                                                               release=release)])
        return state_now, error_now

    @staticmethod
    def op_finish_item(item_id: int, state: str, *, error: str | None = None, error_kind: str | None = None,
                       release: str | None = None) -> Op:
        """:meth:`finish_item` as an op: one UPDATE, returning the state and error as stored."""
        values: dict[str, Any] = {"state": state, "last_error": mask(error) if error else None,
                                  "error_kind": error_kind}
        if state == ItemState.DONE:
            values["completed_at"] = utcnow()
        if release is not None:
            mine = WorkItem.lease_owner == release
            values |= {"lease_owner": case((mine, None), else_=WorkItem.lease_owner),
                       "lease_until": case((mine, None), else_=WorkItem.lease_until)}
        statement = (update(_ITEMS).where(WorkItem.id == item_id).values(**values)
                     .returning(WorkItem.state, WorkItem.last_error))

        def op(conn: Connection) -> tuple[str, str | None]:
            row = conn.execute(statement).one()
            return row[0], row[1]
        return op

    @staticmethod
    def is_stuck(item: WorkItem, now: datetime | None = None) -> bool:
        """``running`` with no live lease: the run that worked on it died (a live run renews its
        lease every third of the lease)."""
        now = now or utcnow()
        return item.state == ItemState.RUNNING and (item.lease_until is None or item.lease_until < now)

    def stuck_items(self, *, now: datetime | None = None, limit: int | None = 500) -> list[WorkItem]:
        """Items ``running`` whose lease expired, oldest lease first."""
        now = now or utcnow()
        with self.session() as s:
            q = (select(WorkItem)
                 .where(WorkItem.state == ItemState.RUNNING,
                        or_(WorkItem.lease_until.is_(None), WorkItem.lease_until < now))
                 .order_by(WorkItem.lease_until))
            if limit:
                q = q.limit(limit)
            return list(s.scalars(q))

    def reset_for_replay(self, item_id: int, *, now: datetime | None = None) -> bool:
        """Put a failed (dead-letter) or stuck item back to ``pending``; False if it is neither.

        A stuck item is taken with a short claim first, so a run that takes it over at the
        same moment, or a second replay, cannot both reset it."""
        return self._reset(item_id, now=now, counter="replays", manual=True)

    def reset_for_redrive(self, item_id: int, *, reason: str, now: datetime | None = None,
                          waiting: bool = False) -> bool:
        """Put a stuck item back to ``pending`` for an automatic re-drive (counted in
        ``data.redrives``); False if it is not stuck (any more).

        ``waiting``: the item is ``waiting`` and the caller saw that the run it waits in has
        ended (a resumed run killed before it began): nobody will ever wake it up."""
        return self._reset(item_id, now=now, counter="redrives", manual=False, reason=reason, waiting=waiting)

    def dead_letter_stuck(self, item_id: int, *, error: str, now: datetime | None = None,
                          waiting: bool = False) -> bool:
        """A stuck item the hub gave up re-driving becomes a dead letter (kind ``crash``)."""
        return self._settle_stuck(item_id, ItemState.FAILED, error=error, kind="crash", now=now, waiting=waiting)

    def wait_stuck(self, item_id: int, *, reason: str, now: datetime | None = None) -> bool:
        """A stuck item whose run is suspended in Prefect (its process died after Prefect took
        the suspension and before the run recorded it here) becomes ``waiting``, as the run would
        have left it: resuming that run picks it up. False if it is not stuck (any more)."""
        return self._settle_stuck(item_id, ItemState.WAITING, error=reason, kind="waiting", now=now)

    def _settle_stuck(self, item_id: int, state: str, *, error: str, kind: str, now: datetime | None,
                      waiting: bool = False) -> bool:
        """Give a stuck item its final word (``state`` with ``error`` of ``kind``) under a short
        claim, so that no other pass or run changes it meanwhile; False if it is not stuck."""
        owner = f"settle-{uuid.uuid4().hex[:8]}"
        if not self._claim_stuck(item_id, owner, now, waiting=waiting):
            return False
        try:
            with self.session() as s:
                item = s.get(WorkItem, item_id)
                assert item is not None
                item.state = state
                item.last_error = mask(error)
                item.error_kind = kind
            return True
        finally:
            self.release(item_id, owner)

    def dead_letters(self, *, kind: str, limit: int | None = 500) -> list[WorkItem]:
        """Dead letters of one error kind (``transient``, ``crash``, …), the longest failed first."""
        with self.session() as s:
            q = (select(WorkItem).where(WorkItem.state == ItemState.FAILED, WorkItem.error_kind == kind)
                 .order_by(WorkItem.updated_at))
            if limit:
                q = q.limit(limit)
            return list(s.scalars(q))

    def reset_for_retry(self, item_id: int, *, kind: str = "transient") -> bool:
        """Put a dead letter of ``kind`` back to ``pending`` for an automatic retry (counted in
        ``data.auto_retries``); False if it is no such dead letter any more (a person replayed
        it, or another pass took it first: the state change is one guarded UPDATE)."""
        with self.session() as s:
            result = s.execute(update(WorkItem)
                               .where(WorkItem.id == item_id, WorkItem.state == ItemState.FAILED,
                                      WorkItem.error_kind == kind)
                               .values(state=ItemState.PENDING, flow_run_id=None, error_kind=None))
            if not _rowcount(result):
                return False
            item = s.get(WorkItem, item_id)
            assert item is not None
            data = dict(item.data or {})
            data["auto_retries"] = int(data.get("auto_retries", 0)) + 1
            data["retried_error"] = item.last_error
            item.data = data
            item.last_error = None
            return True

    def _claim_stuck(self, item_id: int, owner: str, now: datetime | None, *, waiting: bool = False) -> bool:
        now = now or utcnow()
        states = [ItemState.RUNNING, ItemState.WAITING] if waiting else [ItemState.RUNNING]
        with self.session() as s:
            result = s.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id, WorkItem.state.in_(states),
                       or_(WorkItem.lease_until.is_(None), WorkItem.lease_until < now))
                .values(lease_owner=owner, lease_until=utcnow() + timedelta(seconds=30)))
            return bool(_rowcount(result))

    def _reset(self, item_id: int, *, now: datetime | None, counter: str, manual: bool,
               reason: str | None = None, waiting: bool = False) -> bool:
        owner = f"reset-{uuid.uuid4().hex[:8]}"
        claimed = self._claim_stuck(item_id, owner, now, waiting=waiting)
        try:
            with self.session() as s:
                item = s.get(WorkItem, item_id)
                if item is None:
                    return False
                if not claimed and (not manual or item.state != ItemState.FAILED):
                    return False
                data = dict(item.data or {})
                data[counter] = int(data.get(counter, 0)) + 1
                if manual:
                    data["replayed_error"] = item.last_error if item.state == ItemState.FAILED else \
                        "stuck: its run died"
                    data["redrives"] = 0  # a person looked at it: automatic re-drives start afresh
                    data["auto_retries"] = 0
                else:
                    data["redriven_because"] = mask(reason or "its run died")
                item.state = ItemState.PENDING
                item.flow_run_id = None
                item.data = data
                item.last_error = None
                item.error_kind = None
                return True
        finally:
            if claimed:
                self.release(item_id, owner)

    def set_flow_run(self, item_id: int, flow_run_id: str, **data: Any) -> None:
        """Note the item's flow run, and ``data`` with it (one transaction)."""
        with self.session() as s:
            if not data:
                s.execute(update(WorkItem).where(WorkItem.id == item_id).values(flow_run_id=flow_run_id))
                return
            item = s.get(WorkItem, item_id)
            assert item is not None
            item.flow_run_id = flow_run_id
            item.data = {**(item.data or {}), **data}

    def set_flow_runs(self, runs: Mapping[int, tuple[str, Mapping[str, Any]]]) -> None:
        """Note each item's flow run and the data with it, ``{item id: (flow run id, data)}``,
        in one transaction (the rows locked while their data is merged)."""
        if not runs:
            return
        with self.session() as s:
            for item in s.scalars(select(WorkItem).where(WorkItem.id.in_(list(runs))).with_for_update()):
                flow_run_id, data = runs[item.id]
                item.flow_run_id = flow_run_id
                if data:
                    item.data = {**(item.data or {}), **data}

    def update_data(self, item_id: int, **values: Any) -> None:
        self.apply([self.op_update_data(item_id, **values)])

    def op_update_data(self, item_id: int, **values: Any) -> Op:
        """:meth:`update_data` as an op: one UPDATE setting ``values`` over the item's data, key
        by key (not a read and a write: a room request notes twice)."""
        return _executing(*self._statements.update_data(item_id, values))

    def count_manual_step(self, item_id: int) -> None:
        with self.session() as s:
            s.execute(update(WorkItem).where(WorkItem.id == item_id)
                      .values(manual_steps=WorkItem.manual_steps + 1))

    # ---- steps -------------------------------------------------------------------------

    def step(self, item_id: int, name: str) -> WorkItemStep | None:
        with self.session() as s:
            return s.scalar(select(WorkItemStep).where(WorkItemStep.work_item_id == item_id,
                                                       WorkItemStep.name == name))

    def start_step(self, item_id: int, name: str) -> None:
        """The step is running: its first attempt, or one more. One statement (an upsert),
        not a read and then a write: a hire starts seven steps."""
        self.apply([self.op_start_step(item_id, name)])

    def op_start_step(self, item_id: int, name: str) -> Op:
        """:meth:`start_step` as an op."""
        return _executing(self._statements.start_step,
                          {"work_item_id": item_id, "name": name, "attempts": 1, "state": StepState.RUNNING,
                           "started_at": utcnow(), "finished_at": None, "last_error": None})

    def end_step(self, item_id: int, name: str, state: str, *, detail: str | None = None,
                 error: str | None = None) -> None:
        self.apply([self.op_end_step(item_id, name, state, detail=detail, error=error)])

    @staticmethod
    def op_end_step(item_id: int, name: str, state: str, *, detail: str | None = None,
                    error: str | None = None) -> Op:
        """:meth:`end_step` as an op; the step ended when the op was created, not applied."""
        return _executing(_END_STEP, {"item_id": item_id, "step_name": name, "state": state, "finished_at": utcnow(),
                                      "detail": mask(detail) if detail else None,
                                      "last_error": mask(error) if error else None})

    # ---- external references -----------------------------------------------------------

    def add_ref(self, item_id: int, name: str, *, system: str, kind: str, ref: str,
                url: str | None = None, external_key: str | None = None) -> None:
        """Record (or update) what was written where under a logical name; ``external_key``
        is the key the target can find it by (reconciliation uses it)."""
        self.apply([self.op_add_ref(item_id, name, system=system, kind=kind, ref=ref, url=url,
                                    external_key=external_key)])

    def op_add_ref(self, item_id: int, name: str, *, system: str, kind: str, ref: str,
                   url: str | None = None, external_key: str | None = None) -> Op:
        """:meth:`add_ref` as an op."""
        return _executing(self._statements.add_ref,
                          {"work_item_id": item_id, "name": name, "created_at": utcnow(),
                           "external_key": external_key or None, "system": system, "kind": kind, "ref": ref,
                           "url": url})

    @staticmethod
    def loaded_step_names(item: WorkItem) -> set[str] | None:
        """The names of the item's steps, started or ended, if they were loaded with it (None if not)."""
        if "steps" in inspect(item).unloaded:
            return None
        return {step.name for step in item.steps}

    @staticmethod
    def loaded_refs(item: WorkItem) -> dict[str, str] | None:
        """The item's references by name, if they were loaded with it (None if not)."""
        if "refs" in inspect(item).unloaded:
            return None
        return {r.name: r.ref for r in item.refs}

    def get_ref(self, item_id: int, name: str) -> ExternalRef | None:
        with self.session() as s:
            return s.scalar(select(ExternalRef).where(ExternalRef.work_item_id == item_id,
                                                      ExternalRef.name == name))

    def refs(self, *, system: str | None = None, kind: str | None = None,
             service: str | None = None) -> list[tuple[WorkItem, ExternalRef]]:
        with self.session() as s:
            q = select(WorkItem, ExternalRef).join(ExternalRef, ExternalRef.work_item_id == WorkItem.id)
            if system:
                q = q.where(ExternalRef.system == system)
            if kind:
                q = q.where(ExternalRef.kind == kind)
            if service:
                q = q.where(WorkItem.service == service)
            return [(w, r) for w, r in s.execute(q).all()]

    # ---- cursors -----------------------------------------------------------------------

    def get_cursor(self, name: str) -> str | None:
        with self.session() as s:
            row = s.get(Cursor, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: str) -> None:
        with self.session() as s:
            row = s.get(Cursor, name)
            if row is None:
                s.add(Cursor(name=name, value=value, updated_at=utcnow()))
            else:
                row.value = value

    # ---- leases: one holder at a time across processes -----------------------------------

    def take_lease(self, name: str, holder: str, *, ttl: timedelta) -> bool:
        """Hold ``name`` for ``ttl`` unless another holder's lease is still running.

        Kept as a cursor row (``<holder>|<until>``) and changed only if it still holds what was
        read, so two processes never both get it; a holder that died simply lets its lease run
        out. The same holder taking it again renews it."""
        now = utcnow()
        value = f"{holder}|{(now + ttl).isoformat()}"
        with self.session() as s:
            row = s.get(Cursor, name)
            seen = row.value if row is not None else None
        if seen is None:
            try:
                with self.session() as s:
                    s.add(Cursor(name=name, value=value, updated_at=now))
                return True
            except IntegrityError:  # taken by another holder at this very moment
                return False
        held_by, _, until = seen.partition("|")
        if held_by != holder and datetime.fromisoformat(until) > now:
            return False
        with self.session() as s:
            result = s.execute(update(Cursor).where(Cursor.name == name, Cursor.value == seen)
                               .values(value=value, updated_at=now))
            return _rowcount(result) == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give ``name`` up at once, if ``holder`` still holds it."""
        with self.session() as s:
            s.execute(delete(Cursor).where(Cursor.name == name, Cursor.value.startswith(f"{holder}|", autoescape=True)))


def _due(service: str, retry_below: int) -> tuple[Any, ...]:
    """The items a batch takes: pending, or failed on a transient error fewer than
    ``retry_below`` times."""
    return (WorkItem.service == service,
            or_(WorkItem.state == ItemState.PENDING,
                and_(WorkItem.state == ItemState.FAILED, WorkItem.error_kind == "transient",
                     WorkItem.attempts < retry_below)))


def _executing(statement: Any, parameters: dict[str, Any] | None = None) -> Op:
    """The op that executes ``statement`` (with ``parameters``)."""
    return lambda conn: conn.execute(statement, parameters)


# A step's end: the statement built once (its parameters per call), as the upserts
# (:class:`_Statements`): built for each write, a statement cost more CPU to construct and
# to key in SQLAlchemy's compiled cache than to execute.
_END_STEP = update(_STEPS).where(_STEPS.c.work_item_id == bindparam("item_id"),
                                 _STEPS.c.name == bindparam("step_name"))


@dataclass(frozen=True)
class _Statements:
    """A run's hot statements in the ledger's dialect, built once. The upserts (``INSERT … ON
    CONFLICT (keys) DO UPDATE``) are executed with every column's value: a new row takes them
    all, an existing one the proposed row's (``excluded``) but for the columns an update sets
    otherwise. The data merge is one statement per dialect (:meth:`update_data`)."""

    dialect: str
    start_step: Any
    add_ref: Any
    merge_data: Any  # PostgreSQL: the item's data with the top-level keys of :values over it

    def update_data(self, item_id: int, values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The UPDATE that sets ``values`` over the item's data, key by key, and its parameters:
        on PostgreSQL the JSON objects merged (``||``), on SQLite ``json_set`` with a path per key."""
        if any('"' in key for key in values):  # a key is a name: SQLite's JSON path cannot quote a quote
            raise ValueError(f"an item's data keys are names, with no quote in them: {sorted(values)!r}")
        if self.dialect == "postgresql":
            return self.merge_data, {"item_id": item_id, "values": values}
        paths = [part for index, key in enumerate(values)
                 for part in (f'$."{key}"', func.json(bindparam(f"value_{index}", type_=JSON)))]
        merged = func.json_set(func.coalesce(_ITEMS.c.data, "{}"), *paths) if values else _ITEMS.c.data
        return (update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(data=merged),
                {"item_id": item_id, **{f"value_{index}": value for index, value in enumerate(values.values())}})

    @classmethod
    def of(cls, dialect: str) -> _Statements:
        insert: Callable[[Table], Any]
        if dialect == "postgresql":  # only the ledger's dialect is imported (a forked run's start)
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert
            insert = postgresql_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert
            insert = sqlite_insert

        def upsert(table: Table, *, updated: tuple[str, ...],
                   otherwise: Callable[[Any], dict[str, Any]]) -> Any:
            statement = insert(table)
            return statement.on_conflict_do_update(
                index_elements=["work_item_id", "name"],
                set_={**{name: statement.excluded[name] for name in updated}, **otherwise(statement.excluded)})

        merge_data = None
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            data = func.coalesce(sql_cast(_ITEMS.c.data, JSONB), sql_cast(literal("{}"), JSONB))
            merge_data = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(
                data=sql_cast(data.op("||", return_type=JSONB)(bindparam("values", type_=JSONB)), JSON))
        return cls(
            dialect=dialect, merge_data=merge_data,
            start_step=upsert(_STEPS, updated=("state", "started_at", "finished_at", "last_error"),
                              otherwise=lambda _: {"attempts": func.coalesce(_STEPS.c.attempts, 0) + 1}),
            add_ref=upsert(_REFS, updated=("system", "kind", "ref", "url"),
                           otherwise=lambda new: {"external_key": func.coalesce(new.external_key,
                                                                                _REFS.c.external_key)}),
        )


def _rowcount(result: Any) -> int:
    """Rows an UPDATE touched (SQLAlchemy types ``execute`` as a plain Result; it is a CursorResult)."""
    return int(result.rowcount)


# What starting an item changes (:func:`_start`).
_STARTED = ("state", "attempts", "flow_run_id", "started_at", "last_error", "error_kind", "updated_at")


def _start(item: WorkItem, flow_run_id: str | None, *, count_attempt: bool) -> None:
    item.state = ItemState.RUNNING
    item.attempts += 1 if count_attempt else 0
    item.flow_run_id = flow_run_id or item.flow_run_id
    item.started_at = item.started_at or utcnow()
    item.last_error = None
    item.error_kind = None
    item.updated_at = utcnow()


def _take(item_id: int, owner: str, lease: timedelta) -> Any:
    """The UPDATE that gives ``owner`` the item's lease unless another owner holds a live one."""
    now = utcnow()
    return (update(_ITEMS)
            .where(WorkItem.id == item_id,
                   or_(WorkItem.lease_owner.is_(None), WorkItem.lease_owner == owner,
                       WorkItem.lease_until.is_(None), WorkItem.lease_until < now))
            .values(lease_owner=owner, lease_until=now + lease))
