"""Contact data corrected from a task (issue 18): a replaced phone number kept with its history,
and a second contact per customer.

Revision ID: 0031
Revises: 0024
Create Date: 2026-11-30 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_phone_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("old_phone", sa.String(length=40), nullable=True),
        sa.Column("new_phone", sa.String(length=40), nullable=False),
        sa.Column("old_reported_wrong", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["staff.id"], name=op.f("fk_customer_phone_history_changed_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_phone_history_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_customer_phone_history_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phone_history")),
    )
    op.create_index(
        op.f("ix_customer_phone_history_customer_id"), "customer_phone_history", ["customer_id"], unique=False
    )
    # Plain ADD COLUMN (a batch copy of customers fails on the tables that point at it).
    op.add_column("customers", sa.Column("second_contact_name", sa.String(length=120), nullable=True))
    op.add_column("customers", sa.Column("second_contact_phone", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "second_contact_phone")
    op.drop_column("customers", "second_contact_name")
    op.drop_index(op.f("ix_customer_phone_history_customer_id"), table_name="customer_phone_history")
    op.drop_table("customer_phone_history")
