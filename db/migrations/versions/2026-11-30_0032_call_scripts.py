"""The store's call scripts per band, edited by the manager (issue 18).

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-30 00:31:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_scripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column(
            "band",
            sa.Enum(
                "at_risk",
                "lost",
                "likely_lost",
                name="band",
                native_enum=False,
                create_constraint=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("opening", sa.Text(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_call_scripts_store_id_stores")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["staff.id"], name=op.f("fk_call_scripts_updated_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_scripts")),
        sa.UniqueConstraint("store_id", "band", name=op.f("uq_call_scripts_store_id_band")),
    )


def downgrade() -> None:
    op.drop_table("call_scripts")
