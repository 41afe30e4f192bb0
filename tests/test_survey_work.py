"""The advisor's day and the supervisor's levers: dispositions, drafts, complaints, exclusion,
hand-over, the concurrent close, and e-mail notifications at a loopback SMTP server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import db.session
from winback import clock
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import cleanup
from winback.customers import service as customers
from winback.customers.models import Customer
from winback.errors import Conflict, InvalidInput
from winback.notifications import service as notifications
from winback.notifications.models import Notification
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, Disposition, SurveyStatus, SurveyTask


def _open_tasks(session, cycle_id, advisor):
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


def _attempt(session, task, who, outcome, **kw):
    return surveys.record_attempt(
        session=session,
        task_id=task.id,
        method=ContactMethod.phone,
        outcome=outcome,
        note=kw.pop("note", None),
        actor_staff=who,
        **kw,
    )


def test_dispositions_and_what_they_do(session, surveying_cycle, staff):
    advisor = staff("advisor1")
    first, second, third, fourth = _open_tasks(session, surveying_cycle, advisor)[:4]

    # Call back at ...: needs a future time, then the task sleeps at the bottom of the list.
    with pytest.raises(InvalidInput) as err:
        _attempt(session, first, advisor, Disposition.call_back)
    assert err.value.field == "call_back_at"
    with pytest.raises(InvalidInput):
        _attempt(session, first, advisor, "call_back", call_back_at=clock.now() - timedelta(hours=1))
    later = clock.now() + timedelta(days=1)
    _attempt(session, first, advisor, "call_back", call_back_at=later)
    session.commit()
    assert session.get(SurveyTask, first.id).follow_up_at == later
    mine = surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    assert mine[-1].id == first.id and mine[0].id != first.id
    clock.set_now(later + timedelta(minutes=1))  # the call-back is due: back on top
    assert (
        surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items[0].id == first.id
    )

    # Wrong number: the archive's phone is flagged, and the cleanup keeps it flagged.
    _attempt(session, second, advisor, "wrong_number", note="空号")
    session.commit()
    customer = session.get(Customer, second.customer_id)
    assert customer.phone_valid is False and customer.phone_reported_wrong_at is not None
    cleanup.cleanup_archive(session=session, store_id=customer.store_id, actor=Actor.system(label="t"))
    session.commit()
    session.expire_all()
    assert session.get(Customer, second.customer_id).phone_valid is False
    assert (
        session.scalar(select(func.count()).where(AuditEvent.action == "customer.phone_reported_wrong")) == 1
    )

    # Do not call: the task leaves the list and the customer is flagged for every later cycle.
    _attempt(session, third, advisor, "do_not_call")
    session.commit()
    task = session.get(SurveyTask, third.id)
    assert task.status == SurveyStatus.excluded and task.excluded_reason == "do_not_call"
    assert session.get(Customer, third.customer_id).do_not_call is True
    assert third.id not in [
        t.id for t in surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    ]

    # N attempts that reach nobody, on M different days, close the task as unreachable (3 on 2
    # days by default), counted in the tally: three quick calls on one day are not enough.
    for outcome in ("no_answer", "busy", "left_message"):
        _attempt(session, fourth, advisor, outcome)
    assert session.get(SurveyTask, fourth.id).status == SurveyStatus.open
    clock.set_now(clock.now() + timedelta(days=1))
    _attempt(session, fourth, advisor, "no_answer")
    session.commit()
    task = session.get(SurveyTask, fourth.id)
    assert task.status == SurveyStatus.unreachable and len(task.attempts) == 4
    with pytest.raises(Conflict):
        _attempt(session, fourth, advisor, "no_answer")
    session.rollback()
    tally = surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=Actor.system(label="t"))
    assert tally["unreachable"] == 1


def test_do_not_call_is_respected_by_later_screening(session, demo_store, staff):
    from winback.accounts.models import Store
    from winback.cycles import screening
    from winback.cycles import service as cycles
    from winback.cycles.models import Target

    actor = Actor.person(staff("admin"))
    store = session.get(Store, demo_store)
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    targets = list(session.scalars(select(Target.customer_id).where(Target.cycle_id == cycle.id)))
    session.rollback()
    refuser = targets[0]
    customers.set_do_not_call(session=session, customer_id=refuser, actor=actor)
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    again = set(session.scalars(select(Target.customer_id).where(Target.cycle_id == cycle.id)))
    assert refuser not in again and set(targets) - {refuser} <= again


def test_draft_keeps_input_and_a_complaint_can_only_be_answered(session, surveying_cycle, staff):
    advisor = staff("advisor2")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    surveys.save_draft(
        session=session,
        task_id=task.id,
        reason_codes_=["other"],
        actor_staff=advisor,
        notes="下周再聊",
        complaint="上次维修没修好",
        serviced_elsewhere=True,
    )
    session.commit()
    session.expire_all()
    task = session.get(SurveyTask, task.id)
    assert task.status == SurveyStatus.open and task.draft_saved_at == clock.now()
    assert [r.reason_code.code for r in task.reasons] == ["other"] and task.notes == "下周再聊"
    managers = list(session.scalars(select(Notification).where(Notification.kind == "complaint_raised")))
    assert [n.recipient_id for n in managers] == [staff("manager").id] and "上次维修没修好" in managers[
        0
    ].body

    # Closing says everything that is missing at once; nothing changes.
    with pytest.raises(InvalidInput) as err:
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=task.id,
            method=ContactMethod.phone,
            reason_codes_=["other"],
            serviced_elsewhere=True,
            actor_staff=advisor,
        )
    assert err.value.field == "reason_other" and "where the car was serviced" in err.value.message
    session.rollback()
    # The complaint cannot be edited away.
    with pytest.raises(InvalidInput) as err:
        surveys.save_draft(
            session=session,
            task_id=task.id,
            reason_codes_=["other"],
            actor_staff=advisor,
            complaint="其实没什么",
        )
    assert err.value.field == "complaint"
    session.rollback()
    surveys.close_task(
        contact_outcome="reached",
        session=session,
        task_id=task.id,
        method=ContactMethod.phone,
        reason_codes_=["other", "low_skill"],
        reason_other="朋友开了修理厂",
        serviced_elsewhere=True,
        elsewhere_kind="independent",
        would_return=True,
        appointment_on=clock.today() + timedelta(days=3),
        voucher_offered=True,
        actor_staff=advisor,
    )
    session.commit()
    task = session.get(SurveyTask, task.id)
    assert task.status == SurveyStatus.done and task.complaint == "上次维修没修好"
    assert task.elsewhere_kind.value == "independent" and task.would_return is True

    with pytest.raises(Exception):
        surveys.answer_complaint(session=session, task_id=task.id, answer="好", actor_staff=advisor)
    surveys.answer_complaint(
        session=session, task_id=task.id, answer="经理已致电道歉并安排免费复检", actor_staff=staff("manager")
    )
    session.commit()
    assert session.get(SurveyTask, task.id).complaint_answer.startswith("经理")
    assert surveys.open_complaints(session=session, store_id=task.store_id) == []


def test_exclude_bulk_reassign_and_hand_over(session, surveying_cycle, staff):
    sup = staff("supervisor")
    a1, a2, a3 = staff("advisor1"), staff("advisor2"), staff("advisor3")
    t1, t2, t3 = _open_tasks(session, surveying_cycle, a1)[:3]
    with pytest.raises(InvalidInput):
        surveys.exclude_task(session=session, task_id=t1.id, reason="  ", actor_staff=sup)
    surveys.exclude_task(session=session, task_id=t1.id, reason="客户已移民", actor_staff=sup)
    assert (
        surveys.reassign_many(session=session, task_ids=[t2.id, t3.id], to_staff_id=a2.id, actor_staff=sup)
        == 2
    )
    session.commit()
    assert session.get(SurveyTask, t1.id).status == SurveyStatus.excluded
    assert {session.get(SurveyTask, t.id).assignee_id for t in (t2, t3)} == {a2.id}
    board = {b["advisor_id"]: b for b in surveys.progress(session=session, cycle_id=surveying_cycle)}
    assert board[a1.id]["excluded"] == 1

    # advisor3 leaves: open tasks and own customers go to the others, nothing is orphaned.
    mine = _open_tasks(session, surveying_cycle, a3)
    own = list(session.scalars(select(Customer.id).order_by(Customer.id).limit(4)))
    for cid in own:
        session.get(Customer, cid).advisor_id = a3.id
    session.commit()
    result = surveys.hand_over_advisor(session=session, advisor_id=a3.id, actor_staff=sup)
    session.commit()
    assert result == {"tasks": len(mine), "customers": 4, "deactivated": False}
    assert _open_tasks(session, surveying_cycle, a3) == []
    # the supervisor hands the work over; only an admin deactivates (the staff rules)
    assert session.get(type(a3), a3.id).active is True
    heirs = set(session.scalars(select(Customer.advisor_id).where(Customer.id.in_(own))))
    assert heirs and heirs <= {a1.id, a2.id}
    moved = session.scalar(select(func.count()).where(AuditEvent.action == "task.reassigned"))
    assert moved == 2 + len(mine)


def test_two_concurrent_closes_one_wins(surveying_cycle, staff, session):
    """Two requests closing the same task at the same moment (a double submit, or the advisor
    and the supervisor): one wins, the other gets Conflict; nothing is overwritten."""
    task_id = _open_tasks(session, surveying_cycle, staff("advisor1"))[0].id
    version = session.get(SurveyTask, task_id).version
    session.close()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def close(who: str, reason: str) -> None:
        s = db.session.new_session()
        try:
            person = staff(who, s)
            surveys.get_task(session=s, task_id=task_id)
            barrier.wait(timeout=10)
            surveys.close_task(
                contact_outcome="reached",
                session=s,
                task_id=task_id,
                method=ContactMethod.phone,
                reason_codes_=[reason],
                serviced_elsewhere=False,
                expected_version=version,
                actor_staff=person,
            )
            s.commit()
            outcomes[who] = reason
        except Conflict:
            s.rollback()
            outcomes[who] = "conflict"
        except Exception as exc:  # e.g. SQLite refusing the second writer
            s.rollback()
            outcomes[who] = f"error: {type(exc).__name__}: {exc}"
        finally:
            s.close()

    threads = [
        threading.Thread(target=close, args=("advisor1", "poor_attitude")),
        threading.Thread(target=close, args=("supervisor", "too_far")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values(), key=lambda v: v == "conflict")[-1] == "conflict", outcomes
    winner = next(v for v in outcomes.values() if v != "conflict")
    check = db.session.new_session()
    try:
        task = check.get(SurveyTask, task_id)
        assert [r.reason_code.code for r in task.reasons] == [winner]
        assert task.version == version + 1
        assert (
            check.scalar(
                select(func.count()).where(
                    AuditEvent.action == "task.closed", AuditEvent.entity_id == task_id
                )
            )
            == 1
        )
    finally:
        check.close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, received
    finally:
        controller.stop()


def test_escalation_mail_reaches_the_supervisor_by_smtp(
    session, surveying_cycle, staff, smtp_server, webhook
):
    from email.header import decode_header, make_header

    controller, received = smtp_server
    port = controller.port
    sup = staff("supervisor")
    sup.apprise_url = (
        f"mailto://127.0.0.1:{port}?mode=insecure&from=winback@example.com&to=supervisor@example.com"
    )
    # One advisor's receiver is down for the first tries.
    advisor = staff("advisor1")
    advisor.apprise_url = webhook.url
    webhook.down()
    session.commit()
    task = session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle)).first()
    clock.set_now(task.due_at + timedelta(hours=1))
    surveys.escalate_overdue(session=session, store_id=sup.store_id, actor=Actor.system(label="t"))
    session.commit()
    counts = notifications.deliver_pending(session=session)
    session.commit()
    assert counts["sent"] >= 1 and counts["retry"] >= 1
    assert len(received) == 1
    mail = received[0]
    assert "逾期回访任务上报" in str(make_header(decode_header(mail["Subject"])))
    assert mail["To"] == "supervisor@example.com"
    body = (
        mail.get_payload(decode=True)
        if not mail.is_multipart()
        else mail.get_payload(0).get_payload(decode=True)
    )
    assert "个回访任务已逾期" in body.decode("utf-8")
    note = session.scalars(
        select(Notification).where(
            Notification.recipient_id == advisor.id, Notification.kind == "tasks_overdue"
        )
    ).one()
    assert note.status.value == "pending" and note.attempts == 1 and note.last_error
    # The receiver is back; after the back-off the message goes through and is recorded as sent.
    webhook.up()
    clock.set_now(clock.now() + timedelta(minutes=2))
    notifications.deliver_pending(session=session)
    session.commit()
    session.refresh(note)
    assert note.status.value == "sent" and note.attempts == 2
    assert any("逾期" in str(m) for m in webhook.delivered)


def test_the_api_list_is_summaries_in_working_order(session, surveying_cycle, staff):
    """GET /api/tasks/mine: one summary line per task, in the same order as the service's
    list, agreeing with the whole task (GET /api/tasks/{id}) on every field it shows."""
    from fastapi.testclient import TestClient

    from app import create_app

    advisor = staff("advisor1")
    first = _open_tasks(session, surveying_cycle, advisor)[0]
    _attempt(session, first, advisor, "no_answer")
    _attempt(session, first, advisor, "no_answer")
    session.commit()
    client = TestClient(create_app(), headers={"Origin": "http://testserver"})
    assert (
        client.post("/api/auth/login", json={"username": "advisor1", "password": "winback-demo"}).status_code
        == 200
    )

    lines = client.get("/api/tasks/mine").json()
    assert [t["id"] for t in lines] == [
        t.id for t in surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    ]
    assert "attempts" in lines[0] and "reasons" not in lines[0]  # a summary, not the whole task
    for line in lines[:5] + [t for t in lines if t["id"] == first.id]:
        whole = client.get(f"/api/tasks/{line['id']}").json()
        for field in (
            "cycle_id",
            "status",
            "band",
            "assignee_id",
            "customer_id",
            "customer",
            "phone",
            "vehicle",
            "version",
            "follow_up_at",
            "draft_saved_at",
            "closed_at",
        ):
            assert line[field] == whole[field], field
        assert line["attempts"] == len(whole["attempts"])
        assert "*" not in line["phone"]  # the advisor's own customers: the number in full
    assert next(t for t in lines if t["id"] == first.id)["attempts"] == 2

    # paging and the band filter work on the summaries as on the tasks
    page2 = client.get("/api/tasks/mine", params={"offset": 2, "limit": 2}).json()
    assert [t["id"] for t in page2] == [t["id"] for t in lines[2:4]]
    lost = client.get("/api/tasks/mine", params={"band": "lost"}).json()
    assert lost and all(t["band"] == "lost" for t in lost)
