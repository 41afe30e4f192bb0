"""Staff carry a session version: log-out and a password change move it on, ending every
session cookie issued before (issue 15: sessions survived log-out for up to 12 hours).

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-29 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # Not a batch (table copy) on SQLite: other tables' foreign keys point at staff, so it
    # could not be dropped and re-made; ALTER TABLE ... DROP COLUMN (SQLite 3.35+) does it.
    op.drop_column("staff", "session_version")
