"""The demo tells a story the process must find: the 劲客 Kicks loses far more customers than
the other models, the 远郊新区 district is far away, and advisor 赵磊 has left (his customers go
to the advisors still there). Each part is asserted on what the product computes from the demo
data, not on the demo's own parameters."""

from __future__ import annotations

from sqlalchemy import func, select

from winback.cycles.models import MonthlyCycle, Target
from winback.cycles.profiles import profile_analysis
from winback.surveys.models import SurveyTask


def _dimension(report, name):
    return {row["value"]: row for row in report["dimensions"][name]}


def test_profile_analysis_finds_the_kicks_and_the_far_district(session, surveying_cycle):
    report = profile_analysis(session=session, cycle_id=surveying_cycle)
    models = _dimension(report, "model")
    kicks = models["劲客 Kicks"]
    others = [r for m, r in models.items() if m != "劲客 Kicks"]
    # The Kicks stands out: over-represented among the targets (index > 1.5) and the highest index.
    assert kicks["index"] > 1.5
    assert all(kicks["index"] > r["index"] for r in others if r["index"] is not None)
    districts = _dimension(report, "district")
    far = districts["远郊新区"]
    assert far["index"] > 1.3
    assert all(
        far["index"] > r["index"] for d, r in districts.items() if d != "远郊新区" and r["index"] is not None
    )
    # The cycle's own profile (shown on the cycle page) is the same analysis.
    cycle = session.get(MonthlyCycle, surveying_cycle)
    assert cycle.profile["dimensions"]["model"] == report["dimensions"]["model"]


def test_departed_advisor_gets_no_task_and_his_customers_are_handed_over(session, surveying_cycle, staff):
    zhaolei = staff("zhaolei")
    assert not zhaolei.active
    targets = list(session.scalars(select(Target).where(Target.cycle_id == surveying_cycle)))
    his = [t for t in targets if (t.profile or {}).get("last_advisor_id") == zhaolei.id and not t.holdout]
    assert len(his) >= 5, "the demo must give the departed advisor a visible share of the targets"
    assert session.scalar(select(func.count()).where(SurveyTask.assignee_id == zhaolei.id)) == 0
    tasks = {
        t.target_id: t
        for t in session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle))
    }
    assert all(t.id in tasks for t in his)
    heirs = {tasks[t.id].assignee_id for t in his}
    assert heirs and all(staff_id != zhaolei.id for staff_id in heirs)
    active = {staff(u).id for u in ("advisor1", "advisor2", "advisor3")}
    assert heirs <= active


def test_the_churn_alarm_flags_the_kicks_and_the_likely_lost_are_listed(session, demo_store):
    """The demo's MBG/NBD fit is degenerate (regular maintenance visits drive the visit-rate
    shape to infinity): the overdue rule takes over and still finds the Kicks drifting away,
    while the alarm flags the Kicks' wave crossing the red line in the demo month."""
    from winback import clock
    from winback.accounts.models import Store
    from winback.accounts.service import effective_settings
    from winback.analytics import alarm
    from winback.analytics import service as analytics

    alarms = alarm.churn_alarm(session=session, store_id=demo_store)
    flagged = {(a["segment"], a["value"]) for a in alarms if a["flagged"]}
    assert ("model", "劲客 Kicks") in flagged
    rules = effective_settings(session.get(Store, demo_store))
    scores = analytics.score_store(session=session, store_id=demo_store, as_of=clock.today(), rules=rules)
    assert scores.rule == "overdue" and scores.problems
    outlook = analytics.store_outlook(session=session, store_id=demo_store)
    assert outlook["rule"] == "overdue" and outlook["likely_lost"] >= 3
    listed = list(outlook["top"])
    assert listed and all(t["overdue"] >= rules.likely_lost_overdue_factor for t in listed)
    assert sum(t["model"] == "劲客 Kicks" for t in listed) > len(listed) / 2
