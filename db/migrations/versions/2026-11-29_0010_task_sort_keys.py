"""Survey tasks carry their target's band and total spend (copied at assignment), so an
advisor's list sorts on the tasks table alone (issue 9: "my tasks" at 50,000 open tasks).

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-29 02:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "band",
                sa.Enum("at_risk", "lost", "likely_lost", name="band", native_enum=False, length=20),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("total_spend", sa.Numeric(precision=14, scale=2), nullable=True))
    op.execute(
        "UPDATE survey_tasks SET band = (SELECT targets.band FROM targets WHERE targets.id = survey_tasks.target_id),"
        " total_spend = (SELECT targets.total_spend FROM targets WHERE targets.id = survey_tasks.target_id)"
    )
    with op.batch_alter_table("survey_tasks", schema=None) as batch_op:
        batch_op.alter_column("band", existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column("total_spend", existing_type=sa.Numeric(precision=14, scale=2), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("survey_tasks", schema=None) as batch_op:
        batch_op.drop_column("total_spend")
        batch_op.drop_column("band")
