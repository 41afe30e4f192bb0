"""Helpers for tests that drive the staff pages through the TestClient (the `client` fixture
of conftest.py)."""

from __future__ import annotations

PASSWORD = "winback-demo"  # every demo account's password


def login(client, username: str) -> None:
    """Log in as ``username`` on the page form (dropping whoever was logged in)."""
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text


def store_with_staff(session, people: dict, *, password: str, code: str = "S01") -> int:
    """A new store on the demo's day with ``people`` (username -> role), committed; its id."""
    from winback import clock
    from winback.accounts import service as accounts
    from winback.actor import Actor

    clock.set_now("2026-11-02T09:00")
    store = accounts.create_store(session=session, code=code, name=code, actor=Actor.system(label="t"))
    for name, role in people.items():
        accounts.create_staff(
            session=session,
            store_id=store.id,
            username=name,
            display_name=name,
            password=password,
            roles=[role],
            actor=Actor.system(label="t"),
        )
    session.commit()
    return store.id


def record_stage_run(session, cycle, flow_name: str, state, **extra):
    """A run of ``cycle``'s stage flow ``flow_name`` recorded as the flows' state hook records
    it (launch key "<flow>:test"; ``extra``: ``prefect_flow_run_id``, ``message``); recorded
    again with the same name, the same record moves on."""
    from winback.cycles import flow_runs

    return flow_runs.record_flow_run(
        session=session,
        flow_name=flow_name,
        launch_key=f"{flow_name}:test",
        state=state,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        **extra,
    )
