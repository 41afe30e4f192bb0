"""Appointments (预约) made on a survey call and complaints (投诉) as cases of their own."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.care import models as _care_models  # noqa: F401  (ComplaintCase.recall_item's CareItem)


class ServiceType(str, enum.Enum):
    maintenance = "maintenance"  # 保养
    repair = "repair"  # 维修
    inspection = "inspection"  # 年检
    bodywork = "bodywork"  # 钣金喷漆
    other = "other"  # 其他


class AppointmentStatus(str, enum.Enum):
    booked = "booked"  # 已预约
    # The loop closed by the repair order of the car (imported), on or after the day.
    arrived = "arrived"  # 已到店
    # The day passed without a repair order (turns to arrived if a late one is imported).
    no_show = "no_show"  # 未到店
    # The customer called it off (the reason kept in the note); booking again reopens it.
    cancelled = "cancelled"  # 已取消


class Appointment(Base):
    """The customer's visit booked on a survey call: day, time slot, service type and the
    advisor who receives the car. One per survey task (booking again moves it)."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_store_day", "store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("survey_tasks.id"), unique=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    # One of the store's slots (``appointment_slots``), "09:00-10:30".
    slot: Mapped[str] = mapped_column(String(20))
    service_type: Mapped[ServiceType] = mapped_column(str_enum(ServiceType))
    advisor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[AppointmentStatus] = mapped_column(
        str_enum(AppointmentStatus), default=AppointmentStatus.booked
    )
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("service_visits.id"))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    advisor = relationship("Staff", foreign_keys=[advisor_id], lazy="joined")
    customer = relationship("Customer", lazy="joined")
    vehicle = relationship("Vehicle", lazy="joined")


class CaseStatus(str, enum.Enum):
    open = "open"  # 处理中
    resolved = "resolved"  # 已解决 (the re-call within a week follows, a care call)


class ComplaintCase(Base):
    """A complaint heard on a survey call (投诉), handled as a case: an owner, the resolution,
    who resolved it and when; the re-call within a week after (PROCESS.md) is the care
    calendar's ``complaint_recall`` item (``recall_item_id``), called from the advisor's queue."""

    __tablename__ = "complaint_cases"
    __table_args__ = (Index("ix_complaint_cases_store_status", "store_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("survey_tasks.id"), unique=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    complaint: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.open)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The re-call: its care item, and when its advisor was last reminded (once before the day).
    recall_item_id: Mapped[int | None] = mapped_column(ForeignKey("care_items.id"))
    recall_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner = relationship("Staff", foreign_keys=[owner_id], lazy="joined")
    resolved_by = relationship("Staff", foreign_keys=[resolved_by_id], lazy="joined")
    customer = relationship("Customer", lazy="joined")
    recall_item = relationship("CareItem", lazy="joined")
