"""Issue 18's cases, through the pages and the API on each database: an appointment booked from
the task (never in the past), the front desk's day list, the repair order that closes its loop;
a complaint as a case with its owner, resolution and the re-call within a week (due date, and
the reminder delivered to a real receiver); a voucher issued by the survey and redeemed at the
desk (expired or redeemed twice refused), its value in the evaluation's cost figure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from tasks.cases import daily_cases
from tests.pages import login
from winback import clock
from winback.actor import Actor
from winback.care.models import CareItem, CareKind, CareStatus, CareTouch, TouchChannel
from winback.cases import service as cases
from winback.cases.models import Appointment, AppointmentStatus, CaseStatus, ComplaintCase
from winback.customers import service as customers
from winback.notifications import service as notifications
from winback.plans.incentives import redeemed_voucher_cost
from winback.plans.models import Voucher
from winback.surveys.models import SurveyStatus, SurveyTask

ZH = {"Accept-Language": "zh-CN"}  # the API answers in English unless asked


def _open_tasks(session, cycle_id, advisor) -> list[SurveyTask]:
    return list(
        session.scalars(
            select(SurveyTask)
            .where(
                SurveyTask.cycle_id == cycle_id,
                SurveyTask.assignee_id == advisor.id,
                SurveyTask.status == SurveyStatus.open,
            )
            .order_by(SurveyTask.id)
        )
    )


def _close(session, task, advisor, **answers) -> None:
    cases.close_survey(
        session=session,
        task_id=task.id,
        contact_outcome="reached",
        reason_codes_=["high_price"],
        actor_staff=advisor,
        **answers,
    )
    session.commit()


def test_appointment_not_in_the_past_on_the_day_list_closed_by_the_repair_order(
    client, session, surveying_cycle, staff
):
    advisor, receiver = staff("advisor1"), staff("advisor2")
    first, second = _open_tasks(session, surveying_cycle, advisor)[:2]
    today = clock.today()
    day = today + timedelta(days=2)
    login(client, "advisor1")

    # In the past: refused in the reader's language, by the API and by the page (form kept).
    r = client.post(
        f"/api/tasks/{first.id}/appointment",
        json={"day": (today - timedelta(days=1)).isoformat(), "slot": "08:30-10:00"},
        headers=ZH,
    )
    assert r.status_code == 422 and "过去" in r.json()["detail"], r.text
    clock.set_now(clock.now().replace(hour=2, minute=30))  # 10:30 business time: the first slot is over
    r = client.post(f"/tasks/{first.id}/appointment", data={"day": today.isoformat(), "slot": "08:30-10:00"})
    assert r.status_code == 422 and "过去" in r.text and 'id="appt-day"' in r.text
    assert session.scalar(select(Appointment)) is None

    # Booked on the task page: the slot, the type, who receives the car; the survey's day follows.
    r = client.post(
        f"/tasks/{first.id}/appointment",
        data={
            "day": day.isoformat(),
            "slot": "10:00-11:30",
            "service_type": "repair",
            "advisor_id": receiver.id,
        },
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/tasks/{first.id}").text
    assert "10:00-11:30" in page and "维修" in page and "已预约" in page
    session.expire_all()
    assert session.get(SurveyTask, first.id).appointment_on == day

    # The second customer's appointment comes from the survey's answer (no second entry).
    _close(session, second, advisor, appointment_on=day)
    made = session.scalar(select(Appointment).where(Appointment.task_id == second.id))
    assert made.day == day and made.advisor_id == advisor.id and made.slot == "08:30-10:00"
    # The survey of the first one closed with another day: its booking moves, slot and type kept.
    _close(session, first, advisor, appointment_on=day + timedelta(days=1))
    moved = session.scalar(select(Appointment).where(Appointment.task_id == first.id))
    assert (moved.day, moved.slot, moved.advisor_id) == (day + timedelta(days=1), "10:00-11:30", receiver.id)
    r = client.post(
        f"/api/tasks/{first.id}/appointment",
        json={
            "day": day.isoformat(),
            "slot": "10:00-11:30",
            "service_type": "repair",
            "advisor_id": receiver.id,
        },
    )
    session.expire_all()
    assert r.status_code == 201 and session.get(SurveyTask, first.id).appointment_on == day  # moved back

    # The front desk's list of the day, page and API, by slot.
    login(client, "supervisor")
    page = client.get(f"/appointments?day={day.isoformat()}")
    assert page.status_code == 200
    assert first.target.customer.name in page.text and second.target.customer.name in page.text
    listed = client.get(f"/api/appointments?day={day.isoformat()}").json()
    assert [(a["task_id"], a["slot"], a["service_type"], a["advisor_id"]) for a in listed] == [
        (second.id, "08:30-10:00", "maintenance", advisor.id),
        (first.id, "10:00-11:30", "repair", receiver.id),
    ]
    assert client.get(f"/api/appointments?day={today.isoformat()}").json() == []

    # The repair order of the first car arrives on the day; the day passes: 已到店 / 未到店.
    visit = customers.add_visit(
        session=session,
        store_id=first.store_id,
        vehicle_id=first.target.vehicle_id,
        ro_number="RO-APPT-1",
        visit_date=day,
        category="维修",
        amount=Decimal("800"),
        actor=Actor.system(label="t"),
    )
    session.commit()
    clock.set_now(clock.now() + timedelta(days=3))
    assert daily_cases.fn(first.store_id) == {
        "appointments_arrived": 1,
        "appointments_no_show": 1,
        "recalls_reminded": 0,
    }
    assert daily_cases.fn(first.store_id)["appointments_arrived"] == 0  # a second pass changes nothing
    session.expire_all()
    got = {a.task_id: (a.status, a.visit_id) for a in session.scalars(select(Appointment))}
    assert got == {
        first.id: (AppointmentStatus.arrived, visit.id),
        second.id: (AppointmentStatus.no_show, None),
    }
    login(client, "supervisor")  # three days later: a new log-in
    listed = client.get(f"/api/appointments?day={day.isoformat()}").json()
    assert [a["status"] for a in listed] == ["no_show", "arrived"]
    page = client.get(f"/appointments?day={day.isoformat()}").text
    assert "已到店" in page and "未到店" in page


def test_complaint_case_owner_resolution_and_the_recall_within_a_week(
    client, session, surveying_cycle, staff, webhook
):
    advisor = staff("advisor2")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    advisor.apprise_url = webhook.url
    _close(session, task, advisor, complaint="上次保养后异响没修好")
    case = session.scalar(select(ComplaintCase).where(ComplaintCase.task_id == task.id))
    assert case.status == CaseStatus.open and case.complaint == "上次保养后异响没修好"

    login(client, "manager")
    page = client.get("/complaints")
    assert page.status_code == 200 and "上次保养后异响没修好" in page.text and "处理中" in page.text
    assert [c["id"] for c in client.get("/api/complaints?status=open").json()] == [case.id]
    # The manager names the owner on the case page; an empty resolution is refused there.
    r = client.post(f"/complaints/{case.id}/owner", data={"owner_id": staff("supervisor").id})
    assert r.status_code == 303
    r = client.post(f"/complaints/{case.id}/resolve", data={"resolution": "  "})
    assert r.status_code == 422 and "写明" in r.text

    # The owner resolves it through the API: who, when; the re-call is due within a week.
    login(client, "supervisor")
    r = client.post(f"/api/complaints/{case.id}/resolve", json={"resolution": "免费复检并更换减震器"})
    assert r.status_code == 200, r.text
    body = r.json()
    due = clock.today() + timedelta(days=7)
    assert body["status"] == "resolved" and body["resolved_by_id"] == staff("supervisor").id
    assert body["owner_id"] == staff("supervisor").id and body["recall_due_on"] == due.isoformat()
    assert client.post(f"/api/complaints/{case.id}/resolve", json={"resolution": "again"}).status_code == 409

    # The re-call is the care calendar's complaint_recall item: a call in the advisor's queue.
    session.expire_all()
    item = session.scalar(select(CareItem).where(CareItem.kind == CareKind.complaint_recall))
    touch = session.scalar(select(CareTouch).where(CareTouch.item_id == item.id))
    assert item.due_on == due and item.source_id == task.id and item.status == CareStatus.open
    assert touch.channel == TouchChannel.call and touch.advisor_id == advisor.id
    assert session.get(SurveyTask, task.id).complaint_answer == "免费复检并更换减震器"
    page = client.get(f"/complaints/{case.id}").text
    assert "免费复检并更换减震器" in page and "已解决" in page and "待回访" in page

    # The advisor is told at once, and reminded once when the re-call comes due.
    assert notifications.deliver_pending(session=session)["sent"] >= 1
    session.commit()
    assert any("投诉" in m["title"] for m in webhook.delivered)
    webhook.clear()
    clock.set_now(clock.now() + timedelta(days=3))
    assert daily_cases.fn(task.store_id)["recalls_reminded"] == 0  # 4 days left: not yet
    clock.set_now(clock.now() + timedelta(days=3))
    assert daily_cases.fn(task.store_id)["recalls_reminded"] == 1
    assert daily_cases.fn(task.store_id)["recalls_reminded"] == 0  # once
    assert notifications.deliver_pending(session=session)["sent"] == 1
    session.commit()
    [message] = webhook.delivered
    assert task.target.customer.name in message["message"] and "回访" in message["title"]

    # The advisor makes the call from the care queue (logged in again, days later): it is made.
    login(client, "advisor2")
    r = client.post(f"/care/calls/{touch.id}", data={"outcome": "done", "note": "客户满意"})
    assert r.status_code == 303
    login(client, "manager")
    assert client.get(f"/api/complaints/{case.id}").json()["recall_status"] == "fulfilled"


def test_voucher_issued_by_the_survey_redeemed_at_the_desk_and_counted(
    client, session, surveying_cycle, staff
):
    advisor = staff("advisor3")
    first, second = _open_tasks(session, surveying_cycle, advisor)[:2]
    login(client, "advisor3")
    # The survey says a voucher was offered: it is issued with a code and an expiry, once.
    r = client.post(
        f"/api/tasks/{first.id}/close",
        json={"reasons": ["high_price"], "voucher_offered": True, "contact_outcome": "reached"},
    )
    assert r.status_code == 200, r.text
    _close(session, second, advisor, voucher_offered=True)
    v1, v2 = (session.scalar(select(Voucher).where(Voucher.task_id == t.id)) for t in (first, second))
    assert v1.code and v1.code != v2.code and v1.expires_on == clock.today() + timedelta(days=90)
    assert (
        v1.amount == Decimal("500.00")
        and session.scalar(select(Voucher.id).where(Voucher.code.is_(None))) is None
    )

    # The desk looks it up and redeems it with the repair order (page).
    page = client.get(f"/vouchers?code={v1.code.lower()}")
    assert page.status_code == 200 and v1.code in page.text and "可使用" in page.text
    r = client.post("/vouchers/redeem", data={"code": v1.code, "ro_number": ""})
    assert r.status_code == 422 and "维修工单" in r.text
    r = client.post("/vouchers/redeem", data={"code": v1.code, "ro_number": "RO-V-1"})
    assert r.status_code == 303, r.text[r.text.find('role="alert"') :][:300]
    page = client.get(f"/vouchers?code={v1.code}").text
    assert "已核销" in page and "RO-V-1" in page
    # Redeemed twice: refused with what happened, page and API.
    r = client.post("/vouchers/redeem", data={"code": v1.code, "ro_number": "RO-V-2"})
    assert r.status_code == 409 and "已核销" in r.text
    r = client.post(f"/api/vouchers/{v1.code}/redeem", json={"ro_number": "RO-V-2"})
    assert r.status_code == 409 and r.json()["code"] == "redeemed" and "RO-V-1" in r.json()["detail"]
    assert client.get("/vouchers?code=WBNOPE").status_code == 404

    # Expired: refused (API), and the expired one costs nothing.
    clock.set_now(clock.now() + timedelta(days=91))
    login(client, "advisor3")
    assert client.get(f"/api/vouchers/{v2.code}").json()["status"] == "expired"
    r = client.post(f"/api/vouchers/{v2.code}/redeem", json={"ro_number": "RO-V-3"}, headers=ZH)
    assert r.status_code == 409 and r.json()["code"] == "expired" and "过期" in r.json()["detail"]

    # The redeemed value is the evaluation's voucher cost.
    assert redeemed_voucher_cost(session=session, cycle_id=surveying_cycle) == Decimal("500")


def test_existing_complaints_become_cases_on_upgrade(db_url, session, surveying_cycle, staff):
    """0042 turns the complaints kept on survey tasks before cases existed into cases: an
    answered one resolved by its answerer, an open one waiting for an owner."""
    from alembic import command
    from sqlalchemy import text

    import db.migrate
    import db.session

    manager = staff("manager")
    answered, waiting = _open_tasks(session, surveying_cycle, staff("advisor1"))[:2]
    answered.complaint, answered.complaint_answer = "等了两个小时", "已道歉并赠送保养"
    answered.complaint_answered_at, answered.complaint_answered_by_id = clock.now(), manager.id
    waiting.complaint = "配件价格太高"
    session.commit()
    session.close()
    cfg = db.migrate.alembic_config(db_url)
    command.downgrade(cfg, "0041")
    command.upgrade(cfg, "head")
    with db.session.get_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT task_id, complaint, status, owner_id, resolution, resolved_by_id FROM complaint_cases"
            )
        ).all()
    assert sorted(rows) == sorted(
        [
            (answered.id, "等了两个小时", "resolved", manager.id, "已道歉并赠送保养", manager.id),
            (waiting.id, "配件价格太高", "open", None, None, None),
        ]
    )


def test_an_uploaded_repair_order_closes_its_appointment_at_once(client, session, surveying_cycle, staff):
    """Not only the daily pass: the repair order imported through the API marks the car arrived."""
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    day = clock.today() + timedelta(days=1)
    _close(session, task, advisor, appointment_on=day)
    appt = session.scalar(select(Appointment).where(Appointment.task_id == task.id))
    assert appt.status == AppointmentStatus.booked
    clock.set_now(clock.now() + timedelta(days=1))  # the car comes in on the day
    vin = task.target.vehicle.vin
    login(client, "admin")
    r = client.post(
        "/api/imports",
        data={"kind": "visits"},
        files={
            "file": (
                "ro.csv",
                f"工单号,车架号,进厂日期,维修类别,结算金额\nRO-ARRIVED-1,{vin},{day:%Y/%m/%d},保养,680\n".encode(),
                "text/csv",
            )
        },
    )
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    session.expire_all()
    appt = session.get(Appointment, appt.id)
    assert appt.status == AppointmentStatus.arrived and appt.visit_id is not None


def test_an_appointment_called_off_is_cancelled_with_its_reason(client, session, surveying_cycle, staff):
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    day = clock.today() + timedelta(days=2)
    _close(session, task, advisor, appointment_on=day)
    login(client, "advisor1")
    page = client.post(f"/tasks/{task.id}/appointment/cancel", data={"reason": " "})
    assert page.status_code == 422 and "说明取消预约的原因" in page.text  # the form again, in Chinese
    r = client.post(f"/tasks/{task.id}/appointment/cancel", data={"reason": "客户出差，下月再约"})
    assert r.status_code == 303
    session.expire_all()
    appt = session.scalar(select(Appointment).where(Appointment.task_id == task.id))
    assert (appt.status, appt.note) == (AppointmentStatus.cancelled, "客户出差，下月再约")
    again = client.post(f"/api/tasks/{task.id}/appointment/cancel", json={"reason": "again"})
    assert again.status_code == 409
    # The car comes in on the day anyway: a cancelled visit is neither arrived nor a no-show.
    customers.add_visit(
        session=session,
        store_id=task.store_id,
        vehicle_id=task.target.vehicle_id,
        ro_number="RO-CANCELLED-1",
        visit_date=day,
        category="保养",
        amount=Decimal("500"),
        actor=Actor.system(label="t"),
    )
    session.commit()
    clock.set_now(clock.now() + timedelta(days=4))
    daily_cases.fn(task.store_id)
    session.expire_all()
    assert session.get(Appointment, appt.id).status == AppointmentStatus.cancelled
    login(client, "supervisor")
    assert "已取消" in client.get(f"/appointments?day={day.isoformat()}").text
    # Booking again reopens it.
    r = client.post(
        f"/api/tasks/{task.id}/appointment",
        json={"day": (clock.today() + timedelta(days=1)).isoformat(), "slot": "08:30-10:00"},
    )
    assert r.status_code == 201 and r.json()["status"] == "booked"
