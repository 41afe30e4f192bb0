"""A notification receiver that never answers (or answers late) costs at most the
``notify_timeout_seconds`` setting per message, not Apprise's default 4 + 4 s (issue 15):
real Apprise against a loopback TCP receiver."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.config import get_settings
from winback.notifications import service as notifications
from winback.notifications.models import Notification, NotificationStatus


@dataclass
class Receiver:
    """Accepts connections and reads the request; answers 200 after ``answer_after`` seconds,
    or never (None). ``hung_up`` counts connections the client closed before an answer."""

    answer_after: float | None = None
    port: int = 0
    connections: int = 0
    hung_up: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    def wait_for_hang_ups(self, n: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.hung_up >= n, timeout=30)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with rec.lock:
                rec.connections += 1
            conn = self.request
            conn.settimeout(0.05)
            started = time.monotonic()
            while True:
                if rec.answer_after is not None and time.monotonic() - started >= rec.answer_after:
                    body = b'{"ok": true}'
                    try:
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                            + body
                        )
                    except OSError:
                        pass
                    return
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:  # the client gave up waiting and closed the connection
                    with rec.changed:
                        rec.hung_up += 1
                        rec.changed.notify_all()
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recipients(session):
    clock.set_now("2026-11-02T09:00")
    store = accounts.create_store(session=session, code="S01", name="S01", actor=Actor.system(label="t"))
    people = [
        accounts.create_staff(
            session=session,
            store_id=store.id,
            username=f"advisor{n}",
            display_name=f"advisor {n}",
            password="secret-pass-1",
            roles=[Role.advisor],
            actor=Actor.system(label="t"),
        )
        for n in range(3)
    ]
    session.commit()
    return people


def _queue(session, people, url: str, tag: str) -> None:
    for person in people:
        person.apprise_url = url
        notifications.enqueue(
            session=session, recipient=person, kind="tasks_overdue", dedupe_key=f"{tag}:{person.id}", count=1
        )
    session.commit()


def test_a_receiver_that_never_answers_is_given_up_per_message(session, recipients, receiver, monkeypatch):
    monkeypatch.setattr(get_settings(), "notify_timeout_seconds", 0.3)
    _queue(session, recipients, receiver.url, "never")
    counts = notifications.deliver_pending(session=session)
    session.commit()
    assert counts == {"sent": 0, "retry": 3, "failed": 0, "inbox_only": 0}
    # each message's connection was closed by winback, not by the receiver, which never answers
    assert receiver.wait_for_hang_ups(3) and receiver.connections == 3
    notes = session.scalars(select(Notification)).all()
    assert all(n.status == NotificationStatus.pending and n.attempts == 1 and n.last_error for n in notes)


def test_the_setting_is_what_bounds_the_wait(session, recipients, receiver, monkeypatch):
    """A receiver that answers after 1.5 s: past a 0.3 s timeout it is a retry (not a success
    nor a wait), within a 10 s one it is delivered."""
    receiver.answer_after = 1.5
    monkeypatch.setattr(get_settings(), "notify_timeout_seconds", 0.3)
    _queue(session, recipients[:1], receiver.url, "slow")
    assert notifications.deliver_pending(session=session)["retry"] == 1
    session.commit()
    assert receiver.wait_for_hang_ups(1)

    monkeypatch.setattr(get_settings(), "notify_timeout_seconds", 10.0)
    _queue(session, recipients[1:2], receiver.url, "slow-but-in-time")
    counts = notifications.deliver_pending(session=session)
    session.commit()
    assert counts["sent"] == 1
    assert type(get_settings()).model_fields["notify_timeout_seconds"].default == 3.0  # the shipped default
