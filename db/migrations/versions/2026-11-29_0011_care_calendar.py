"""The care calendar (issue 19): care items, their touches, per-store maintenance schedules, the
monthly care holdout, mileage readings the forecast ignored; insurance expiry on vehicles.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:06:12.715692
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=True),
        sa.Column("grade", sa.String(length=20), nullable=True),
        sa.Column("first_km", sa.Integer(), nullable=False),
        sa.Column("first_months", sa.Integer(), nullable=False),
        sa.Column("interval_km", sa.Integer(), nullable=False),
        sa.Column("interval_months", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_care_schedules_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_schedules")),
        sa.UniqueConstraint(
            "store_id", "model", "grade", name=op.f("uq_care_schedules_store_id_model_grade")
        ),
    )
    with op.batch_alter_table("care_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_schedules_store_id"), ["store_id"], unique=False)

    op.create_table(
        "care_holdouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_care_holdouts_store_id_stores")),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_care_holdouts_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_holdouts")),
        sa.UniqueConstraint(
            "store_id", "month", "vehicle_id", name=op.f("uq_care_holdouts_store_id_month_vehicle_id")
        ),
    )
    op.create_table(
        "care_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "maintenance",
                "inspection",
                "insurance",
                "warranty_end",
                "follow_up_call",
                "complaint_recall",
                name="carekind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("forecast", sa.JSON(), nullable=False),
        sa.Column("holdout", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "fulfilled", "missed", name="carestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("fulfilled_on", sa.Date(), nullable=True),
        sa.Column("fulfilled_visit_id", sa.Integer(), nullable=True),
        sa.Column("preceding_touch_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_care_items_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["fulfilled_visit_id"],
            ["service_visits.id"],
            name=op.f("fk_care_items_fulfilled_visit_id_service_visits"),
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_care_items_store_id_stores")),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_care_items_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_items")),
        sa.UniqueConstraint("vehicle_id", "kind", "key", name=op.f("uq_care_items_vehicle_id_kind_key")),
    )
    with op.batch_alter_table("care_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_items_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_care_items_store_status_due", ["store_id", "status", "due_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_care_items_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "care_mileage_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("mileage", sa.Integer(), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_care_mileage_flags_store_id_stores")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_care_mileage_flags_vehicle_id_vehicles")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["service_visits.id"], name=op.f("fk_care_mileage_flags_visit_id_service_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_mileage_flags")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_care_mileage_flags_visit_id")),
    )
    with op.batch_alter_table("care_mileage_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_mileage_flags_store_id"), ["store_id"], unique=False)

    op.create_table(
        "care_touches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("message", "export", "call", name="touchchannel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "sent", "failed", "cancelled", name="touchstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("why", sa.String(length=20), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "appointment",
                "not_interested",
                "serviced_elsewhere",
                "unreachable",
                "done",
                name="calloutcome",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("outcome_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["advisor_id"], ["staff.id"], name=op.f("fk_care_touches_advisor_id_staff")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["care_items.id"],
            name=op.f("fk_care_touches_item_id_care_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_care_touches_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_touches")),
        sa.UniqueConstraint("item_id", "step", name=op.f("uq_care_touches_item_id_step")),
    )
    with op.batch_alter_table("care_touches", schema=None) as batch_op:
        batch_op.create_index("ix_care_touches_advisor_status", ["advisor_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_touches_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_care_touches_store_status", ["store_id", "status", "channel"], unique=False)

    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compulsory_insurance_end", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("commercial_insurance_end", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("care_touches", schema=None) as batch_op:
        batch_op.drop_index("ix_care_touches_store_status")
        batch_op.drop_index(batch_op.f("ix_care_touches_item_id"))
        batch_op.drop_index("ix_care_touches_advisor_status")

    op.drop_table("care_touches")
    with op.batch_alter_table("care_mileage_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_mileage_flags_store_id"))

    op.drop_table("care_mileage_flags")
    with op.batch_alter_table("care_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_items_vehicle_id"))
        batch_op.drop_index("ix_care_items_store_status_due")
        batch_op.drop_index(batch_op.f("ix_care_items_customer_id"))

    op.drop_table("care_items")
    op.drop_table("care_holdouts")
    with op.batch_alter_table("care_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_schedules_store_id"))

    op.drop_table("care_schedules")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of vehicles would drop the
    # table that repair orders and targets point at.
    op.drop_column("vehicles", "commercial_insurance_end")
    op.drop_column("vehicles", "compulsory_insurance_end")
