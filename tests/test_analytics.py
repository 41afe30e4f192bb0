"""Churn analytics: the BG/NBD-family fit against published figures, the red-line bands at their
exact boundaries, the red-line digest and the abnormal-churn alarm."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from winback import clock, stores
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.analytics import alarm, bgnbd, redline
from winback.analytics import service as analytics
from winback.customers.models import Customer, CustomerType, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles import screening
from winback.cycles import service as cycles
from winback.cycles.models import Band, Target
from winback.notifications.models import Notification

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"


def _cdnow():
    rows = list(csv.DictReader(CDNOW.open()))
    return tuple(np.array([float(r[k]) for r in rows]) for k in ("frequency", "recency", "T"))


# ---- the model --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["bg", "mbg"])
def test_the_fit_s_gradient_is_the_likelihood_s_slope(variant):
    """The closed-form gradient the optimiser is given against the likelihood's slope measured
    by central differences, on CDNOW and at parameters far from it (one near a bound, where
    betaln of large arguments leaves a smaller step no digits to difference)."""
    x, t_x, T = _cdnow()
    weights = np.ones(len(x))

    def total(theta):
        return float(np.sum(bgnbd.log_likelihood(bgnbd.Params(*np.exp(theta)), x, t_x, T, variant, weights)))

    for params in ([0.243, 4.414, 0.793, 2.426], [2.0, 0.3, 0.05, 30.0], [0.24, 1.45, 233.6, 8103.0]):
        theta, step = np.log(params), 1e-4
        slope = [(total(theta + e) - total(theta - e)) / (2 * step) for e in np.eye(4) * step]
        gradient = bgnbd._gradient(bgnbd.Params(*params), x, t_x, T, variant, weights)
        assert gradient == pytest.approx(slope, rel=1e-5, abs=1e-3)


def test_bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow():
    """FHL 2005, section 5 (CDNOW, 2,357 customers, 39 weeks): r = 0.243, alpha = 4.414,
    a = 0.793, b = 2.426, LL = -9582.4; customer with x = 2, t_x = 30.43, T = 38.86 expects
    1.226 purchases in the next 39 weeks."""
    x, t_x, T = _cdnow()
    assert len(x) == 2357
    fit = bgnbd.fit(x, t_x, T, "bg")
    p = fit.params
    assert (round(p.r, 3), round(p.alpha, 3), round(p.a, 3), round(p.b, 3)) == (0.243, 4.414, 0.793, 2.426)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert bgnbd.expected_visits(p, 39, [2], [30.43], [38.86], "bg")[0] == pytest.approx(1.226, abs=5e-4)
    # BG/NBD's blind spot: one purchase long ago is "certainly alive".
    assert bgnbd.p_alive(p, [0], [0.0], [38.86], "bg")[0] == 1.0


def test_mbgnbd_on_cdnow_and_the_one_visit_customer():
    """MBG/NBD (Batislam et al. 2007) on the same data: r = 0.525, alpha = 6.183, a = 0.891,
    b = 1.614 (the estimates the lifetimes package documents for this dataset); unlike BG/NBD a
    single purchase long ago is not certainly alive, and the longer ago, the less alive."""
    x, t_x, T = _cdnow()
    fit = bgnbd.fit(x, t_x, T, "mbg")
    p = fit.params
    assert (round(p.r, 2), round(p.alpha, 2), round(p.a, 2), round(p.b, 2)) == (0.52, 6.18, 0.89, 1.61)
    once = bgnbd.p_alive(p, [0, 0, 0], [0.0, 0.0, 0.0], [4.0, 20.0, 38.86], "mbg")
    assert 1 > once[0] > once[1] > once[2]
    # a regular customer seen last week is more alive than one whose visits stopped long ago
    assert bgnbd.p_alive(p, [6], [38.0], [38.86], "mbg")[0] > bgnbd.p_alive(p, [6], [10.0], [38.86], "mbg")[0]


def test_mbgnbd_recovers_simulated_parameters():
    truth = bgnbd.Params(r=0.8, alpha=10.0, a=0.7, b=2.0)
    x, t_x, T = bgnbd.simulate(truth, 4000, 104.0, "mbg", seed=7)
    p = bgnbd.fit(x, t_x, T, "mbg").params
    # the mean visit rate r/alpha and the mean dropout a/(a+b) are what the scores rest on
    assert p.r / p.alpha == pytest.approx(truth.r / truth.alpha, rel=0.1)
    assert p.a / (p.a + p.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.15)


def test_a_sound_fit_passes_the_checks_and_a_degenerate_one_does_not():
    """CDNOW's fit is sound. Visits as regular as a maintenance schedule (every 13 weeks, no
    spread between customers) drive the visit-rate shape r to the bound: the fit is set aside.
    So is any fit on a sample where too few customers came back."""
    x, t_x, T = _cdnow()
    assert bgnbd.diagnose(bgnbd.fit(x, t_x, T, "mbg"), x, min_repeaters=50) == []
    n = 300
    T_reg = np.full(n, 104.0)
    x_reg = np.floor(T_reg / 13.0) - 1
    t_reg = x_reg * 13.0
    regular = bgnbd.fit(x_reg, t_reg, T_reg, "mbg")
    problems = bgnbd.diagnose(regular, x_reg, min_repeaters=50)
    assert {"at_bounds", "implausible"} & set(problems)
    once = np.zeros(n)
    once[:20] = 1
    few = bgnbd.fit(once, np.where(once > 0, 10.0, 0.0), np.full(n, 52.0), "mbg")
    assert "few_repeaters" in bgnbd.diagnose(few, once, min_repeaters=50)
    assert bgnbd.diagnose(None, [], min_repeaters=50) == ["too_few"]


def test_the_overdue_rule_scores_a_store_whose_fit_is_degenerate(session):
    """A store whose cars all come like clockwork gets no model scores but the rule: the car
    away for three of its usual intervals is likely lost, the one within its rhythm is not."""
    clock.set_now("2026-11-02T09:00")
    store = accounts.create_store(session=session, code="S06", name="Rule", actor=Actor.system())
    session.flush()
    today = clock.today()
    for n in range(60):
        # every 90 days for four years, up to 30 days ago (car 0: up to 270 days ago)
        last = today - timedelta(days=270 if n == 0 else 30)
        _car(session, store, n, [last - timedelta(days=90 * k) for k in range(16)][::-1])
    # one more: every 40 days, last seen 130 days ago (over 3 usual intervals, not at risk yet)
    drifting = _car(session, store, 99, [today - timedelta(days=130 + 40 * k) for k in range(12)][::-1])
    session.flush()
    rules = accounts.effective_settings(store)
    scores = analytics.score_store(session=session, store_id=store.id, as_of=today, rules=rules)
    assert scores.rule == "overdue" and scores.problems
    assert analytics.likely_lost(scores=scores, as_of=today, rules=rules) == [drifting.id]


def _car(session, store, n, dates):
    now = clock.now()
    c = Customer(store_id=store.id, dms_code=f"R{n}", name=f"客户{n}", created_at=now)
    session.add(c)
    session.flush()
    v = Vehicle(store_id=store.id, customer_id=c.id, vin=f"LSVRU{n:012d}", model="Sagitar", created_at=now)
    session.add(v)
    session.flush()
    for i, d in enumerate(dates):
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"R{n}-{i}",
                vehicle_id=v.id,
                customer_id=c.id,
                visit_date=d,
                category="保养",
                amount=Decimal("400"),
                created_at=now,
            )
        )
    return v


def test_bad_histories_are_refused():
    with pytest.raises(ValueError, match="t_x <= T"):
        bgnbd.fit([1] * 10, [5.0] * 10, [4.0] * 10)
    with pytest.raises(ValueError, match="too few"):
        bgnbd.fit([1], [1.0], [2.0])


# ---- a tiny store on the database -------------------------------------------------------


def _store(session, code="T01"):
    actor = Actor.system()
    store = stores.create_store(session=session, code=code, name="Test", actor=actor)
    admin = accounts.create_staff(
        session=session,
        store_id=store.id,
        username=f"admin-{code}",
        display_name="Admin",
        password="x" * 12,
        roles=[Role.admin],
        actor=actor,
    )
    session.flush()
    return store, admin


_SEQ = iter(range(1, 10**9))


def _vehicle(
    session,
    store,
    visits: list[date],
    *,
    model="Sagitar",
    district="Haidian",
    status=VehicleStatus.active,
    warranty_end=None,
    customer=None,
    amount="800",
):
    n = next(_SEQ)
    now = clock.now()
    if customer is None:
        customer = Customer(
            store_id=store.id,
            dms_code=f"C{n}",
            name=f"客户{n}",
            customer_type=CustomerType.private,
            district=district,
            created_at=now,
        )
        session.add(customer)
        session.flush()
    v = Vehicle(
        store_id=store.id,
        customer_id=customer.id,
        vin=f"LSVAB{n:012d}",
        model=model,
        status=status,
        warranty_end=warranty_end,
        plate=f"京A{n:05d}",
        created_at=now,
    )
    session.add(v)
    session.flush()
    for i, d in enumerate(visits):
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"RO{n}-{i}",
                vehicle_id=v.id,
                customer_id=customer.id,
                visit_date=d,
                category="maintenance",
                amount=Decimal(amount),
                created_at=now,
            )
        )
    session.flush()
    return v


@pytest.mark.parametrize(
    "as_of",
    [
        date(2024, 3, 1),  # six months back is 2023-09-01: 182 days (leap February)
        date(2025, 3, 1),  # ... 181 days in a common year
        date(2024, 2, 29),  # leap day: twelve months back is 2023-02-28 (365 days)
        date(2025, 2, 28),  # twelve months back is 2024-02-28: 366 days (across the leap day)
    ],
    ids=["182d-leap", "181d", "leap-day", "366d"],
)
def test_bands_at_the_exact_boundaries(session, staff, as_of):
    """At risk: no visit for at_risk_months (the day the six months are up counts); lost:
    *more than* lost_months. The red lines are calendar months (the store's setting), so the
    boundaries are dates, and the day counts differ with February and leap years."""
    clock.set_now(f"{as_of.isoformat()}T09:00")
    store, admin = _store(session)
    six = as_of - relativedelta(months=6)
    twelve = as_of - relativedelta(months=12)
    cases = {
        "today": (as_of, None),
        "day before the at-risk line": (six + timedelta(days=1), None),
        "on the at-risk line": (six, Band.at_risk),
        "on the lost line": (twelve, Band.at_risk),
        "a day past the lost line": (twelve - timedelta(days=1), Band.lost),
    }
    vehicles = {
        name: _vehicle(session, store, [d - timedelta(days=400), d]) for name, (d, _) in cases.items()
    }
    sold = _vehicle(session, store, [twelve - timedelta(days=30)], status=VehicleStatus.sold)
    moved = _vehicle(session, store, [six], status=VehicleStatus.moved)
    assert (as_of - six).days in (181, 182, 183, 184) and (as_of - twelve).days in (365, 366)

    actor = Actor.person(admin)
    cycle, _ = cycles.start_cycle(session=session, store=store, month=as_of.strftime("%Y-%m"), actor=actor)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    bands = {t.vehicle_id: t.band for t in session.scalars(select(Target).where(Target.cycle_id == cycle.id))}
    for name, (_, band) in cases.items():
        assert bands.get(vehicles[name].id) == band, name
    assert sold.id not in bands and moved.id not in bands


def test_customer_in_another_open_cycle_is_not_screened_again(session):
    clock.set_now("2026-11-02T09:00")
    store, admin = _store(session)
    actor = Actor.person(admin)
    first = _vehicle(session, store, [date(2025, 1, 5)])
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-10", actor=actor)
    cycle.as_of = date(2026, 10, 1)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    # the same customer's second car lapses later: the customer is still being surveyed
    second = _vehicle(session, store, [date(2026, 4, 10)], customer=first.customer)
    other = _vehicle(session, store, [date(2026, 4, 10)])
    nov, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    screening.screen_targets(session=session, cycle_id=nov.id, actor=actor)
    screened = {t.vehicle_id for t in session.scalars(select(Target).where(Target.cycle_id == nov.id))}
    assert other.id in screened
    assert second.id not in screened and first.id not in screened


def test_likely_lost_group_and_value_times_risk(session):
    """Regular customers who stop before the red line are caught by the model, opt-in."""
    clock.set_now("2026-11-02T09:00")
    store, admin = _store(session)
    actor = Actor.person(admin)
    rng = np.random.default_rng(3)
    start = date(2022, 1, 10)
    for i in range(60):  # regulars, every ~3 months, still coming
        _vehicle(
            session, store, [start + timedelta(days=int(d)) for d in np.cumsum(rng.integers(80, 100, 19))]
        )
    for i in range(30):  # taxis and company cars every ~3 weeks, still coming
        _vehicle(
            session,
            store,
            [date(2024, 10, 1) + timedelta(days=int(d)) for d in np.cumsum(rng.integers(18, 24, 32))],
        )
    for i in range(40):  # came every ~3 months, then stopped one to three years ago
        _vehicle(
            session,
            store,
            [start + timedelta(days=int(d)) for d in np.cumsum(rng.integers(80, 100, 4 + i % 5))],
        )
    # every ~3 weeks for two years, silent for 5 months: not past the 6-month line yet
    gone = _vehicle(
        session, store, [date(2024, 7, 9) + timedelta(days=21 * k) for k in range(34)], amount="2000"
    )
    assert (date(2026, 11, 2) - max(date(2024, 7, 9) + timedelta(days=21 * k) for k in range(34))).days < 182
    accounts.set_store_setting(
        session=session, store=store, key="screen_likely_lost", value=True, actor=actor
    )
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    result = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    targets = {t.vehicle_id: t for t in session.scalars(select(Target).where(Target.cycle_id == cycle.id))}
    assert targets[gone.id].band == Band.likely_lost
    assert result["likely_lost"] >= 1
    assert targets[gone.id].p_alive < 0.3
    assert targets[gone.id].priority > 0
    ranked, _ = cycles.targets_of(session=session, cycle_id=cycle.id)
    assert ranked[0].priority == max(t.priority for t in targets.values())


# ---- the red line raises itself ---------------------------------------------------------


def test_redline_digest_one_message_per_day_for_who_crossed_since_yesterday(session):
    clock.set_now("2026-11-02T09:00")
    store, admin = _store(session)
    crossing_risk = _vehicle(session, store, [date(2026, 5, 2)])  # six months up today
    crossing_lost = _vehicle(session, store, [date(2025, 11, 1)])  # more than twelve months as of today
    _vehicle(session, store, [date(2026, 5, 1)])  # crossed yesterday: yesterday's news
    _vehicle(session, store, [date(2026, 5, 3)])  # crosses tomorrow
    _vehicle(session, store, [date(2026, 5, 2)], status=VehicleStatus.scrapped)
    actor = Actor.system()
    got = redline.queue_redline_digest(session=session, store_id=store.id, actor=actor)
    assert (got["at_risk"], got["lost"], got["queued"]) == (1, 1, 1)
    notes = list(session.scalars(select(Notification).where(Notification.kind == "redline_digest")))
    assert len(notes) == 1 and notes[0].recipient_id == admin.id
    assert crossing_risk.customer.name in notes[0].body and crossing_lost.customer.name in notes[0].body
    # the watcher running again the same day sends nothing more
    assert redline.queue_redline_digest(session=session, store_id=store.id, actor=actor)["queued"] == 0
    # two days later (a day missed): the window starts at the last digest, nothing falls through
    clock.set_now("2026-11-04T09:00")
    late = _vehicle(session, store, [date(2026, 5, 4)])
    got = redline.queue_redline_digest(session=session, store_id=store.id, actor=actor)
    assert (got["at_risk"], got["lost"], got["queued"]) == (2, 0, 1)  # 2026-05-03 and 2026-05-04
    body = (
        session.scalars(
            select(Notification).where(Notification.kind == "redline_digest").order_by(Notification.id.desc())
        )
        .first()
        .body
    )
    assert late.customer.name in body


# ---- abnormal-churn alarm ---------------------------------------------------------------


def test_churn_alarm_fires_on_a_spike_and_not_on_noise(session):
    """Each vehicle here has one visit and never returns, so it crosses the six-month red
    line in the month six months after its visit. The Bora's crossings jump from ~3 a month
    to 15; the Lavida's wander around 6 as usual."""
    as_of = date(2026, 10, 31)  # a whole month elapsed
    clock.set_now(f"{as_of.isoformat()}T09:00")
    store, admin = _store(session)
    first_month = date(2025, 10, 1)
    series = {
        "Lavida": [5, 7, 6, 4, 8, 6, 5, 7, 6, 6, 5, 7, 8],
        "Bora": [3, 4, 2, 3, 5, 3, 4, 3, 2, 4, 3, 4, 15],
    }
    for model, counts in series.items():
        for j, n in enumerate(counts):
            visit = first_month + relativedelta(months=j - 6) + timedelta(days=9)
            for _ in range(n):
                _vehicle(session, store, [visit], model=model, district=f"{model}-district")
    # a vehicle that came back in time is no churn
    _vehicle(session, store, [date(2026, 4, 10), date(2026, 9, 1)], model="Bora")

    rows = {(r["segment"], r["value"]): r for r in alarm.churn_alarm(session=session, store_id=store.id)}
    bora, lavida = rows[("model", "Bora")], rows[("model", "Lavida")]
    assert bora["current"] == 15 and bora["history"] == series["Bora"][:12]
    assert bora["flagged"] and bora["p_value"] < 0.001 and bora["ratio"] > 4
    assert lavida["current"] == 8 and not lavida["flagged"]
    assert rows[("district", "Bora-district")]["flagged"]
    # flagged segments come first, so the dashboard shows them on top
    assert alarm.churn_alarm(session=session, store_id=store.id)[0]["flagged"]
