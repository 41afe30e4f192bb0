"""The customer archive (客户档案): customers, vehicles and repair orders from the DMS."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum


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
    # An advisor reached a wrong/bad number (空号/错号): the phone stays invalid until changed.
    phone_reported_wrong_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer asked not to be called again (拒绝回访): no later cycle lists them.
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The advisor who looks after the customer; handed over when the advisor leaves.
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    gender: Mapped[str | None] = mapped_column(String(10))
    birth_date: Mapped[date | None] = mapped_column(Date)
    occupation: Mapped[str | None] = mapped_column(String(80))
    district: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(300))
    customer_type: Mapped[CustomerType] = mapped_column(
        str_enum(CustomerType), default=CustomerType.private
    )
    # What advisors learn (preferences, why they left) belongs in the archive, not a notebook.
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    vehicles: Mapped[list[Vehicle]] = relationship(back_populates="customer")


class Vehicle(Base):
    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("store_id", "vin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17))
    vin_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    plate: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(80))
    grade: Mapped[VehicleGrade | None] = mapped_column(str_enum(VehicleGrade))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[VehicleStatus] = mapped_column(
        str_enum(VehicleStatus), default=VehicleStatus.active
    )
    status_note: Mapped[str | None] = mapped_column(String(300))
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
