"""What the JSON API answers: one pydantic model per shape, declared as each route's
``response_model`` so /openapi.json describes the answers and a field cannot leak or go
missing unnoticed (``extra="forbid"``: a serializer that adds a field the model does not
declare fails its test). The error answer (``ErrorOut``) is declared on every route too."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

# Times as the API always wrote them: ISO 8601 with the offset (+00:00), not pydantic's "Z".
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda v: v.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Json = dict[str, Any]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- errors -------------------------------------------------------------------------------


class FieldErrorOut(Out):
    field: str
    message: str


class ErrorOut(Out):
    """Every error answer: ``detail`` in the caller's language, ``code`` its stable key."""

    detail: str
    code: str | None = None
    detail_en: str | None = None
    field: str | None = None
    errors: list[FieldErrorOut] | None = None


_ERROR_TEXT = {
    401: "not logged in (code not_logged_in)",
    403: "not allowed (code forbidden, or csrf for a cross-origin write)",
    404: "no such record in the caller's stores (code not_found)",
    409: "changed by someone else meanwhile, or not possible in this state (code conflict)",
    422: "invalid input (code invalid; ``errors`` lists the fields)",
    429: "too many failed log-ins (code too_many_attempts)",
    503: "the database is not reachable (code db_unavailable), or every connection to it is in use (code busy; try again after Retry-After seconds)",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_TEXT.items()
}


class OkOut(Out):
    ok: bool


# ---- accounts -----------------------------------------------------------------------------


class MeOut(Out):
    id: int
    username: str
    name: str
    store: str
    store_ids: list[int]
    roles: list[str]
    locale: str | None


# ---- cycles -------------------------------------------------------------------------------


class CycleOut(Out):
    id: int
    store: str
    month: str
    stage: str
    as_of: str
    settings: Json
    survey_deadline_at: Timestamp | None
    execution_started_at: Timestamp | None
    evaluation_due_at: Timestamp | None
    evaluated_at: Timestamp | None
    tally: Json | None
    profile: Json | None
    cleanup: Json | None
    # Cancelled before its surveys started (stage "cancelled"): when and why.
    cancelled_at: Timestamp | None = None
    cancel_reason: str | None = None
    # Completed with "no action" (无需整改): the manager's reason.
    no_action_reason: str | None = None


class FlowRunOut(Out):
    id: int
    flow: str
    prefect_flow_run_id: str | None
    state: str
    started_at: Timestamp
    finished_at: Timestamp | None
    message: str | None
    owner: str | None = None  # the process carrying the run ("process 1234 on host")


class CycleDetailOut(CycleOut):
    progress: list[Json] | Json
    flow_runs: list[FlowRunOut]


class LaunchedOut(Out):
    record_id: int
    flow_name: str
    prefect_flow_run_id: str | None
    state: str
    reused: bool
    owner: str | None = None  # the process carrying the run ("process 1234 on host")


class StartedOut(Out):
    flow_run: LaunchedOut


class TargetOut(Out):
    id: int
    customer_id: int
    customer: str
    vehicle_id: int
    vin: str | None
    plate: str | None
    model: str | None
    band: str
    last_visit_date: str
    months_since_visit: int
    in_warranty: bool
    visit_count: int
    total_spend: str
    came_back_on: str | None
    holdout: bool


class TargetPageOut(Out):
    total: int
    offset: int
    items: list[TargetOut]


# ---- surveys ------------------------------------------------------------------------------


class VehicleOut(Out):
    vin: str | None
    plate: str | None
    model: str | None


class AttemptOut(Out):
    at: Timestamp
    method: str
    outcome: str
    note: str | None
    call_back_at: Timestamp | None


class TaskOut(Out):
    id: int
    cycle_id: int
    target_id: int
    status: str
    assignee_id: int
    assignee: str
    assigned_at: Timestamp
    due_at: Timestamp
    customer_id: int
    customer: str
    phone: str | None
    vehicle: VehicleOut
    band: str
    method: str | None
    reasons: list[str]
    serviced_elsewhere: bool | None
    elsewhere_what: str | None
    elsewhere_where: str | None
    elsewhere_why: str | None
    elsewhere_kind: str | None
    reason_other: str | None
    would_return: bool | None
    appointment_on: date | None
    voucher_offered: bool | None
    complaint: str | None
    complaint_answer: str | None
    notes: str | None
    closed_at: Timestamp | None
    follow_up_at: Timestamp | None
    excluded_reason: str | None
    draft_saved_at: Timestamp | None
    version: int
    attempts: list[AttemptOut]
    # The customer's earlier task this one carries on (closed as carried_over), if any.
    carried_from_id: int | None = None


class TaskPageOut(Out):
    total: int
    offset: int
    items: list[TaskOut]


class TaskSummaryOut(Out):
    id: int
    cycle_id: int
    status: str
    band: str
    assignee_id: int
    due_at: Timestamp
    follow_up_at: Timestamp | None
    draft_saved_at: Timestamp | None
    closed_at: Timestamp | None
    version: int
    customer_id: int
    customer: str
    phone: str | None
    vehicle: VehicleOut
    attempts: int


class ReassignedOut(Out):
    reassigned: int


class HandOverOut(Out):
    tasks: int
    customers: int
    deactivated: bool  # only an admin's hand-over also deactivates the account


class ReasonCodeOut(Out):
    code: str
    label_zh: str
    label_en: str | None
    area: str


# ---- plans and evaluation -----------------------------------------------------------------


class MeasureOut(Out):
    id: int
    area: str
    title: str
    reason: str | None
    owner_id: int | None
    owner: str | None
    due_date: str | None
    expected_effect: str | None
    estimated_cost: str | None
    status: str
    overdue: bool
    reasons: list[str]
    expected_value: str | None
    expected_unit: str | None
    lineage_id: int | None
    evidence: str | None
    done_at: Timestamp | None
    reminders: int
    escalated_at: Timestamp | None


class PlanOut(Out):
    id: int
    cycle_id: int
    version: int
    status: str
    amends_id: int | None
    submitted_at: Timestamp | None
    decided_at: Timestamp | None
    decided_by: str | None
    decision_comment: str | None
    measures: list[MeasureOut]


class PlanVersionOut(Out):
    id: int
    version: int
    status: str


class PlanCompareOut(Out):
    old: PlanVersionOut
    new: PlanVersionOut
    added: list[Json]
    removed: list[Json]
    changed: list[Json]


class EvaluationOut(Out):
    cycle_id: int
    computed_at: Timestamp
    targets: int
    contacted: int
    vehicles_back: int
    workshop_entries: int
    output_value: str
    measure_cost: str
    winback_rate_pct: float | None
    target_pct: float | None
    per_advisor: list[Json]
    per_measure: list[Json]
    voucher_cost: str
    satisfaction_avg: float | None
    satisfaction_n: int | None
    holdout: Json | None
    churn_rate_pct: float | None
    kpis: Json | None


class TrendOut(Out):
    """A quarter of the store's evaluations."""

    quarter: str
    months: list[str]
    return_rate_pct: float | None
    churn_rate_pct: float | None
    lift_pct: float | None
    lift_ci_low_pct: float | None
    lift_ci_high_pct: float | None
    shortfall_yuan: dict[str, Any]


class VoucherOut(Out):
    id: int
    cycle_id: int
    target_id: int | None
    customer_id: int
    measure_id: int | None
    kind: str
    amount: str
    offered_at: Timestamp
    expires_on: str | None
    redeemed_on: str | None


class CallbackOut(Out):
    id: int
    target_id: int
    satisfaction: int
    note: str | None
    at: Timestamp


class MeasureTemplateOut(Out):
    id: int
    reason_code: str
    area: str
    title: str
    title_en: str | None
    expected_effect: str | None
    expected_value: str | None
    expected_unit: str | None
    estimated_cost: str | None
    active: bool


# ---- archive and audit --------------------------------------------------------------------


class VisitCreatedOut(Out):
    id: int
    vehicle_id: int
    customer_id: int


class ImportRowErrorOut(Out):
    row: int
    column: str | None
    code: str | None
    reason: str
    reason_en: str
    value: str | None
    warning: bool = False  # the row was imported, this cell left empty


class ImportBatchOut(Out):
    id: int
    kind: str
    filename: str
    sha256: str
    status: str
    message: str | None
    message_en: str | None = None  # the message in English when ``message`` is not
    already_imported: bool
    format: str | None
    encoding: str | None
    columns: Json
    rows: int
    inserted: int
    updated: int
    unchanged: int
    failed: int
    returned_targets: int
    # A repair-order file without an RO-number column: keys derived from vehicle, date, amount, category.
    key_derived: bool = False
    key_derived_note: str | None = None  # saying so, in the caller's language
    errors: list[ImportRowErrorOut]


class ValueMappingsOut(Out):
    """A store's own words for closed-list values: field -> {word: value}; ``fields`` the
    fields that take them, each with its values."""

    mappings: dict[str, dict[str, str]]
    fields: dict[str, list[str]]


class QualityOut(Out):
    customers: int
    vehicles: int
    visits: int
    completeness: dict[str, float]
    invalid: dict[str, int]
    duplicates_pending: int
    vehicles_excluded: int


class AuditEventOut(Out):
    id: int
    at: Timestamp
    actor: str
    action: str
    entity_type: str
    entity_id: int
    changes: Json
    flow_run_id: str | None
    seq: int
    prev_hash: str
    hash: str


# ---- notifications: channels, the inbox, delivery (issue 16) -------------------------------


class ChannelOut(Out):
    """A person's external channel. ``url`` whole only to its owner or an admin; ``masked`` is
    Apprise's privacy form (secrets as ****)."""

    staff_id: int
    kind: str | None
    url: str | None
    masked: str | None


class DeliveryOut(Out):
    """One delivery record: ``status`` sent, failed, pending (retrying) or inbox_only;
    ``reason`` a stable key and ``reason_text`` its words in the caller's language;
    ``detail`` the sender's technical words."""

    id: int
    status: str
    channel: str | None
    attempts: int
    reason: str | None
    reason_text: str | None
    detail: str | None


class InboxItemOut(Out):
    id: int
    kind: str
    title: str
    body: str
    created_at: Timestamp
    read: bool
    link: str | None
    delivery: DeliveryOut


class InboxOut(Out):
    unread: int
    total: int
    items: list[InboxItemOut]


class MarkedReadOut(Out):
    marked: int
    unread: int


class ChannelFiguresOut(Out):
    channel: str
    delivered: int
    failed: int
    retrying: int
    inbox_only: int
    last_error: DeliveryOut | None


class NoChannelOut(Out):
    id: int
    username: str
    name: str


class NotificationReportOut(Out):
    channels: list[ChannelFiguresOut]
    without_channel: list[NoChannelOut]


# ---- appointments, complaint cases, vouchers (issue 18) ------------------------------------


class AppointmentOut(Out):
    id: int
    task_id: int
    customer: str
    plate: str | None = None
    day: date
    slot: str
    service_type: str
    advisor_id: int
    advisor: str
    status: str
    visit_id: int | None = None
    note: str | None = None


class ComplaintCaseOut(Out):
    id: int
    task_id: int
    customer: str
    complaint: str
    status: str
    opened_at: Timestamp
    owner_id: int | None = None
    owner: str | None = None
    resolution: str | None = None
    resolved_at: Timestamp | None = None
    resolved_by_id: int | None = None
    resolved_by: str | None = None
    recall_due_on: date | None = None
    recall_status: str | None = None


class CodedVoucherOut(Out):
    id: int
    code: str
    customer_id: int
    kind: str
    amount: str
    expires_on: date | None = None
    status: str
    redeemed_on: date | None = None
    redeemed_ro: str | None = None
