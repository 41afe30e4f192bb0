"""The staff rules in the domain (issue 15): the last active admin of a store stays, also
against an admin of another store who works here; the supervisor's hand-over keeps the account."""

from __future__ import annotations

import pytest

from winback.accounts import service as accounts
from winback.accounts.models import Role, StaffStore
from winback.actor import Actor
from winback.errors import Conflict, Forbidden, InvalidInput
from winback.surveys import service as surveys


def test_last_admin_stays_and_a_second_admin_may_go(session, demo_store, staff):
    admin = staff("admin")
    other = accounts.create_store(session=session, code="S77", name="group office", actor=Actor.system())
    group = accounts.create_staff(
        session=session,
        store_id=other.id,
        username="group-admin",
        display_name="group admin",
        password="Qz7-lantern-orbit",
        roles=[Role.admin],
        actor=Actor.system(),
    )
    group.store_rows.append(StaffStore(store_id=demo_store))
    session.flush()
    # the group admin works in the demo store but may not leave it without an admin
    with pytest.raises(Conflict):
        accounts.set_active(session=session, staff_id=admin.id, active=False, actor_staff=group)
    with pytest.raises(Conflict):
        accounts.set_roles(session=session, staff_id=admin.id, roles=[Role.manager], actor_staff=group)
    with pytest.raises(InvalidInput):
        accounts.set_active(session=session, staff_id=admin.id, active=False, actor_staff=admin)
    # with a second admin in the store, one admin deactivates the other
    second = accounts.create_staff(
        session=session,
        store_id=demo_store,
        username="admin2",
        display_name="admin 2",
        password="Qz7-harbour-violet",
        roles=[Role.admin],
        actor=Actor.system(),
    )
    accounts.set_active(session=session, staff_id=second.id, active=False, actor_staff=admin)
    assert not second.active
    with pytest.raises(Forbidden):
        accounts.set_active(
            session=session, staff_id=staff("advisor2").id, active=False, actor_staff=staff("manager")
        )


def test_hand_over_by_supervisor_moves_the_work_and_keeps_the_account(session, surveying_cycle, staff):
    sup, leaving = staff("supervisor"), staff("advisor3")
    result = surveys.hand_over_advisor(session=session, advisor_id=leaving.id, actor_staff=sup)
    assert result["deactivated"] is False and leaving.active
    assert result["tasks"] > 0
    for not_an_advisor in ("admin", "manager", "auditor", "supervisor"):
        with pytest.raises(InvalidInput):
            surveys.hand_over_advisor(session=session, advisor_id=staff(not_an_advisor).id, actor_staff=sup)
    result = surveys.hand_over_advisor(session=session, advisor_id=leaving.id, actor_staff=staff("admin"))
    assert result["deactivated"] is True and not leaving.active


def test_the_choices_of_advisors_are_the_active_advisors_of_the_store(session, demo_store, staff):
    """``names_with_role`` (a form's choices, one statement) names the same people as
    ``staff_with_role``: active, of this store, holding the role, in id order."""
    advisors = accounts.staff_with_role(session=session, store_id=demo_store, role=Role.advisor)
    assert len(advisors) >= 2
    names = accounts.names_with_role(session=session, store_id=demo_store, role=Role.advisor)
    assert [(n.id, n.display_name) for n in names] == [(a.id, a.display_name) for a in advisors]
    gone = advisors[-1]
    accounts.set_active(session=session, staff_id=gone.id, active=False, actor_staff=staff("admin"))
    session.flush()
    names = accounts.names_with_role(session=session, store_id=demo_store, role=Role.advisor)
    assert gone.id not in {n.id for n in names} and len(names) == len(advisors) - 1
    managers = accounts.names_with_role(session=session, store_id=demo_store, role=Role.manager)
    assert {n.id for n in managers} == {staff("manager").id}
