"""Imports a dealer's real exports pass (issue 16): a store's own words for closed-list values
(customer type, gender, grade, category), and whether a repair-order file's keys were derived
(a file without an RO-number column).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_value_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_import_value_mappings_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_value_mappings")),
        sa.UniqueConstraint("store_id", "field", name=op.f("uq_import_value_mappings_store_id_field")),
    )
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_derived", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.drop_column("key_derived")
    op.drop_table("import_value_mappings")
