"""Month after month (issue 17 point 4): a cycle can be cancelled before its surveys start and
completed with "no action" (无需整改); a survey task still open when its cycle ends is closed
as carried over and the customer's next task points back at it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


# Plain ADD COLUMN on both engines: a batch copy of ``cycles`` or ``survey_tasks`` on SQLite
# would drop a table other rows point at (refused with foreign keys on). SQLite takes a
# nullable column with its REFERENCES clause in ADD COLUMN; PostgreSQL gets a named constraint.
_REFERENCES = [
    ("cycles", "cancelled_by_id", "staff"),
    ("cycles", "no_action_by_id", "staff"),
    ("survey_tasks", "carried_from_id", "survey_tasks"),
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("cycles", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cycles", sa.Column("cancel_reason", sa.String(length=300), nullable=True))
    op.add_column("cycles", sa.Column("no_action_reason", sa.String(length=500), nullable=True))
    op.add_column("cycles", sa.Column("no_action_at", sa.DateTime(timezone=True), nullable=True))
    for table, column, referred in _REFERENCES:
        if sqlite:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {referred} (id)")
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_{table}_{column}_{referred}", table, referred, [column], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # The batch copies below drop tables other rows point at: without this SQLite refuses.
        # (Takes effect when no transaction is open yet, as at the start of a downgrade.)
        op.execute("PRAGMA foreign_keys=OFF")
    for table, column, referred in reversed(_REFERENCES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if op.get_bind().dialect.name != "sqlite":
                batch_op.drop_constraint(f"fk_{table}_{column}_{referred}", type_="foreignkey")
            batch_op.drop_column(column)
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        for name in ("no_action_at", "no_action_reason", "cancel_reason", "cancelled_at"):
            batch_op.drop_column(name)
