"""All settings in one place.

Two kinds:

* ``Settings`` - how this installation runs (database, data directory, secret key, port),
  from environment variables prefixed ``WINBACK_`` (``WINBACK_DATABASE_URL`` and so on).
* ``ProcessDefaults`` - the business rules of PROCESS.md (red lines, the one-week survey
  deadline, the three-month evaluation, the 20% win-back target). These are the defaults;
  each store may override any of them in the database (``stores.settings``), see
  ``winback.accounts.service.effective_settings``. A cycle snapshots the values it used and
  reads them back as ``MonthlyCycle.rules``; both go through ``rules_over_defaults``.

To change the one-week deadline for every store, change ``survey_deadline_days`` below;
for one store, ``winback store set S01 survey_deadline_days 10``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# NIST SP 800-63B: memorized secrets of at least this many characters (spaces count, runs of
# spaces count once), not the username, not a common password (winback/accounts/passwords.py).
PASSWORD_MIN_LENGTH = 10


class ProcessDefaults(BaseModel):
    """Business rules with their defaults from PROCESS.md (overridable per store)."""

    # 流失红线: no workshop visit for at_risk_months..lost_months is "at risk" (流失风险客户),
    # more than lost_months is "lost" (流失客户).
    at_risk_months: int = Field(6, ge=1, le=60)
    lost_months: int = Field(12, ge=2, le=120)
    # Expected interval between visits (3 months = 4 visits a year; 4.5 in smaller markets).
    expected_visit_interval_months: float = Field(3.0, gt=0, le=24)
    # Advisors report back within one week (一周内反馈).
    survey_deadline_days: int = Field(7, ge=1, le=60)
    # Remind the advisor this many days before a survey task is due.
    survey_reminder_days_before: int = Field(2, ge=0, le=30)
    # After this many attempts that did not reach the customer (no answer, busy, message left,
    # wrong number) the task closes as unreachable (无法联系), which the tally counts ...
    unreachable_after_attempts: int = Field(3, ge=1, le=20)
    # ... made on at least this many different (business) days: three quick calls in one
    # minute are one try, not a customer who cannot be reached.
    unreachable_min_days: int = Field(2, ge=1, le=20)
    # A cycle is started for the current month or at most this many months ahead; a past month
    # only within the evaluation window (evaluation_delay_months back), to catch up a missed one.
    cycle_months_ahead: int = Field(1, ge=0, le=3)
    # Evaluation 总结及效果评估 three months after execution starts (quarterly).
    evaluation_delay_months: int = Field(3, ge=1, le=24)
    # Each advisor's win-back rate is held against this target (percent).
    winback_target_pct: float = Field(20.0, ge=0, le=100)
    # Quarterly shortfall tally: yuan per customer missing from the target (0 allowed).
    shortfall_yuan_per_customer: float = Field(20.0, ge=0)
    # Default due date of a drafted measure, in days after the plan is drafted.
    measure_due_days: int = Field(30, ge=1, le=365)
    # Churn predicted before the red line (MBG/NBD model): a vehicle not yet at risk whose
    # probability of still being active is below this is "likely lost" (预测流失).
    likely_lost_p_alive_below: float = Field(0.3, gt=0, lt=1)
    # The model is only trusted when at least this many vehicles came back at least once
    # (otherwise nothing tells how customers drop out) and its fit is sound (winback/analytics/
    # bgnbd.py ``diagnose``). When it is not, a rule staff can check takes over: a vehicle is
    # likely lost when it has been away this many times its own usual interval between visits
    # (vehicles seen once: expected_visit_interval_months).
    churn_model_min_repeaters: int = Field(50, ge=10)
    likely_lost_overdue_factor: float = Field(2.0, gt=1, le=10)
    # Screen the likely-lost vehicles into the cycle as their own target group (opt-in).
    screen_likely_lost: bool = False
    # Horizon of the expected-visits forecast, in months.
    forecast_months: int = Field(12, ge=1, le=36)
    # Abnormal-churn alarm: a segment's red-line crossings this month against its trailing
    # 12 months. Flag when the count is this improbable under the baseline (one-sided tail;
    # 0.001 keeps false alarms to about one a year over the ~50 segments a store has: 50 x 12
    # x 0.001 = 0.6), at least alarm_min_ratio times the baseline (a rise worth a survey, not
    # a statistical curiosity) and at least alarm_min_count crossings (small segments are noise).
    alarm_p_value: float = Field(0.001, gt=0, lt=0.5)
    alarm_min_ratio: float = Field(1.5, ge=1)
    alarm_min_count: int = Field(5, ge=1)
    # Remind a measure's owner this many days before its due date; overdue measures are
    # reminded daily and escalated to the manager once.
    measure_reminder_days_before: int = Field(3, ge=0, le=60)
    # Randomized holdout: this share of each cycle's targets (percent, 0 = none) is drawn at
    # random, stratified by band and segment, and not contacted, so the evaluation can tell
    # the campaign's effect from customers who would have come back anyway.
    holdout_pct: float = Field(10.0, ge=0, le=50)
    # Vehicle attribute the holdout is stratified by besides the band (profile key of a target).
    holdout_segment: str = Field("grade", pattern="^(grade|customer_type|model|district)$")
    # Default value of a win-back voucher (回厂工时券), yuan.
    voucher_default_yuan: float = Field(500.0, ge=0)
    # A voucher issued from a survey is valid this many days (its expiry printed with the code).
    voucher_valid_days: int = Field(90, ge=1, le=730)
    # Appointment time slots (预约时段) the front desk receives cars in, "HH:MM-HH:MM".
    appointment_slots: list[str] = ["08:30-10:00", "10:00-11:30", "13:30-15:00", "15:00-17:00"]
    # A repair order of the car this many days after the appointment's day still closes it as
    # arrived (已到店); the day passed without one, it is 未到店.
    appointment_arrival_days: int = Field(7, ge=0, le=60)
    # Remind the advisor of a complaint re-call this many days before it is due.
    complaint_recall_remind_days_before: int = Field(2, ge=0, le=30)

    # ---- The care calendar (prevention, winback/care): reminders before the red line. ----
    # Maintenance (whichever comes first, time or mileage): first service at this many km or
    # months after purchase, then every interval. A store's page overrides these per model/grade.
    care_first_service_km: int = Field(5000, ge=500, le=50000)
    care_first_service_months: int = Field(6, ge=1, le=36)
    care_service_interval_km: int = Field(10000, ge=1000, le=100000)
    care_service_interval_months: int = Field(12, ge=1, le=36)
    # Annual inspection of private small passenger cars (rule of 2022, a setting since rules
    # change): inspection-free sticker in years 2, 4 and 8, on-site inspection in years 6 and
    # 10, yearly after year 10, every six months after year 15 (years since registration).
    care_inspection_years: list[int] = [2, 4, 6, 8, 10]
    care_inspection_onsite_years: list[int] = [6, 10]
    care_inspection_yearly_after: int = Field(10, ge=1, le=30)
    care_inspection_half_yearly_after: int = Field(15, ge=1, le=40)
    # Warranty end: the last service before the warranty runs out, due this many days before it.
    care_warranty_lead_days: int = Field(30, ge=0, le=180)
    # The follow-up call (回访) N days after each repair order; the re-call after a resolved
    # complaint within this many days.
    care_follow_up_days: int = Field(3, ge=1, le=30)
    care_complaint_recall_days: int = Field(7, ge=1, le=30)
    # Touch sequence: a reminder this many days before the due date (each kind).
    care_touch_days: list[int] = [30, 14, 3]
    # Items are made when their due date enters this window (days ahead).
    care_lookahead_days: int = Field(45, ge=1, le=365)
    # An open item this many days past its due date without the visit counts as missed.
    care_missed_after_days: int = Field(60, ge=1, le=365)
    # Randomized care holdout (percent of the active cars each month): no touch at all.
    care_holdout_pct: float = Field(5.0, ge=0, le=50)
    # A car worth a call (not a message): yearly spend at least this (yuan), or the churn
    # model's P(alive) below this (the customer is drifting away).
    care_call_min_spend_per_year: float = Field(6000.0, ge=0)
    care_call_p_alive_below: float = Field(0.5, ge=0, le=1)
    # The store's message channel: an Apprise URL with {phone} where the customer's number goes
    # (an SMS gateway, e.g. json://sms.example/send?to={phone}). Empty: an XLSX for bulk SMS.
    care_apprise_url: str = ""
    # Mileage readings: a jump faster than this (km per day since the last reading) is a typo;
    # cars with fewer than two readings use their model's median, else this.
    care_max_km_per_day: float = Field(400.0, gt=0)
    care_default_km_per_day: float = Field(40.0, gt=0)
    # Repair-order categories (维修类别) that fulfil a maintenance / an inspection item.
    care_maintenance_categories: list[str] = ["保养", "首保", "定保", "maintenance"]
    care_inspection_categories: list[str] = ["年检", "年审", "inspection"]

    @model_validator(mode="after")
    def _red_lines_in_order(self) -> ProcessDefaults:
        if self.at_risk_months >= self.lost_months:
            raise ValueError("at_risk_months must be below lost_months")
        return self


class Settings(BaseSettings):
    """How this installation runs; read from ``WINBACK_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WINBACK_", extra="ignore")

    data_dir: Path = Path(".winback")
    # SQLAlchemy URL. Default: a SQLite file in the data directory. For PostgreSQL:
    # WINBACK_DATABASE_URL=postgresql+psycopg://user:password@host:5432/winback
    database_url: str = ""
    # Signs the session cookie. Set it in production; the default is per data directory.
    secret_key: str = ""
    # Business time zone: months, due dates and "today" are reckoned here.
    timezone: str = "Asia/Shanghai"
    # Default UI language (zh = Simplified Chinese, en = English).
    default_locale: str = "zh"
    # Apprise URL that receives notifications for staff who have none of their own (optional).
    fallback_notify_url: str = ""
    # Log-in rate limit: after this many failed log-ins within login_window_minutes, for one
    # account or from one address, further attempts are refused until the window passes.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # ... and from one address (an office behind one NAT address holds many accounts), looser:
    # one person's typos lock only their own account, a guesser trying many accounts is stopped.
    login_max_failures_per_address: int = 50
    # A session ends after this many minutes without a request, and this many hours after the
    # log-in whatever happens; log-out and a password change end every session of the person.
    session_idle_minutes: int = Field(120, ge=1)
    session_max_hours: int = Field(12, ge=1)
    # The key of the audit trail's hash chain (HMAC-SHA256), kept outside the database. Empty:
    # a random key in the data directory's file ``audit_key`` (created at first use, mode 0600).
    audit_key: str = ""
    # Notification delivery: seconds to connect to a receiver, and again to wait for its answer,
    # per message, so a receiver that never answers delays the watcher little.
    notify_timeout_seconds: float = Field(3.0, gt=0, le=60)
    # Send the session cookie over HTTPS only (set to true behind HTTPS).
    https_only: bool = False
    # A flow run's lease: the process running it beats every third of this; a run on another
    # host that has not beaten for this long is taken as crashed (on this host a run whose
    # process is gone is crashed at once), so a restart is never refused because of it.
    flow_run_lease_seconds: int = Field(90, ge=10, le=3600)
    # Processes serving the web UI and the API (``winback serve --workers``). One process uses
    # one core for the app's own work; on a server with several cores and many staff at once,
    # one per core (each holds up to 30 database connections; see winback.cli.web_workers).
    web_workers: int = Field(1, ge=1, le=64)
    # Requests one web process works on at once; the others wait their turn, holding nothing
    # (edge/limit.py). Each holds a pooled database connection, so keep it below the pool's 10
    # (db/session.py). The process's Python runs on one core whatever the number: with 4
    # against 8, the soak of 32 staff on two processes served 0.237-0.286 of the bare
    # endpoint's rate against 0.203-0.247 (bench/README.md, "Soak"). A request holds its turn
    # until its response is sent (a long export too); an upload's import, run after the
    # response, does not.
    web_requests_per_process: int = Field(4, ge=1, le=64)
    process: ProcessDefaults = ProcessDefaults()

    def model_post_init(self, _ctx) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'winback.db').resolve()}"
        if not self.secret_key:
            self.secret_key = _secret_for(self.data_dir)


def _secret_for(data_dir: Path) -> str:
    """A random key kept in the data directory, so sessions survive restarts."""
    import secrets

    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def rules_over_defaults(overrides: dict[str, Any] | None) -> ProcessDefaults:
    """Business rules: ``overrides`` (a store's settings, a cycle's snapshot) over the defaults
    above. A snapshot taken before a setting existed lacks it: the default fills in."""
    return ProcessDefaults.model_validate({**get_settings().process.model_dump(), **(overrides or {})})
