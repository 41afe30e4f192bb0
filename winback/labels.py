"""Words the code picks at run time, marked for the catalog.

The pages translate a stored code with ``_(code)`` (a cycle's stage, a task's outcome, a profile
dimension, a cleanup finding): the code is the message id, so ``pybabel extract`` cannot see it
where it is used. Each is marked here with ``N_``, grouped by where it comes from, so the
catalog keeps them and tests/test_i18n.py can check that every catalog entry is still used.
(Better words for English readers than the raw codes are issue 18's; the codes stay the ids.)
"""

from __future__ import annotations

from winback.i18n import N_

# Cycle stages (winback.cycles.models.CycleStage) and flow-run states.
CYCLE_STAGES = (
    N_("started"),
    N_("cleaned"),
    N_("screened"),
    N_("profiled"),
    N_("surveying"),
    N_("tallied"),
    N_("planning"),
    N_("executing"),
    N_("evaluated"),
)
FLOW_RUN_STATES = (
    N_("scheduled"),
    N_("running"),
    N_("completed"),
    N_("failed"),
    N_("crashed"),
    N_("cancelled"),
)
# Task statuses the pages show by code (the others are words used elsewhere as well).
TASK_STATUSES = (N_("carried_over"),)
# Flow names (flows/*.py), shown as what the flow does (partials/flow_runs.html: "flow:" + name).
FLOW_NAMES = (
    N_("flow:analyze_profiles"),
    N_("flow:archive_cleanup"),
    N_("flow:assign_surveys"),
    N_("flow:cycle_for_store"),
    N_("flow:draft_plan"),
    N_("flow:evaluate_cycle"),
    N_("flow:execute_plan"),
    N_("flow:import_visits"),
    N_("flow:monthly_cycle"),
    N_("flow:plan_care"),
    N_("flow:resume_cycle"),
    N_("flow:screen_targets"),
    N_("flow:tally_reasons"),
    N_("flow:watch_deadlines"),
)
# Target bands (winback.cycles.models.Band), incl. the model's "likely lost".
BANDS = (N_("at_risk"), N_("lost"), N_("likely_lost"))
# Survey tasks: contact methods, attempt outcomes, where else the car was serviced.
CONTACT_METHODS = (N_("phone"), N_("store_event"), N_("home_visit"))
OUTCOMES = (
    N_("reached"),
    N_("appointment_booked"),
    N_("left_message"),
    N_("no_answer"),
    N_("busy"),
    N_("call_back"),
    N_("wrong_number"),
    N_("not_interested"),
    N_("serviced_elsewhere"),
    N_("do_not_call"),
)
SHOP_KINDS = (
    N_("shop:independent"),
    N_("shop:other_4s"),
    N_("shop:chain"),
    N_("shop:insurance"),
    N_("shop:other"),
)
# Reason areas (winback.surveys.models.ReasonArea), also the measures' areas.
REASON_AREAS = (N_("service"), N_("repair_quality"), N_("price"), N_("distance"), N_("other"))
# Plans and measures.
PLAN_STATUSES = (N_("draft"), N_("submitted"), N_("approved"), N_("rejected"), N_("superseded"))
MEASURE_STATUSES = (N_("todo"), N_("in_progress"), N_("overdue"))
MEASURE_FIELDS = (
    N_("title"),
    N_("area"),
    N_("owner"),
    N_("owner_id"),
    N_("due_date"),
    N_("expected_effect"),
    N_("expected_value"),
    N_("expected_unit"),
    N_("estimated_cost"),
    N_("reasons"),
)
# Roles (winback.accounts.models.Role).
ROLES = (N_("admin"), N_("supervisor"), N_("advisor"), N_("manager"), N_("auditor"))
# The audit trail's entity types.
ENTITY_TYPES = (N_("customer"), N_("task"), N_("plan"), N_("cycle"))
# Profile dimensions and their values (winback.analytics).
DIMENSIONS = (
    N_("band"),
    N_("model"),
    N_("grade"),
    N_("age_band"),
    N_("gender"),
    N_("district"),
    N_("customer_type"),
    N_("warranty"),
    N_("visits_per_year"),
    N_("spend_per_year"),
    N_("last_category"),
    N_("last_visit"),
)
DIMENSION_VALUES = (
    N_("in_warranty"),
    N_("out_of_warranty"),
    N_("<6m"),
    N_("6-12m"),
    N_("12-24m"),
    N_("24m+"),
)
# The archive (winback.customers.models): customer types, vehicle grades and statuses,
# repair-order categories, import kinds, duplicate kinds, note kinds.
CUSTOMER_TYPES = (N_("private"), N_("company"), N_("insurance"), N_("taxi"))
GRADES = (N_("luxury"), N_("mid"), N_("lower_mid"), N_("economy"))
VEHICLE_STATUSES = (N_("active"), N_("sold"), N_("scrapped"), N_("moved"), N_("deceased"))
VISIT_CATEGORIES = (N_("maintenance"), N_("repair"), N_("accident"))
IMPORT_KINDS = (N_("customers"), N_("vehicles"), N_("visits"))
DUPLICATE_KINDS = (N_("same_phone"), N_("similar_name_phone"), N_("similar_name_address"))
NOTE_KINDS = (N_("preference"), N_("reason_left"), N_("best_time"))
# The archive cleanup's findings (winback.customers.cleanup).
CLEANUP_FINDINGS = (
    N_("phones_checked"),
    N_("vehicles_checked"),
    N_("phones_changed"),
    N_("vins_changed"),
    N_("bad_phones"),
    N_("bad_vins"),
    N_("vin_check_digit_failed"),
    N_("bad_plates"),
    N_("merges_proposed"),
    N_("merges_pending"),
    N_("vehicles_excluded"),
)
# The web framework's own error details, shown through the API's and the pages' catalog.
FRAMEWORK = (N_("Not Found"), N_("Method Not Allowed"))

# Audit events (winback.audit: the ``action`` codes) as what happened, for the timelines; the
# code itself stays behind the page's 详情 toggle for auditors and IT.
EVENTS = {
    "analytics.redline_crossed": N_("A customer crossed the churn red line"),
    "api_token.created": N_("An API token was created"),
    "api_token.revoked": N_("An API token was revoked"),
    "archive.cleaned": N_("The archive was cleaned up"),
    "audit.exported": N_("The audit trail was exported"),
    "callback.recorded": N_("The satisfaction callback was recorded"),
    "call_script.saved": N_("A call script was saved"),
    "care.call_recorded": N_("A care call was recorded"),
    "care.planned": N_("The care calendar was planned"),
    "care.schedule_deleted": N_("A maintenance schedule was deleted"),
    "care.schedule_saved": N_("A maintenance schedule was saved"),
    "customer.do_not_call": N_("The customer asked not to be called"),
    "customer.merged": N_("Duplicate customers were merged"),
    "customer.note_added": N_("A note was added to the customer"),
    "customer.phone_changed": N_("The phone number was replaced (the old one is kept)"),
    "customer.second_contact": N_("The second contact was changed"),
    "customer.phone_reported_wrong": N_("The phone number was reported wrong"),
    "customer.updated_by_import": N_("The customer was updated by an import"),
    "vehicle.updated_by_import": N_("The vehicle was updated by an import"),
    "cycle.evaluated": N_("The cycle was evaluated"),
    "cycle.stage_changed": N_("The cycle moved to its next stage"),
    "cycle.started": N_("The cycle was started"),
    "import.completed": N_("An import finished"),
    "import.failed": N_("An import failed"),
    "import.mapping_saved": N_("An import's column mapping was saved"),
    "measure.added": N_("A measure was added to the plan"),
    "measure.escalated": N_("An overdue measure was escalated to the manager"),
    "measure.removed": N_("A measure was removed from the plan"),
    "measure.status_changed": N_("A measure's owner reported on it"),
    "measure.updated": N_("A measure was edited"),
    "measure_template.added": N_("A typical measure was added to the library"),
    "measure_template.updated": N_("A typical measure of the library was edited"),
    "measures.reordered": N_("The plan's measures were reordered"),
    "merge.rejected": N_("A proposed merge was rejected"),
    "plan.amended": N_("An amendment of the approved plan was drafted"),
    "plan.approved": N_("The plan was approved"),
    "plan.drafted": N_("The plan was drafted from the tally"),
    "plan.rejected": N_("The plan was rejected"),
    "plan.submitted": N_("The plan was submitted for approval"),
    "staff.activated": N_("The account was activated"),
    "staff.deactivated": N_("The account was deactivated"),
    "staff.created": N_("A staff account was created"),
    "staff.handed_over": N_("An advisor's work was handed over"),
    "staff.language_changed": N_("The page language was changed"),
    "staff.logged_out": N_("Logged out"),
    "staff.password_changed": N_("The password was changed"),
    "staff.roles_changed": N_("The roles were changed"),
    "staff.store_added": N_("A store was added to the account"),
    "store.created": N_("A store was created"),
    "store.setting_changed": N_("A store setting was changed"),
    "surveys.assigned": N_("The surveys were assigned to the advisors"),
    "surveys.escalated": N_("Overdue surveys were escalated"),
    "task.closed": N_("The survey was closed"),
    "task.draft_saved": N_("The survey's answers were saved as a draft"),
    "task.complaint_answered": N_("A complaint was answered"),
    "task.complaint_recorded": N_("A complaint was recorded"),
    "task.contact_attempt": N_("A contact attempt was recorded"),
    "task.excluded": N_("The task was excluded"),
    "task.reassigned": N_("The task was reassigned"),
    "vehicle.status_changed": N_("The vehicle's status was changed"),
    "visit.recorded": N_("A workshop visit was recorded"),
    "voucher.offered": N_("A voucher was offered"),
    "voucher.issued": N_("A voucher was issued"),
    "appointment.booked": N_("An appointment was booked"),
    "appointment.moved": N_("An appointment was moved"),
    "appointment.cancelled": N_("An appointment was cancelled"),
    "complaint.case_opened": N_("A complaint case was opened"),
    "complaint.owner_set": N_("A complaint case was given an owner"),
    "complaint.resolved": N_("A complaint case was resolved"),
    "voucher.redeemed": N_("A voucher was redeemed"),
}
