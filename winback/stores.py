"""Setting up a store: the account record (``accounts``) and its seeds (``plans.seeding``).

The one way to create a store (CLI, demo, tests, benchmarks), above every area it touches."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

# The seeds' mappers (reasons, measures, cycles) refer to the archive's: load them all.
import winback.customers.models  # noqa: F401
from winback.accounts import service as accounts
from winback.accounts.models import Store
from winback.actor import Actor
from winback.errors import InvalidInput
from winback.plans.seeding import seed_store

STORE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")


def create_store(*, session: Session, code: str, name: str, actor: Actor) -> Store:
    """A new store with the default reasons and measure library (audited as ``store.created``).
    The code is what commands and files name the store by: 1-20 letters, digits, - or _."""
    code, name = (code or "").strip(), (name or "").strip()
    if not STORE_CODE.match(code):
        raise InvalidInput(
            "a store code is 1-20 letters, digits, - or _ (such as S01): '{store_code}'",
            store_code=code[:40],
            field="store_code",
        )
    if not name or len(name) > 200:
        raise InvalidInput("give the store's name (at most 200 characters)", field="store_name")
    if session.scalar(select(Store.id).where(Store.code == code)) is not None:
        raise InvalidInput(
            "there is already a store with code '{store_code}'", store_code=code, field="store_code"
        )
    store = accounts.create_store(session=session, code=code, name=name, actor=actor)
    seed_store(session=session, store_id=store.id)
    return store
