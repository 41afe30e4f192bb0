"""Imports every model so the metadata is complete (Alembic, tests)."""

from db.base import Base  # noqa: F401
from winback.accounts.models import ApiToken, LoginAttempt, Role, Staff, StaffRole, StaffStore, Store  # noqa: F401
from winback.audit.models import AuditChainHead, AuditEvent  # noqa: F401
from winback.care.models import CareHoldout, CareItem, CareSchedule, CareTouch  # noqa: F401
from winback.cases.models import Appointment, ComplaintCase  # noqa: F401
from winback.clock import DemoClock  # noqa: F401
from winback.customers.models import (  # noqa: F401
    ColumnMapping,
    Customer,
    CustomerNote,
    ImportBatch,
    ImportRowError,
    MergeProposal,
    PhoneChange,
    ServiceVisit,
    ValueMapping,
    Vehicle,
)
from winback.cycles.models import FlowRunRecord, MonthlyCycle, Target  # noqa: F401
from winback.evaluation.models import Evaluation  # noqa: F401
from winback.notifications.models import Notification  # noqa: F401
from winback.plans.models import Measure, RectificationPlan  # noqa: F401
from winback.surveys.models import (  # noqa: F401
    CallScript,
    ContactAttempt,
    ReasonCode,
    SurveyTask,
    SurveyTaskReason,
)
