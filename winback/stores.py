"""Setting up a store: the account record (``accounts``) and its seeds (``plans.seeding``).

The one way to create a store (CLI, demo, tests, benchmarks), above every area it touches."""

from __future__ import annotations

from sqlalchemy.orm import Session

from winback.accounts import service as accounts
from winback.accounts.models import Store
from winback.actor import Actor
from winback.plans.seeding import seed_store


def create_store(*, session: Session, code: str, name: str, actor: Actor) -> Store:
    """A new store with the default reasons and measure library (audited as ``store.created``)."""
    store = accounts.create_store(session=session, code=code, name=name, actor=actor)
    seed_store(session=session, store_id=store.id)
    return store
