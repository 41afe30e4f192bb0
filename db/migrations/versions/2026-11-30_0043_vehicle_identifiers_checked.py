"""Vehicles keep the VIN and plate as the archive cleanup (or the import) last checked them, so
the cleanup checks only the vehicles whose identifiers changed since (issue 20: every VIN and
plate went through the checks on every run). Existing rows start unchecked: the first run
checks them all.

Revision ID: 0043
Revises: 0042
Create Date: 2026-11-30 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, as 0019 does for customers: a batch copy would drop the table that repair
# orders, targets and care items point at.


def upgrade() -> None:
    op.add_column("vehicles", sa.Column("identifiers_checked", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("vehicles", "identifiers_checked")
