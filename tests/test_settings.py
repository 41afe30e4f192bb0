"""Settings: defaults in one place, overrides per store, nonsense refused."""

from __future__ import annotations

import pytest

from winback.accounts import service as accounts
from winback.accounts.models import Store
from winback.actor import Actor
from winback.config import ProcessDefaults
from winback.errors import InvalidInput


def test_defaults_follow_the_process():
    d = ProcessDefaults()
    assert (d.at_risk_months, d.lost_months, d.survey_deadline_days) == (6, 12, 7)
    assert (d.evaluation_delay_months, d.winback_target_pct) == (3, 20.0)


def test_red_lines_must_be_in_order(session, demo_store):
    store = session.get(Store, demo_store)
    with pytest.raises(InvalidInput):
        accounts.set_store_setting(
            session=session, store=store, key="at_risk_months", value=12, actor=Actor.system()
        )
    accounts.set_store_setting(
        session=session, store=store, key="lost_months", value=18, actor=Actor.system()
    )
    assert accounts.effective_settings(store).lost_months == 18
    assert accounts.effective_settings(store).at_risk_months == 6
