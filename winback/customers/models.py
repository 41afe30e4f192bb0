"""The customer archive (客户档案): customers, vehicles and repair orders from the DMS."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.i18n import stored_text


class CustomerType(str, enum.Enum):
    private = "private"  # 私家车
    company = "company"  # 单位用车
    insurance = "insurance"  # 保险事故车
    taxi = "taxi"  # 出租车


class VehicleGrade(str, enum.Enum):
    luxury = "luxury"  # 豪华
    mid = "mid"  # 中级
    lower_mid = "lower_mid"  # 中低级
    economy = "economy"  # 经济型


class VehicleStatus(str, enum.Enum):
    """Vehicles not ``active`` are excluded from screening (a sold car needs no survey)."""

    active = "active"
    sold = "sold"  # 已卖
    scrapped = "scrapped"  # 已报废
    moved = "moved"  # 迁出
    deceased = "deceased"  # 车主已故


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("store_id", "dms_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    # The customer's number in the dealer management system (DMS).
    dms_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    # The number as the archive cleanup last checked it: a row is checked again only when its
    # phone differs (changed by an import, an edit or SQL), not on every run (issue 20).
    phone_checked: Mapped[str | None] = mapped_column(String(40))
    # An advisor reached a wrong/bad number (空号/错号): the phone stays invalid until changed.
    phone_reported_wrong_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer asked not to be called again (拒绝回访): no later cycle lists them.
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A second person to call (a spouse, the company's fleet contact), given on a task (issue 18).
    second_contact_name: Mapped[str | None] = mapped_column(String(120))
    second_contact_phone: Mapped[str | None] = mapped_column(String(40))
    # The advisor who looks after the customer; handed over when the advisor leaves.
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    gender: Mapped[str | None] = mapped_column(String(10))
    birth_date: Mapped[date | None] = mapped_column(Date)
    occupation: Mapped[str | None] = mapped_column(String(80))
    district: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(300))
    customer_type: Mapped[CustomerType] = mapped_column(str_enum(CustomerType), default=CustomerType.private)
    # What advisors learn (preferences, why they left) belongs in the archive, not a notebook.
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A duplicate merged into another customer keeps its row (traceable), points at the survivor.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # The DMS file that created this record (None: entered here or by the demo).
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))

    vehicles: Mapped[list[Vehicle]] = relationship(
        back_populates="customer", foreign_keys="Vehicle.customer_id"
    )


class Vehicle(Base):
    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("store_id", "vin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17))
    vin_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    # The VIN check digit (position 9) holds; many Chinese VINs skip it, so this only flags.
    vin_check_digit_ok: Mapped[bool | None] = mapped_column(Boolean)
    plate: Mapped[str | None] = mapped_column(String(20))
    plate_valid: Mapped[bool | None] = mapped_column(Boolean)
    # "VIN|plate" as the archive cleanup (or the import) last checked them: the cleanup checks
    # only the vehicles whose identifiers changed since (see ``identifiers_marker``).
    identifiers_checked: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(80))
    grade: Mapped[VehicleGrade | None] = mapped_column(str_enum(VehicleGrade))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    # Insurance expiry imported with the vehicle (交强险到期日 / 商业险到期日): the care calendar.
    compulsory_insurance_end: Mapped[date | None] = mapped_column(Date)
    commercial_insurance_end: Mapped[date | None] = mapped_column(Date)
    # 初次登记日期: the annual inspection counts from it (the purchase date when unknown).
    registered_on: Mapped[date | None] = mapped_column(Date)
    # 检验有效期至 (driving licence or inspection record): a later date imported means inspected.
    inspection_valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[VehicleStatus] = mapped_column(str_enum(VehicleStatus), default=VehicleStatus.active)
    status_note: Mapped[str | None] = mapped_column(String(300))
    # Who flagged it sold / scrapped / moved / deceased owner, and when (excluded from screening).
    status_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="vehicles")


class ServiceVisit(Base):
    """A repair order (维修工单): one workshop entry (进厂) of one vehicle."""

    __tablename__ = "service_visits"
    __table_args__ = (
        UniqueConstraint("store_id", "ro_number"),
        # Screening asks "last visit per vehicle"; this index answers it without the table.
        Index("ix_service_visits_vehicle_date", "vehicle_id", "visit_date"),
        Index("ix_service_visits_store_date", "store_id", "visit_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    ro_number: Mapped[str] = mapped_column(String(40))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date)
    mileage: Mapped[int | None] = mapped_column(Integer)
    # 维修类别: maintenance 保养, repair 维修, accident 事故, warranty 保修, ...
    category: Mapped[str] = mapped_column(String(40))
    items: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportKind(str, enum.Enum):
    customers = "customers"
    vehicles = "vehicles"
    visits = "visits"


class ImportStatus(str, enum.Enum):
    running = "running"
    done = "done"
    failed = "failed"  # the file is not a table we can read (one message, no rows)


class ImportBatch(Base):
    """One file imported from the DMS: its hash, where the original is kept, and the counts.

    Every data row is counted exactly once: inserted, updated, unchanged or failed (with a
    row error). A file with the same hash imported again is not imported a second time.
    """

    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_store_kind_sha", "store_id", "kind", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    kind: Mapped[ImportKind] = mapped_column(str_enum(ImportKind))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # The original file, kept under the data directory by its hash.
    stored_path: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str | None] = mapped_column(String(20))
    encoding: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus), default=ImportStatus.running)
    message: Mapped[str | None] = mapped_column(Text)
    # Source header -> field, as used for this file.
    columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # While running: rows_done of rows_total, the rows the file seemed to hold when opened (an
    # estimate, for the progress bar). Once finished both are the data rows counted.
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # A repair-order file without an RO-number column: each row's key was derived from its
    # vehicle, date, amount and category (so the same file again doubles nothing).
    key_derived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Visits imported for vehicles that are targets of a cycle already started (came back).
    returned_targets: Mapped[int] = mapped_column(Integer, default=0)
    # Data quality of the store's archive after this import (trend by import).
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def message_text(self, locale: str = "zh") -> str | None:
        """Why the import failed, in ``locale`` (kept as a message id and its parameters)."""
        return stored_text(self.message, locale)


class ImportRowError(Base):
    """A row that was not imported: its number in the file (1 = header row), column and reason."""

    __tablename__ = "import_row_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(120))
    # A code and its parameters as JSON (winback.customers.import_errors), or, in rows stored
    # before codes, an English sentence: read it with ``text(locale)``.
    reason: Mapped[str] = mapped_column(String(500))
    value: Mapped[str | None] = mapped_column(String(500))

    @property
    def code(self) -> str | None:
        from winback.customers.import_errors import decode

        return decode(self.reason)[0]

    def text(self, locale: str = "zh") -> str:
        """The reason in ``locale`` (zh, en)."""
        from winback.customers.import_errors import describe

        return describe(self.reason, locale)


class ColumnMapping(Base):
    """A store's saved column mapping for a kind of file: source header -> field."""

    __tablename__ = "column_mappings"
    __table_args__ = (UniqueConstraint("store_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[ImportKind] = mapped_column(str_enum(ImportKind))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class ValueMapping(Base):
    """A store's own words for a closed-list value (customer type, gender, grade, category):
    the cell's text -> the value it means, tried before the built-in synonyms."""

    __tablename__ = "import_value_mappings"
    __table_args__ = (UniqueConstraint("store_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    field: Mapped[str] = mapped_column(String(40))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class MergeStatus(str, enum.Enum):
    pending = "pending"
    merged = "merged"
    rejected = "rejected"


class MergeProposal(Base):
    """Two customer records that look like one person; the admin merges or rejects."""

    __tablename__ = "merge_proposals"
    __table_args__ = (UniqueConstraint("store_id", "keep_id", "merge_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    keep_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    merge_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # same_vin / same_phone / similar_name_phone / similar_name_address
    rule: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float, default=100.0)
    status: Mapped[MergeStatus] = mapped_column(str_enum(MergeStatus), default=MergeStatus.pending)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(300))

    keep = relationship("Customer", foreign_keys=[keep_id], lazy="joined")
    merge = relationship("Customer", foreign_keys=[merge_id], lazy="joined")


class NoteKind(str, enum.Enum):
    preference = "preference"  # 偏好
    reason_left = "reason_left"  # 流失原因
    best_time = "best_time"  # 方便联系时间
    other = "other"


class CustomerNote(Base):
    """What an advisor learned about a customer, kept in the archive (not only on a task)."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[NoteKind] = mapped_column(str_enum(NoteKind))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PhoneChange(Base):
    """A customer's number replaced from a task (after 号码错误): the old one is kept here, never
    lost, with who changed it and why; the customer page lists them."""

    __tablename__ = "customer_phone_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    old_phone: Mapped[str | None] = mapped_column(String(40))
    new_phone: Mapped[str] = mapped_column(String(40))
    # Whether the old number had been reported wrong (空号/错号) when it was replaced.
    old_reported_wrong: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MileageFlag(Base):
    """A repair order's mileage the forecast ignored (lower than before, or an impossible jump):
    reported with the archive cleanup's findings (the care area finds them)."""

    __tablename__ = "care_mileage_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("service_visits.id"), unique=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    reason: Mapped[str] = mapped_column(String(20))  # lower / jump
    mileage: Mapped[int] = mapped_column(Integer)
    found_on: Mapped[date] = mapped_column(Date)
