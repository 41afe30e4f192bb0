"""Measures keep the order the manager gives them on the plan page (issue 18: measures could
not be added, removed or reordered); existing measures keep their order by id.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("measures", "position")
