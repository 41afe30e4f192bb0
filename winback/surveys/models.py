"""Reason-survey tasks (流失原因调查) handed to service advisors with a one-week deadline."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.cycles.models import Band


class ReasonArea(str, enum.Enum):
    """The area a reason points at, which is also the area of the measures that answer it."""

    service = "service"  # 服务
    repair_quality = "repair_quality"  # 维修质量
    price = "price"  # 价格
    distance = "distance"  # 距离
    other = "other"  # 其他


class ReasonCode(Base):
    """A churn reason (流失原因). Seeded per store from PROCESS.md; stores may add their own."""

    __tablename__ = "reason_codes"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    label_zh: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    area: Mapped[ReasonArea] = mapped_column(str_enum(ReasonArea))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    def label(self, locale: str) -> str:
        return self.label_en if locale == "en" else self.label_zh


class SurveyStatus(str, enum.Enum):
    open = "open"  # 待回访
    done = "done"  # 已完成
    unreachable = "unreachable"  # 无法联系
    # Taken off the list by the supervisor (with a reason) or by the customer's "do not call".
    excluded = "excluded"  # 已排除
    # Still open when its cycle was evaluated, or when a later cycle screened the customer
    # again: closed as carried over (已结转), its attempts kept; the customer's next task
    # points back at it (``carried_from_id``) and shows its history. Never two open tasks.
    carried_over = "carried_over"  # 已结转


class ContactMethod(str, enum.Enum):
    phone = "phone"  # 电话回访
    store_event = "store_event"  # 邀请到店活动
    home_visit = "home_visit"  # 上门拜访


class Disposition(str, enum.Enum):
    """The outcome of one contact attempt, as dealer call centres code them."""

    reached = "reached"  # 已接通
    appointment_booked = "appointment_booked"  # 已预约进店
    left_message = "left_message"  # 已留言
    no_answer = "no_answer"  # 无人接听
    busy = "busy"  # 占线
    call_back = "call_back"  # 约定回电 (sets the task's follow-up time)
    wrong_number = "wrong_number"  # 空号/错号 (the archive's phone is marked invalid)
    not_interested = "not_interested"  # 不感兴趣
    serviced_elsewhere = "serviced_elsewhere"  # 已在别处保养
    do_not_call = "do_not_call"  # 拒绝再联系 (never listed again)

    @property
    def reached_customer(self) -> bool:
        return self in _REACHED

    @property
    def failed(self) -> bool:
        """An attempt that did not reach the customer; N of them close the task as unreachable."""
        return self in _FAILED


_REACHED = {
    Disposition.reached,
    Disposition.appointment_booked,
    Disposition.call_back,
    Disposition.not_interested,
    Disposition.serviced_elsewhere,
    Disposition.do_not_call,
}
_FAILED = {Disposition.left_message, Disposition.no_answer, Disposition.busy}


class ShopKind(str, enum.Enum):
    """Where a lost customer's car was serviced instead."""

    independent = "independent"  # 路边/社会修理厂
    other_4s = "other_4s"  # 其他 4S 店
    chain = "chain"  # 连锁快修
    insurance = "insurance"  # 保险公司指定
    other = "other"  # 其他


class SurveyTask(Base):
    __tablename__ = "survey_tasks"
    __table_args__ = (
        # The advisor's list and "my day" counts read every column they need from this index
        # alone (migration 0045): fetching each task from the table cost PostgreSQL 5 ms a list.
        Index(
            "ix_survey_tasks_advisor_list",
            "assignee_id",
            "status",
            "due_at",
            "follow_up_at",
            "band",
            "total_spend",
            "closed_at",
            "id",
        ),
        # The progress board: a cycle's tasks counted per advisor and status, read in order.
        Index("ix_survey_tasks_cycle_board", "cycle_id", "assignee_id", "status", "due_at"),
        Index("ix_survey_tasks_cycle_status", "cycle_id", "status"),
        # The supervisor's list of the cycle's tasks (surveys.lists.QUEUE_ORDER): open ones first
        # by due date (the overdue are the earliest), then the rest. A page is read from the
        # index; sorting the cycle's tasks for every page cost PostgreSQL ~12 ms a call.
        Index("ix_survey_tasks_cycle_queue", "cycle_id", text("(status <> 'open')"), "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    # One task per target: a second assign_surveys run finds it and does nothing.
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # assigned_at + survey_deadline_days (one week by default).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[SurveyStatus] = mapped_column(str_enum(SurveyStatus), default=SurveyStatus.open)
    # Copied from the target when the task is made (neither changes afterwards), so an
    # advisor's list sorts "lost before at-risk, valuable before cheap" on this table alone:
    # joining the targets for it cost ~10 ms of PostgreSQL per list at 50,000 open tasks.
    band: Mapped[Band] = mapped_column(str_enum(Band))
    total_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Reminder state as plain columns: "due soon and not yet reminded" is one query.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Call back at ...": the task sleeps in the list until then (like a snooze).
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the supervisor took the target off the list (or "do_not_call").
    excluded_reason: Mapped[str | None] = mapped_column(String(300))
    # A half-finished form was saved (the fields below hold it; status stays open).
    draft_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The result (调查结果).
    method: Mapped[ContactMethod | None] = mapped_column(str_enum(ContactMethod))
    serviced_elsewhere: Mapped[bool | None] = mapped_column(Boolean)
    elsewhere_what: Mapped[str | None] = mapped_column(String(300))
    elsewhere_where: Mapped[str | None] = mapped_column(String(300))
    elsewhere_why: Mapped[str | None] = mapped_column(String(500))
    elsewhere_kind: Mapped[ShopKind | None] = mapped_column(str_enum(ShopKind))
    # The "other" reason in the customer's words.
    reason_other: Mapped[str | None] = mapped_column(String(300))
    would_return: Mapped[bool | None] = mapped_column(Boolean)
    appointment_on: Mapped[date | None] = mapped_column(Date)
    voucher_offered: Mapped[bool | None] = mapped_column(Boolean)
    # Complaints heard on the call are recorded, never filtered out: once saved a complaint
    # cannot be changed or removed, only answered (the manager is told).
    complaint: Mapped[str | None] = mapped_column(Text)
    complaint_answer: Mapped[str | None] = mapped_column(Text)
    complaint_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complaint_answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The customer's earlier task this one carries on (closed as carried_over), if any.
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("survey_tasks.id"))
    # Optimistic locking: of two people closing the same task, one wins, the other is told.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    target = relationship("Target", lazy="joined")
    assignee = relationship("Staff", foreign_keys=[assignee_id], lazy="joined")
    # in the order they were first recorded (as the task's view lists them: surveys.task_view)
    reasons: Mapped[list[SurveyTaskReason]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SurveyTaskReason.id"
    )
    attempts: Mapped[list[ContactAttempt]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ContactAttempt.at"
    )


class SurveyTaskReason(Base):
    __tablename__ = "survey_task_reasons"
    __table_args__ = (UniqueConstraint("task_id", "reason_code_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("survey_tasks.id", ondelete="CASCADE"), index=True)
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id"), index=True)

    reason_code = relationship("ReasonCode", lazy="joined")


class ContactAttempt(Base):
    """One call, event invitation or visit (联系记录), whatever its outcome."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("survey_tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    method: Mapped[ContactMethod] = mapped_column(str_enum(ContactMethod))
    # A Disposition value: reached, no_answer, busy, wrong_number, ...
    outcome: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(String(500))
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallScript(Base):
    """The store's call script for one band (at risk / lost): the opening and the questions,
    written by the manager (``winback.surveys.scripts``); a band without one uses the default."""

    __tablename__ = "call_scripts"
    __table_args__ = (UniqueConstraint("store_id", "band"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    band: Mapped[Band] = mapped_column(str_enum(Band))
    opening: Mapped[str] = mapped_column(Text)
    questions: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
