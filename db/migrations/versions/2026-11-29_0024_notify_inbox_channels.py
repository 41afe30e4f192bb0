"""Every notification reaches a person (issue 16): the in-app inbox (read_at, what a message
is about for its link), the channel tried and why it failed, in words.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-29 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("subject_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("error_reason", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_notifications_inbox", ["recipient_id", "read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_inbox")
        for column in ("error_reason", "channel", "subject_id", "subject_type", "read_at"):
            batch_op.drop_column(column)
