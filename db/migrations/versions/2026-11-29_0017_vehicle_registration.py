"""Vehicles keep their registration date (初次登记日期) and the date their inspection is valid
until (检验有效期至, from the driving licence or an inspection record): the care calendar counts
the annual inspection from the registration, not the purchase, and an imported later validity
fulfils the inspection reminder (issue 19).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ for DROP COLUMN): a batch copy of vehicles would drop the
# table that repair orders and targets point at.


def upgrade() -> None:
    op.add_column("vehicles", sa.Column("registered_on", sa.Date(), nullable=True))
    op.add_column("vehicles", sa.Column("inspection_valid_until", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("vehicles", "inspection_valid_until")
    op.drop_column("vehicles", "registered_on")
