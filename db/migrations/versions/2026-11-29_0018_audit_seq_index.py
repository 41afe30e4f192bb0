"""The audit chain is walked in seq order (events are chained at commit, so commit order is no
longer id order): an index on (store_id, seq) keeps ``winback audit verify`` linear (issue 20).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 21:00:00
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_store_seq", "audit_events", ["store_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_store_seq", table_name="audit_events")
