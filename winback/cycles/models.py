"""The monthly cycle (月度流失客户调查) and its screened targets."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.config import ProcessDefaults, rules_over_defaults


class CycleStage(str, enum.Enum):
    """Where a store's monthly cycle stands; each value is reached by one stage flow."""

    started = "started"  # 已启动
    cleaned = "cleaned"  # 档案整理 done
    screened = "screened"  # 筛选调查对象 done
    profiled = "profiled"  # 分析调研对象 done
    surveying = "surveying"  # 流失原因调查: tasks out, one-week deadline running
    tallied = "tallied"  # 结果统计 done
    planning = "planning"  # 整改措施制定: plan drafted, awaiting approval
    executing = "executing"  # 措施执行: plan approved, measures running
    evaluated = "evaluated"  # 总结及效果评估 done; the cycle is closed
    # Cancelled by the admin before its surveys started (cycles/service.py cancel_cycle). Last
    # in the order, so no stage flow moves a cancelled cycle again (``advance`` never goes back).
    cancelled = "cancelled"

    @property
    def order(self) -> int:
        return list(CycleStage).index(self)


class Band(str, enum.Enum):
    at_risk = "at_risk"  # 流失风险客户: 6-12 months without a visit
    lost = "lost"  # 流失客户: more than 12 months
    # 预测流失: not yet past the red line, but the visit model says probably gone (opt-in group).
    likely_lost = "likely_lost"


class MonthlyCycle(Base):
    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("store_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    stage: Mapped[CycleStage] = mapped_column(str_enum(CycleStage), default=CycleStage.started)
    # The settings in force when the cycle started (red lines, deadline, target...).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The day screening measures "months without a visit" from.
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    surveys_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    survey_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tallied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    execution_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Cancelled before its surveys started: when, by whom and why (cancel_cycle).
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # The manager found nothing to rectify (无需整改): the plan has no measures, the cycle
    # moves on to execution and its customers may be screened by later cycles at once.
    no_action_reason: Mapped[str | None] = mapped_column(String(500))
    no_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    no_action_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Tally of reasons (结果统计), overall and by segment; written by tally_reasons.
    tally: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Profile analysis (分析调研对象) of the targets; written by analyze_profiles.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Archive cleanup findings of this cycle; written by archive_cleanup.
    cleanup: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    store = relationship("Store", lazy="joined")

    @property
    def rules(self) -> ProcessDefaults:
        """The business rules this cycle runs by: its snapshot over the defaults of config.py.

        Every reader of a cycle's rules uses this (``cycle.rules.survey_deadline_days``)."""
        return rules_over_defaults(self.settings)


class Target(Base):
    """One vehicle (and its owner) screened into a cycle (调查对象)."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("cycle_id", "vehicle_id"),
        Index("ix_targets_store_customer", "store_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    band: Mapped[Band] = mapped_column(str_enum(Band))
    last_visit_date: Mapped[date] = mapped_column(Date)
    months_since_visit: Mapped[int] = mapped_column(Integer)
    in_warranty: Mapped[bool] = mapped_column(Boolean)
    visit_count: Mapped[int] = mapped_column(Integer)
    total_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Profile snapshot at screening (model, district, last visit category, yearly rate...).
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The store's MBG/NBD model at screening: chance the customer is still active, expected
    # visits over the forecast horizon, and value x risk (yearly spend x (1 - p_alive)).
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_visits: Mapped[float | None] = mapped_column(Float)
    priority: Mapped[float | None] = mapped_column(Float)
    # Randomized holdout (对照组): drawn at screening, never contacted, compared in the evaluation.
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # First repair order after the survey contact; set by the evaluation.
    came_back_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer = relationship("Customer", lazy="joined")
    vehicle = relationship("Vehicle", lazy="joined")

    # The order the manager reads the cycle's targets in (cycles.service.targets_of): ranked
    # by value x risk, the unranked last, then by spend. "Unranked last" is its own column of
    # the index because SQLite's indexes know no NULLS LAST.
    RANKING = (priority.is_(None), priority.desc(), total_spend.desc(), id)


# A page of that order is read from the index; sorting the cycle's 50,000 targets for every
# page cost PostgreSQL ~16 ms a call, deep pages or not.
Index("ix_targets_cycle_priority", Target.cycle_id, *Target.RANKING)


class FlowRunState(str, enum.Enum):
    scheduled = "scheduled"
    running = "running"
    completed = "completed"
    failed = "failed"
    crashed = "crashed"
    cancelled = "cancelled"


class FlowRunRecord(Base):
    """A Prefect flow run started for a store (and cycle), with its last known state.

    Written by the launcher and by the flows' state hooks, so the admin's page and the
    auditor's timeline show flow runs next to business events.
    """

    __tablename__ = "flow_runs"
    __table_args__ = (Index("ix_flow_runs_store_started", "store_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    flow_name: Mapped[str] = mapped_column(String(80))
    # The launcher's idempotency key ("monthly_cycle:month=2026-11,store_codes=['S01']"): one
    # live run per key. Bounded whatever the parameters (a long key ends in a hash of them).
    launch_key: Mapped[str] = mapped_column(String(200), index=True)
    prefect_flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[FlowRunState] = mapped_column(str_enum(FlowRunState))
    message: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lease of a live run: the process running it (host and pid) and its last heartbeat
    # (wall-clock time, not business time). A run whose process is gone, or that has not
    # beaten for ``flow_run_lease_seconds``, is dead and blocks nothing (winback/cycles/flow_runs.py).
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
