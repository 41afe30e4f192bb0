"""Every notification reaches a person (issue 16): each person's channel, checked with Apprise and
tried with a test message at a real loopback receiver; the in-app inbox every message lands in;
the admin's delivery figures; who may see and change what."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.pages import login
from winback import clock
from winback.audit.models import AuditEvent
from winback.notifications import inbox
from winback.notifications import service as notifications
from winback.notifications.models import Notification, NotificationStatus

# A port nothing listens on (1: tcpmux, never served here): the receiver cannot be reached.
UNREACHABLE = "json://127.0.0.1:1/"


def _bell(html: str) -> str | None:
    """The unread count in the page header's bell ('' when none)."""
    match = re.search(r'<a id="bell"[^>]*>.*?</a>', html, re.S)
    assert match, "no bell in the page header"
    count = re.search(r'<span class="count">(\d+)</span>', match.group(0))
    return count.group(1) if count else ""


# ---- a person's channel and the test message ---------------------------------------------


def test_own_channel_set_on_the_account_page_and_the_test_message_arrives(client, session, staff, webhook):
    login(client, "advisor1")
    page = client.get("/account/password")
    assert page.status_code == 200 and "通知渠道" in page.text and "发送测试消息" not in page.text

    r = client.post("/account/channel", data={"apprise_url": f"  {webhook.url}  "})
    assert r.status_code == 303
    session.expire_all()
    assert staff("advisor1").apprise_url == webhook.url  # stored trimmed

    page = client.get("/account/password")
    assert webhook.url in page.text and "发送测试消息" in page.text  # its owner sees it whole
    r = client.post("/account/channel/test")
    assert r.status_code == 200
    assert re.search(r'id="test-result"[^>]*>\s*测试消息：\s*<span class="delivery sent">已送达', r.text)
    assert [m["title"] for m in webhook.messages] == ["测试消息"]
    assert staff("advisor1").display_name in webhook.messages[0]["message"]

    # Recorded like any other message (already read: it was only a test).
    session.expire_all()
    note = session.scalars(select(Notification).where(Notification.kind == "channel_test")).one()
    assert (note.status, note.channel, note.attempts) == (NotificationStatus.sent, "json", 1)
    assert note.read_at is not None

    # Audited, the address in Apprise's privacy form only.
    events = list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["staff.channel_changed", "staff.channel_tested"]))
        )
    )
    assert [e.action for e in events] == ["staff.channel_changed", "staff.channel_tested"]
    assert events[0].changes["apprise_url"]["before"] is None
    assert events[0].changes["apprise_url"]["after"].startswith("json://127.0.0.1")
    assert events[1].changes["delivered"] is True


def test_a_secret_in_the_address_is_masked_in_the_trail_and_the_lists(client, session, staff):
    secret_url = "mailto://winback:Sup3rSecretPw@example.com?to=li@example.com"
    login(client, "advisor1")
    assert client.post("/account/channel", data={"apprise_url": secret_url}).status_code == 303
    session.expire_all()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.channel_changed")).one()
    assert "Sup3rSecretPw" not in str(event.changes) and "mailto://" in event.changes["apprise_url"]["after"]

    login(client, "admin")
    staff_list = client.get("/admin/staff?q=advisor1")
    assert "Sup3rSecretPw" not in staff_list.text and "mailto://" in staff_list.text
    # The admin editing it sees it whole, on its own form.
    edit = client.get(f"/admin/staff/{staff('advisor1').id}/channel")
    assert edit.status_code == 200 and "Sup3rSecretPw" in edit.text
    # The auditor's trail does not show it.
    login(client, "auditor")
    trail = client.get(f"/audit/staff/{staff('advisor1').id}")
    assert trail.status_code == 200 and "Sup3rSecretPw" not in trail.text


def test_a_typo_is_refused_in_the_readers_language_and_the_input_kept(client, session, staff):
    login(client, "advisor1")
    r = client.post("/account/channel", data={"apprise_url": "mailtoo//li@example.com"})
    assert r.status_code == 422
    assert "无法识别的通知地址" in r.text and "mailto://user:password@example.com" in r.text
    assert 'value="mailtoo//li@example.com"' in r.text  # shown again, not lost
    r = client.post("/account/channel", data={"apprise_url": "jsno://127.0.0.1:9/"})
    assert r.status_code == 422 and "无法识别的通知地址：jsno://" in r.text
    session.expire_all()
    assert staff("advisor1").apprise_url is None

    # In English for a reader who chose English.
    assert client.patch("/api/me", json={"locale": "en"}).status_code == 200
    r = client.post("/account/channel", data={"apprise_url": "nope"})
    assert r.status_code == 422
    assert "not a notification address the sender understands" in r.text and "无法识别" not in r.text

    # The API answers the same, field named.
    r = client.put(f"/api/staff/{staff('advisor1').id}/channel", json={"url": "mailtoo//x"})
    assert r.status_code == 422 and r.json()["field"] == "apprise_url"


def test_a_failing_channel_shows_the_failure_in_words_and_is_recorded(client, session, staff, webhook):
    login(client, "admin")
    advisor = staff("advisor2")
    assert (
        client.post(f"/admin/staff/{advisor.id}/channel", data={"apprise_url": webhook.url}).status_code
        == 303
    )

    webhook.down()  # the receiver answers 500
    r = client.post(f"/admin/staff/{advisor.id}/channel/test")
    assert r.status_code == 200
    result = re.search(r'id="test-result".*?</p>', r.text, re.S).group(0)
    assert "发送失败" in result and "接收方拒收了消息" in result
    assert "<summary>详情</summary>" in result and "500" in result  # the sender's words, behind 详情
    assert len(webhook.requests) == 1

    # Nobody listening: told apart from a refusal.
    assert (
        client.post(f"/admin/staff/{advisor.id}/channel", data={"apprise_url": UNREACHABLE}).status_code
        == 303
    )
    r = client.post(f"/admin/staff/{advisor.id}/channel/test")
    assert "无法连接到接收方" in r.text

    session.expire_all()
    tests = list(
        session.scalars(
            select(Notification).where(Notification.kind == "channel_test").order_by(Notification.id)
        )
    )
    assert [(n.status, n.error_reason) for n in tests][:2] == [
        (NotificationStatus.failed, "refused"),
        (NotificationStatus.failed, "unreachable"),
    ]
    assert all(n.recipient_id == advisor.id and n.last_error for n in tests)

    # The API says the same, in English for a reader who chose English.
    zh = client.post(f"/api/staff/{advisor.id}/channel/test", headers={"Accept-Language": "zh-CN"})
    assert zh.json()["reason_text"] == "无法连接到接收方"
    assert client.patch("/api/me", json={"locale": "en"}).status_code == 200
    body = client.post(f"/api/staff/{advisor.id}/channel/test").json()
    assert (body["status"], body["reason"]) == ("failed", "unreachable")
    assert body["reason_text"] == "the receiver could not be reached" and body["detail"]


def test_the_api_sets_reads_and_tests_a_channel(client, session, staff, webhook):
    login(client, "supervisor")
    me = staff("supervisor")
    r = client.put(f"/api/staff/{me.id}/channel", json={"url": webhook.url})
    assert r.status_code == 200
    assert r.json() == {"staff_id": me.id, "kind": "json", "url": webhook.url, "masked": r.json()["masked"]}
    assert client.get(f"/api/staff/{me.id}/channel").json()["url"] == webhook.url
    r = client.post(f"/api/staff/{me.id}/channel/test")
    assert r.status_code == 200 and r.json()["status"] == "sent" and r.json()["reason"] is None
    assert len(webhook.delivered) == 1
    # Removing it: the inbox only from now on.
    r = client.put(f"/api/staff/{me.id}/channel", json={"url": ""})
    assert r.json()["url"] is None and r.json()["kind"] is None
    r = client.post(f"/api/staff/{me.id}/channel/test")
    assert r.status_code == 422 and r.json()["field"] == "apprise_url"


# ---- who may see and change what ---------------------------------------------------------


def test_only_an_admin_changes_another_persons_channel(client, session, staff, webhook):
    other = staff("advisor2")
    for who in ("advisor1", "supervisor", "manager", "auditor"):
        login(client, who)
        assert client.put(f"/api/staff/{other.id}/channel", json={"url": webhook.url}).status_code == 403
        assert client.get(f"/api/staff/{other.id}/channel").status_code == 403
        assert client.post(f"/api/staff/{other.id}/channel/test").status_code == 403
        assert client.get(f"/admin/staff/{other.id}/channel").status_code == 403
        assert (
            client.post(f"/admin/staff/{other.id}/channel", data={"apprise_url": webhook.url}).status_code
            == 403
        )
        assert client.get("/admin/notifications").status_code == 403
        assert client.get("/api/notifications/report").status_code == 403
    session.expire_all()
    assert staff("advisor2").apprise_url is None
    assert webhook.requests == []

    login(client, "admin")
    assert client.put(f"/api/staff/{other.id}/channel", json={"url": webhook.url}).status_code == 200
    assert client.get("/api/staff/999999/channel").status_code == 404


def test_a_person_sees_only_their_own_inbox(client, session, staff):
    a1, a2 = staff("advisor1"), staff("advisor2")
    notifications.enqueue(session=session, recipient=a1, kind="tasks_overdue", dedupe_key="t:a1", count=2)
    notifications.enqueue(session=session, recipient=a2, kind="tasks_overdue", dedupe_key="t:a2", count=5)
    session.commit()
    mine = session.scalar(select(Notification.id).where(Notification.recipient_id == a1.id))

    login(client, "advisor2")
    listed = client.get("/api/inbox").json()
    assert [i["body"] for i in listed["items"]] == ["您有 5 个回访任务已逾期，请尽快完成。"]
    assert client.post(f"/api/inbox/{mine}/read").status_code == 404
    assert client.post(f"/inbox/{mine}/read").status_code == 404
    assert "您有 2 个" not in client.get("/inbox").text
    # advisor2's read-all does not touch advisor1's message
    assert client.post("/api/inbox/read-all").json() == {"marked": 1, "unread": 0}
    session.expire_all()
    assert session.get(Notification, mine).read_at is None


# ---- the inbox: every message lands there ------------------------------------------------


def test_the_watch_flow_reminders_reach_the_inbox_whatever_the_channel(
    prefect_harness, client, session, surveying_cycle, staff, webhook
):
    """The real watcher a week later: the advisors' overdue reminders and the escalation to the
    supervisor land in their inboxes; advisor1's also at the loopback receiver; nobody's message
    is 'skipped'."""
    from flows.watch_deadlines import watch_deadlines

    staff("advisor1").apprise_url = webhook.url
    session.commit()
    result = watch_deadlines(as_of="2026-11-10T09:00:00+08:00")
    assert result["escalated"] > 0
    session.expire_all()

    notes = list(
        session.scalars(
            select(Notification).where(Notification.kind.in_(["tasks_overdue", "tasks_escalated"]))
        )
    )
    by_person = {(n.recipient_id, n.kind): n for n in notes}
    a1, sup = staff("advisor1"), staff("supervisor")
    assert (a1.id, "tasks_overdue") in by_person and (sup.id, "tasks_escalated") in by_person
    assert by_person[(a1.id, "tasks_overdue")].status == NotificationStatus.sent
    assert by_person[(sup.id, "tasks_escalated")].status == NotificationStatus.inbox_only
    assert not session.scalars(
        select(Notification).where(Notification.status == NotificationStatus.skipped)
    ).all()
    assert any(m["title"] == "回访任务已逾期" for m in webhook.messages)

    # In the supervisor's inbox, with a link to the cycle and its delivery in words.
    login(client, "supervisor")
    page = client.get("/inbox")
    assert page.status_code == 200 and "逾期回访任务上报" in page.text
    assert f'href="/cycles/{surveying_cycle}"' in page.text
    assert "未设置外部渠道：仅送达站内收件箱" in page.text
    # And in the advisor's, linked to their task list, "delivered".
    login(client, "advisor1")
    page = client.get("/inbox")
    assert "回访任务已逾期" in page.text and 'href="/tasks"' in page.text and "已送达 (json)" in page.text


def test_unread_count_in_the_bell_and_mark_read(client, session, staff):
    advisor = staff("advisor3")
    for i in range(3):
        notifications.enqueue(
            session=session, recipient=advisor, kind="tasks_overdue", dedupe_key=f"b:{i}", count=i + 1
        )
    session.commit()
    ids = list(session.scalars(select(Notification.id).where(Notification.recipient_id == advisor.id)))
    assert inbox.unread_count(session=session, staff_id=advisor.id) == 3

    login(client, "advisor3")
    assert _bell(client.get("/tasks").text) == "3"  # on every page
    assert _bell(client.get("/measures").text) == "3"
    assert _bell(client.get("/account/password").text) == "3"
    assert client.get("/api/inbox?unread=true").json()["unread"] == 3

    r = client.post(f"/inbox/{ids[0]}/read")
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    assert _bell(client.get("/inbox").text) == "2"
    assert client.post(f"/api/inbox/{ids[1]}/read").json() == {"marked": 1, "unread": 1}
    assert client.post(f"/api/inbox/{ids[1]}/read").json() == {"marked": 1, "unread": 1}  # again: no change
    unread = client.get("/api/inbox?unread=true").json()
    assert [i["id"] for i in unread["items"]] == [ids[2]] and unread["total"] == 1

    assert client.post("/inbox/read-all").status_code == 303
    page = client.get("/inbox")
    assert _bell(page.text) == "" and "0 条未读" in page.text
    listed = client.get("/api/inbox").json()
    assert listed["unread"] == 0 and all(i["read"] for i in listed["items"]) and len(listed["items"]) == 3


# ---- the admin's delivery page --------------------------------------------------------------


def test_the_admin_page_figures_match_a_hand_count(client, session, staff, webhook):
    from winback.config import get_settings

    a1, a2, a3, sup = staff("advisor1"), staff("advisor2"), staff("advisor3"), staff("supervisor")
    a1.apprise_url = webhook.url  # json: delivered
    a2.apprise_url = "json://127.0.0.1:1/"  # json: unreachable, retried
    a3.apprise_url = (
        "mailto://user:pw@example.com?smtp=127.0.0.1&port=1&to=x@example.com"  # mailto: unreachable
    )
    for person in (a1, a2, a3, sup):
        for i in range(2):
            notifications.enqueue(
                session=session,
                recipient=person,
                kind="tasks_overdue",
                dedupe_key=f"h:{person.id}:{i}",
                count=i,
            )
    session.commit()
    notifications.deliver_pending(session=session)
    session.commit()
    # advisor3's mailto keeps failing until it gives up: failed for good.
    for _ in range(notifications.MAX_ATTEMPTS):
        clock.set_now(clock.now() + notifications.BACKOFF[-1])
        session.execute(
            Notification.__table__.update()
            .where(Notification.recipient_id != a3.id, Notification.status == "pending")
            .values(next_attempt_at=clock.now() + notifications.BACKOFF[-1] * 10)
        )
        notifications.deliver_pending(session=session)
        session.commit()

    # The hand count, from the rows themselves.
    rows = list(session.scalars(select(Notification)))
    hand: dict[str, dict[str, int]] = {}
    for n in rows:
        figures = hand.setdefault(n.channel, {"delivered": 0, "failed": 0, "retrying": 0, "inbox_only": 0})
        if n.status == NotificationStatus.sent:
            figures["delivered"] += 1
        elif n.status == NotificationStatus.failed:
            figures["failed"] += 1
        elif n.status == NotificationStatus.pending and n.attempts:
            figures["retrying"] += 1
        elif n.status == NotificationStatus.inbox_only:
            figures["inbox_only"] += 1
    assert hand == {
        "json": {"delivered": 2, "failed": 0, "retrying": 2, "inbox_only": 0},
        "mailto": {"delivered": 0, "failed": 2, "retrying": 0, "inbox_only": 0},
        "inbox": {"delivered": 0, "failed": 0, "retrying": 0, "inbox_only": 2},
    }
    without = {
        s.username
        for s in session.scalars(
            select(type(a1)).where(type(a1).store_id == a1.store_id, type(a1).active.is_(True))
        )
        if not s.apprise_url
    }
    assert "supervisor" in without and "advisor1" not in without

    login(client, "admin")
    report = client.get("/api/notifications/report").json()
    assert {
        c["channel"]: {k: c[k] for k in ("delivered", "failed", "retrying", "inbox_only")}
        for c in report["channels"]
    } == hand
    mailto = next(c for c in report["channels"] if c["channel"] == "mailto")
    assert mailto["last_error"]["reason"] == "unreachable" and mailto["last_error"]["detail"]
    assert {p["username"] for p in report["without_channel"]} == without

    page = client.get("/admin/notifications")
    assert page.status_code == 200
    for channel, figures in hand.items():
        row = re.search(rf'<tr data-channel="{channel}">.*?</tr>', page.text, re.S).group(0)
        for key, css in (
            ("delivered", "delivered"),
            ("failed", "failed"),
            ("retrying", "retrying"),
            ("inbox_only", "inbox-only"),
        ):
            assert f'<td class="{css}">{figures[key]}</td>' in row, (channel, key, row)
    mail_row = re.search(r'<tr data-channel="mailto">.*?</tr>', page.text, re.S).group(0)
    assert "无法连接到接收方" in mail_row and "<summary>详情</summary>" in mail_row
    listed = re.search(r'<ul id="without-channel">.*?</ul>', page.text, re.S).group(0)
    assert all(f"/admin/staff/{staff(u).id}/channel" in listed for u in without)
    assert f"/admin/staff/{a1.id}/channel" not in listed
    assert 'href="/admin/notifications"' in page.text  # in the admin's navigation
    assert get_settings().fallback_notify_url == ""
