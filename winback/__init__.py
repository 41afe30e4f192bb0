"""winback: the domain of the dealership win-back process (no Prefect, no FastAPI here).

Layout: the domain is one-way. Each area (a package, or a module directly under ``winback/``)
sits on a layer and imports only from layers below it, at module level (no import inside a
function to dodge a circle). ``tests/test_layers.py`` parses every module and fails on an
import that points up or sideways. Bottom to top:

    config  clock  i18n  labels  errors  actor         settings, the clock, the words (one gettext catalog), errors
    paging  months  spreadsheet                       lists, calendar arithmetic, safe workbook cells
    audit                                             the audit trail every write records
    accounts                                          stores, staff, roles, log-in
    democlock                                         moving business time for a demo (every process)
    notifications                                     queued messages to staff
    customers                                         the archive: customers, vehicles, repair orders, imports
    analytics                                         model scores, churn alarm, red-line crossings
    cycles                                            the monthly cycle, screening, holdout, profile analysis
    surveys                                           survey tasks, attempts, reasons, tally
    plans                                             rectification plans, measures, vouchers, seeding, complaints
    evaluation                                        the evaluation three months later
    care                                              prevention: the care calendar beside the cycle
    cases                                             what a survey call leads to: appointment, complaint case, voucher
    stores                                            creating a store with its seeds
    roster                                            a store's staff list from a spreadsheet
    demo  backup  cli  models                         entry points and the all-models import

Where something belongs to two areas it lives in the upper one: the count of survey targets a
repair-order import shows came back is ``cycles/returns.py``; a store's seeds (reasons and
measures) are ``plans/seeding.py``; complaints with the measures answering them are
``plans/complaints.py``.
"""

# Bottom to top; an area may import only from areas earlier in this tuple.
LAYERS: tuple[str, ...] = (
    "config",
    "clock",
    "collector",
    "i18n",
    "labels",
    "errors",
    "actor",
    "paging",
    "months",
    "spreadsheet",
    "audit",
    "accounts",
    "democlock",
    "notifications",
    "customers",
    "analytics",
    "cycles",
    "surveys",
    "plans",
    "evaluation",
    "care",
    "cases",
    "stores",
    "roster",
    "demo",
    "backup",
    "cli",
    "models",
)
