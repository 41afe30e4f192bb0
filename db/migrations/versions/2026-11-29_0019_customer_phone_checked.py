"""Customers keep the phone number as the archive cleanup last checked it, so the cleanup checks
only the numbers that changed since (issue 20: every number went through libphonenumber on every
run, 104 s at group scale). Existing rows start unchecked: the first run checks them all.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 21:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ for DROP COLUMN): a batch copy of customers would drop the
# table that vehicles, repair orders and tasks point at.


def upgrade() -> None:
    op.add_column("customers", sa.Column("phone_checked", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "phone_checked")
