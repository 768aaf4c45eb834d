"""Bring a ledger database to the newest schema (Alembic, run in-process)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

__all__ = ["alembic_config", "upgrade"]

_HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, engine: Engine | None = None) -> None:
    """Create or migrate the ledger at ``url``; safe to call on every start.

    With ``engine``, the migration runs on one of its connections, so the engine's connect hooks
    (SQLite's WAL switch) have run on the file before anything else opens it."""
    cfg = alembic_config(url)
    if engine is None:
        command.upgrade(cfg, "head")
        return
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
