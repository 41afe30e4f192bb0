"""Stores (4S 店) and their staff."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum


class Role(str, enum.Enum):
    admin = "admin"  # 行政部 / 客服: archive, screening, starts the monthly cycle
    supervisor = "supervisor"  # 前台主管: distributes and chases survey tasks
    advisor = "advisor"  # 服务顾问: contacts customers, records the survey
    manager = "manager"  # 服务经理: rectification plan, approval
    auditor = "auditor"  # 审计: reads the trail, changes nothing


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Per-store overrides of winback.config.ProcessDefaults, e.g. {"survey_deadline_days": 10}.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Where notifications go: any Apprise URL (mailto://, json://, wecombot://, ...).
    apprise_url: Mapped[str | None] = mapped_column(String(500))
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Moves on at log-out and at a password change: every session cookie issued before it
    # stops working (winback.accounts.sessions).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # A password someone else chose or generated (``winback staff add`` without one, a roster
    # import): the person must choose their own at the first log-in before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    store: Mapped[Store] = relationship(lazy="joined")
    role_rows: Mapped[list[StaffRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # Further stores of the group this person works in (the home store is store_id).
    store_rows: Mapped[list[StaffStore]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    # Set (not stored) when a request is authenticated by a per-store API token: the request
    # is then scoped to that one store. See api.deps.store_ids.
    token_store_id = None

    @property
    def all_store_ids(self) -> list[int]:
        """Every store this person works in: the home store first."""
        ids = [self.store_id] + sorted(r.store_id for r in self.store_rows if r.store_id != self.store_id)
        if self.token_store_id is not None:
            return [i for i in ids if i == self.token_store_id]
        return ids

    @property
    def roles(self) -> set[Role]:
        return {r.role for r in self.role_rows}

    def has_role(self, *roles: Role | str) -> bool:
        return bool(self.roles.intersection(Role(r) for r in roles))


class StaffRole(Base):
    """A person may hold several roles (an advisor who is also a measure owner, ...)."""

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("staff_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))


class StaffStore(Base):
    """A further store of the group a person works in (an area manager, a group auditor)."""

    __tablename__ = "staff_stores"
    __table_args__ = (UniqueConstraint("staff_id", "store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)


class LoginAttempt(Base):
    """Failed log-ins, kept in the database so the rate limit holds across workers."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))


class ApiToken(Base):
    """A per-store token for integrations (the DMS pushing repair orders). Only its SHA-256
    is stored; the token itself is shown once when it is made. Revoked tokens stay, for the trail."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    # The account the integration acts as (its roles decide what the token may do).
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id], lazy="joined")
