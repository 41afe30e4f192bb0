"""The retention report of the care calendar: the 首保 → 二保 → 三保 → out-of-warranty return
funnel by model and by month of purchase, reminder response by kind and channel, the measured
lift against the care holdout (with its 95 % interval), the insurance-renewal rate, and the
outcomes of the care calls. Grouped queries, one pass each; an XLSX of the same figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from io import BytesIO
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.care.models import (
    CALL_KINDS,
    CareItem,
    CareKind,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.customers.models import ServiceVisit, Vehicle
from winback.evaluation.stats import newcombe_diff

STAGES = ("cars", "first", "second", "third", "out_of_warranty")


def _pct(n: int, d: int) -> float | None:
    return round(100 * n / d, 1) if d else None


def funnel_rows(*, session: Session, store_id: int, as_of: date) -> list[dict[str, Any]]:
    """Per vehicle of the store: model, purchase month, maintenance visits, whether its warranty
    has ended and whether it came back after it (one grouped pass)."""
    rules = effective_settings(session.get(Store, store_id))
    is_service = case((ServiceVisit.category.in_(list(rules.care_maintenance_categories)), 1), else_=0)
    after_warranty = case(
        (Vehicle.warranty_end.is_not(None) & (ServiceVisit.visit_date > Vehicle.warranty_end), 1), else_=0
    )
    stmt = (
        select(
            Vehicle.id,
            Vehicle.model,
            Vehicle.purchase_date,
            Vehicle.warranty_end,
            func.coalesce(func.sum(is_service), 0),
            func.coalesce(func.max(after_warranty), 0),
        )
        .outerjoin(ServiceVisit, (ServiceVisit.vehicle_id == Vehicle.id) & (ServiceVisit.visit_date <= as_of))
        .where(Vehicle.store_id == store_id)
        .group_by(Vehicle.id, Vehicle.model, Vehicle.purchase_date, Vehicle.warranty_end)
    )
    return [
        {
            "vehicle_id": vid,
            "model": model,
            "month": purchase.strftime("%Y-%m") if purchase else "-",
            "services": int(services),
            "warranty_ended": bool(warranty_end and warranty_end < as_of),
            "after_warranty": bool(after),
        }
        for vid, model, purchase, warranty_end, services, after in session.execute(stmt)
    ]


def funnel(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Counts and rates per ``by`` (model / month): cars, 首保, 二保, 三保 (each of the previous
    stage), and among cars whose warranty has ended, those that came back after it."""
    groups: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for key in (r[by], "*"):
            g = groups[key]
            g["cars"] += 1
            g["first"] += r["services"] >= 1
            g["second"] += r["services"] >= 2
            g["third"] += r["services"] >= 3
            g["warranty_ended"] += r["warranty_ended"]
            g["out_of_warranty"] += r["warranty_ended"] and r["after_warranty"]
    out = []
    for key in sorted(k for k in groups if k != "*") + ["*"]:
        g = groups[key]
        out.append(
            {
                "key": key,
                **{s: g[s] for s in STAGES},
                "warranty_ended": g["warranty_ended"],
                "first_pct": _pct(g["first"], g["cars"]),
                "second_pct": _pct(g["second"], g["first"]),
                "third_pct": _pct(g["third"], g["second"]),
                "out_of_warranty_pct": _pct(g["out_of_warranty"], g["warranty_ended"]),
            }
        )
    return out


def report(*, session: Session, store_id: int, as_of: date | None = None) -> dict[str, Any]:
    as_of = as_of or clock.today()
    rows = funnel_rows(session=session, store_id=store_id, as_of=as_of)
    ins = session.execute(
        select(CareItem.status, func.count())
        .where(CareItem.store_id == store_id, CareItem.kind == CareKind.insurance, CareItem.due_on < as_of)
        .group_by(CareItem.status)
    ).all()
    ins_total = sum(n for _s, n in ins)
    ins_renewed = sum(n for s, n in ins if s == CareStatus.fulfilled)
    outcomes = {
        o.value: n
        for o, n in session.execute(
            select(CareTouch.outcome, func.count())
            .where(
                CareTouch.store_id == store_id,
                CareTouch.channel == TouchChannel.call,
                CareTouch.outcome.is_not(None),
            )
            .group_by(CareTouch.outcome)
        )
    }
    return {
        "as_of": as_of,
        "by_model": funnel(rows, "model"),
        "by_month": funnel(rows, "month"),
        "responses": responses(session=session, store_id=store_id),
        "lift": lift(session=session, store_id=store_id, as_of=as_of),
        "insurance": {"due": ins_total, "renewed": ins_renewed, "pct": _pct(ins_renewed, ins_total)},
        "outcomes": outcomes,
    }


def responses(*, session: Session, store_id: int) -> list[dict[str, Any]]:
    """Per kind and channel of each item's last touch that went out: items touched, fulfilled."""
    last_sent = (
        select(CareTouch.item_id, func.max(CareTouch.id).label("touch_id"))
        .where(CareTouch.store_id == store_id, CareTouch.status == TouchStatus.sent)
        .group_by(CareTouch.item_id)
        .subquery()
    )
    response: dict[tuple[str, str], Counter] = defaultdict(Counter)
    stmt = (
        select(CareItem.kind, CareTouch.channel, CareItem.status, func.count())
        .join(last_sent, last_sent.c.item_id == CareItem.id)
        .join(CareTouch, CareTouch.id == last_sent.c.touch_id)
        .where(CareItem.store_id == store_id)
        .group_by(CareItem.kind, CareTouch.channel, CareItem.status)
    )
    for kind, channel, status, n in session.execute(stmt):
        c = response[(kind.value, channel.value)]
        c["touched"] += n
        c["fulfilled"] += n if status == CareStatus.fulfilled else 0
    return [
        {
            "kind": k,
            "channel": ch,
            "touched": c["touched"],
            "fulfilled": c["fulfilled"],
            "pct": _pct(c["fulfilled"], c["touched"]),
        }
        for (k, ch), c in sorted(response.items())
    ]


def lift(*, session: Session, store_id: int, as_of: date) -> dict[str, Any]:
    """Items whose due date has passed (or that are closed), reminded against the holdout: the
    difference of the fulfilled shares with its 95 % interval (Newcombe)."""
    matured = session.execute(
        select(CareItem.holdout, CareItem.status, func.count())
        .where(
            CareItem.store_id == store_id,
            CareItem.kind.not_in(CALL_KINDS),
            (CareItem.due_on < as_of) | (CareItem.status != CareStatus.open),
        )
        .group_by(CareItem.holdout, CareItem.status)
    ).all()
    groups = {True: Counter(), False: Counter()}
    for held, status, n in matured:
        groups[bool(held)]["n"] += n
        groups[bool(held)]["fulfilled"] += n if status == CareStatus.fulfilled else 0
    t, h = groups[False], groups[True]
    diff = newcombe_diff(t["fulfilled"], t["n"], h["fulfilled"], h["n"])
    return {
        "reminded": t["n"],
        "reminded_fulfilled": t["fulfilled"],
        "reminded_pct": _pct(t["fulfilled"], t["n"]),
        "holdout": h["n"],
        "holdout_fulfilled": h["fulfilled"],
        "holdout_pct": _pct(h["fulfilled"], h["n"]),
        "lift_pts": round(100 * diff[0], 1) if diff else None,
        "low_pts": round(100 * diff[1], 1) if diff else None,
        "high_pts": round(100 * diff[2], 1) if diff else None,
        # visits the reminders caused: the lift applied to the reminded items
        "caused": round(diff[0] * t["n"]) if diff else None,
    }


def workbook(rep: dict[str, Any], translate=lambda s: s, label=lambda code: code) -> bytes:
    """The report as XLSX, headers in the reader's language (``translate``), kinds and channels
    named by ``label`` (their code to the reader's word)."""
    from openpyxl import Workbook

    _ = translate
    wb = Workbook()
    wb.remove(wb.active)
    stages = _stage_header(_)
    _sheet(wb, _("Funnel by model"), [_("Model"), *stages], _funnel_table(rep["by_model"], _))
    _sheet(
        wb, _("Funnel by purchase month"), [_("Purchase month"), *stages], _funnel_table(rep["by_month"], _)
    )
    _sheet(
        wb,
        _("Response"),
        [_("Kind"), _("Channel"), _("Reminded"), _("Came in"), "%"],
        [
            [label(r["kind"]), label(r["channel"]), r["touched"], r["fulfilled"], r["pct"]]
            for r in rep["responses"]
        ],
    )
    figures = rep["lift"]
    _sheet(
        wb,
        _("Lift"),
        [_("Figure"), _("Value")],
        [
            [_("Reminded items"), figures["reminded"]],
            [_("Came in (reminded)"), figures["reminded_fulfilled"]],
            [_("Holdout items"), figures["holdout"]],
            [_("Came in (holdout)"), figures["holdout_fulfilled"]],
            [_("Lift (points)"), figures["lift_pts"]],
            [_("95% interval, low"), figures["low_pts"]],
            [_("95% interval, high"), figures["high_pts"]],
            [_("Visits the reminders caused"), figures["caused"]],
            [_("Insurance due"), rep["insurance"]["due"]],
            [_("Insurance renewed"), rep["insurance"]["renewed"]],
        ],
    )
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet(wb, title: str, header: list[str], rows: list[list[Any]]) -> None:
    from openpyxl.styles import Font

    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)


def _stage_header(_) -> list[str]:
    return [
        _("Cars"),
        _("First service"),
        "%",
        _("Second service"),
        "%",
        _("Third service"),
        "%",
        _("Warranty ended"),
        _("Back after the warranty"),
        "%",
    ]


def _funnel_table(items: list[dict[str, Any]], _) -> list[list[Any]]:
    return [
        [
            _("All") if r["key"] == "*" else r["key"],
            r["cars"],
            r["first"],
            r["first_pct"],
            r["second"],
            r["second_pct"],
            r["third"],
            r["third_pct"],
            r["warranty_ended"],
            r["out_of_warranty"],
            r["out_of_warranty_pct"],
        ]
        for r in items
    ]
