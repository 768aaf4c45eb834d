"""external_refs.external_key: the key a record was written under in its target

Reconciliation looks each record up in the target by this key (an archive eksternid, an RT
ExternalRef), so it can tell "missing" from "duplicated" without knowing each service.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("external_refs") as batch:
        batch.add_column(sa.Column("external_key", sa.String(length=300), nullable=True))
        batch.create_index("ix_external_refs_external_key", ["external_key"])


def downgrade() -> None:
    with op.batch_alter_table("external_refs") as batch:
        batch.drop_index("ix_external_refs_external_key")
        batch.drop_column("external_key")
