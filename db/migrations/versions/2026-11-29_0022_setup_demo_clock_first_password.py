"""Going live without the demo (issue 16): the demo clock every process reads (one row while
time is moved for a demo), and staff whose password was generated or set by someone else
must choose their own at the first log-in.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_clock")),
    )
    # A plain ADD COLUMN (not a batch table copy on SQLite: other tables point at staff).
    op.add_column(
        "staff", sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("staff", "must_change_password")
    op.drop_table("demo_clock")
