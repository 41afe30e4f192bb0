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
