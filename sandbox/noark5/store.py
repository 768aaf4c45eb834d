"""The sandbox's persistence: one SQLite file in ``--data-dir`` (SQLAlchemy 2).

Every Noark object is one row holding its JSON, its kind, its parent and a version
number (the ETag). Files live in their own table, counters (saksaar/sakssekvensnummer,
journalsekvensnummer, ...) in a third, and the many-to-many links that are not
parent/child (arkiv ↔ arkivskaper) in a fourth. The server is single-process and does all
database work synchronously between awaits, so each request's writes are atomic with
respect to the others.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, create_engine, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

__all__ = ["Obj", "Store"]


class _Base(DeclarativeBase):
    pass


class _ObjectRow(_Base):
    __tablename__ = "objekt"

    system_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[str] = mapped_column(Text)


class _FileRow(_Base):
    __tablename__ = "fil"

    system_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("objekt.system_id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class _CounterRow(_Base):
    __tablename__ = "teller"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class _LinkRow(_Base):
    """An association between two objects that is not parent/child (arkiv ↔ arkivskaper)."""

    __tablename__ = "kobling"

    a_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    b_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


@dataclass
class Obj:
    """One stored Noark object."""

    system_id: str
    kind: str
    parent_id: str | None
    version: int
    seq: int
    data: dict[str, Any]

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _obj(row: _ObjectRow) -> Obj:
    return Obj(system_id=row.system_id, kind=row.kind, parent_id=row.parent_id,
               version=row.version, seq=row.seq, data=json.loads(row.data))


class Store:
    """CRUD over the SQLite file; every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_engine(f"sqlite:///{path}", future=True)
        _Base.metadata.create_all(self.engine)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def get(self, system_id: str) -> Obj | None:
        with self._session() as session:
            row = session.get(_ObjectRow, system_id)
            return _obj(row) if row else None

    def children(self, parent_id: str | None, kinds: Iterable[str], *, containing: str | None = None) -> list[Obj]:
        """The objects of ``kinds`` below ``parent_id`` (anywhere, if None), in creation order.
        ``containing``: only those whose stored JSON contains this text (SQLite's LIKE: ASCII
        case ignored), a pre-selection for a filter that is applied after."""
        with self._session() as session:
            query = select(_ObjectRow).where(_ObjectRow.kind.in_(list(kinds)))
            if parent_id is not None:
                query = query.where(_ObjectRow.parent_id == parent_id)
            if containing:
                query = query.where(_ObjectRow.data.contains(containing, autoescape=True))
            return [_obj(r) for r in session.scalars(query.order_by(_ObjectRow.seq))]

    def insert(self, kind: str, parent_id: str | None, data: dict[str, Any],
               system_id: str | None = None) -> Obj:
        system_id = system_id or str(uuid.uuid4())
        data = {**data, "systemID": system_id}
        with self._session() as session, session.begin():
            seq = self._next(session, "objekt:seq")
            row = _ObjectRow(system_id=system_id, kind=kind, parent_id=parent_id, seq=seq,
                             version=1, data=json.dumps(data, ensure_ascii=False))
            session.add(row)
        return _obj(row)

    def update(self, obj: Obj, data: dict[str, Any]) -> Obj:
        with self._session() as session, session.begin():
            row = session.get(_ObjectRow, obj.system_id)
            if row is None:
                raise KeyError(obj.system_id)
            row.data = json.dumps(data, ensure_ascii=False)
            row.version = row.version + 1
        return _obj(row)

    def delete(self, system_id: str) -> int:
        """Delete an object with everything below it; return how many objects went."""
        with self._session() as session, session.begin():
            doomed = [system_id]
            frontier = [system_id]
            while frontier:
                rows = session.scalars(select(_ObjectRow.system_id)
                                       .where(_ObjectRow.parent_id.in_(frontier))).all()
                doomed.extend(rows)
                frontier = list(rows)
            session.execute(delete(_FileRow).where(_FileRow.system_id.in_(doomed)))
            session.execute(delete(_LinkRow).where(_LinkRow.a_id.in_(doomed) | _LinkRow.b_id.in_(doomed)))
            session.execute(delete(_ObjectRow).where(_ObjectRow.system_id.in_(doomed)))
        return len(doomed)

    def associate(self, a_id: str, b_id: str) -> None:
        """Link two objects both ways (idempotent)."""
        with self._session() as session, session.begin():
            a_id, b_id = sorted((a_id, b_id))
            session.merge(_LinkRow(a_id=a_id, b_id=b_id))

    def associated(self, system_id: str, kinds: Iterable[str]) -> list[Obj]:
        """The objects of ``kinds`` linked to ``system_id``, oldest first."""
        with self._session() as session:
            others = select(_LinkRow.b_id).where(_LinkRow.a_id == system_id).union(
                select(_LinkRow.a_id).where(_LinkRow.b_id == system_id))
            query = (select(_ObjectRow).where(_ObjectRow.system_id.in_(others))
                     .where(_ObjectRow.kind.in_(list(kinds))).order_by(_ObjectRow.seq))
            return [_obj(r) for r in session.scalars(query)]

    def next_number(self, name: str) -> int:
        with self._session() as session, session.begin():
            return self._next(session, name)

    @staticmethod
    def _next(session: Session, name: str) -> int:
        counter = session.get(_CounterRow, name)
        if counter is None:
            counter = _CounterRow(name=name, value=0)
            session.add(counter)
        counter.value = counter.value + 1
        return counter.value

    def put_file(self, system_id: str, content: bytes) -> None:
        with self._session() as session, session.begin():
            session.merge(_FileRow(system_id=system_id, content=content))

    def get_file(self, system_id: str) -> bytes | None:
        with self._session() as session:
            row = session.get(_FileRow, system_id)
            return bytes(row.content) if row else None

    def has_file(self, system_id: str) -> bool:
        with self._session() as session:
            return session.scalar(select(_FileRow.system_id)
                                  .where(_FileRow.system_id == system_id)) is not None

    def wipe(self) -> None:
        with self._session() as session, session.begin():
            for table in (_FileRow, _LinkRow, _ObjectRow, _CounterRow):
                session.execute(delete(table))

    def dispose(self) -> None:
        self.engine.dispose()
