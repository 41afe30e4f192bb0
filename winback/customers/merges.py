"""Duplicate customers (same phone, near-identical names) proposed as merges; merges done or
rejected by the admin."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from rapidfuzz import fuzz
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from db.bulk import read_rows
from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import (
    Customer,
    CustomerNote,
    MergeProposal,
    MergeStatus,
    ServiceVisit,
    Vehicle,
)
from winback.errors import Conflict, NotFound
from winback.i18n import Message
from winback.paging import PAGE_SIZE, Page, matches, paginate, words

# ---- duplicates --------------------------------------------------------------------------

NAME_SIMILARITY = 85  # rapidfuzz ratio (0-100) for "near-identical" names
# More customers than this on one phone or address: a shared contact, not one person (see _pairs_in).
SHARED_CONTACT_LIMIT = 10


def _norm_name(name: str | None) -> str:
    return re.sub(r"[\s·.()（）先生女士]", "", name or "").lower()


def _pairs_in(
    group: list, *, shared_rule: str | None, similar_rule: str
) -> Iterator[tuple[int, int, str, float]]:
    """Duplicate pairs among the customers sharing one phone or address (ordered by id).

    A small group is compared pair by pair (a family, or one person entered twice). A group
    larger than ``SHARED_CONTACT_LIMIT`` is a shared number or address (a fleet, a company's
    switchboard, a placeholder typed for customers without one): comparing every pair there grows
    with the square of the group (4,000 on one number: 27 s and 2.9 GB), and a different name on
    a switchboard number is no duplicate. There only the same normalized name counts, each later
    record paired with the first: one pass, one dict."""
    if len(group) <= SHARED_CONTACT_LIMIT:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                score = fuzz.ratio(_norm_name(a.name), _norm_name(b.name))
                if score >= NAME_SIMILARITY:
                    yield a.id, b.id, similar_rule, float(score)
                elif shared_rule:
                    yield a.id, b.id, shared_rule, float(score)
        return
    first: dict[str, int] = {}
    for r in group:
        name = _norm_name(r.name)
        if not name:
            continue
        if name in first:
            yield first[name], r.id, similar_rule, 100.0
        else:
            first[name] = r.id


def find_duplicates(*, session: Session, store_id: int) -> list[tuple[int, int, str, float]]:
    """``(keep_id, merge_id, rule, score)`` pairs: same VIN cannot happen inside a store (the VIN
    is unique), so the rules are same normalized phone, and near-identical names at the same
    phone or address. The older record (lower id) is kept."""
    live = (Customer.store_id == store_id) & Customer.merged_into_id.is_(None)
    # Only customers who can be in a pair are read: a valid phone someone else also has, or an
    # address long enough to compare (most of an archive is neither, and was read whole).
    shared_phones = (
        select(Customer.phone)
        .where(live, Customer.phone_valid.is_(True), Customer.phone.is_not(None))
        .group_by(Customer.phone)
        .having(func.count() > 1)
    )
    rows = read_rows(
        session,
        select(Customer.id, Customer.name, Customer.phone, Customer.phone_valid, Customer.address)
        .where(
            live,
            or_(
                Customer.phone.in_(shared_phones),
                func.length(func.trim(Customer.address)) >= 6,
            ),
        )
        .order_by(Customer.id),
    )
    pairs: dict[tuple[int, int], tuple[str, float]] = {}
    by_phone: dict[str, list] = defaultdict(list)
    by_address: dict[str, list] = defaultdict(list)
    for r in rows:
        if r.phone and r.phone_valid:
            by_phone[r.phone].append(r)
        if r.address and len(r.address.strip()) >= 6:
            by_address[re.sub(r"\s", "", r.address)].append(r)
    for group in by_phone.values():
        for k, m, rule, score in _pairs_in(
            group, shared_rule="same_phone", similar_rule="similar_name_phone"
        ):
            pairs.setdefault((k, m), (rule, score))
    for group in by_address.values():
        for k, m, rule, score in _pairs_in(group, shared_rule=None, similar_rule="similar_name_address"):
            pairs.setdefault((k, m), (rule, score))
    return [(k, m, rule, score) for (k, m), (rule, score) in sorted(pairs.items())]


def propose_merges(*, session: Session, store_id: int, now=None) -> int:
    """Create a pending proposal for each new duplicate pair (a rejected pair is not proposed again)."""
    known = set(
        session.execute(
            select(MergeProposal.keep_id, MergeProposal.merge_id).where(MergeProposal.store_id == store_id)
        ).all()
    )
    new = [
        MergeProposal(
            store_id=store_id,
            keep_id=k,
            merge_id=m,
            rule=rule,
            score=score,
            status=MergeStatus.pending,
            created_at=now or clock.now(),
        )
        for k, m, rule, score in find_duplicates(session=session, store_id=store_id)
        if (k, m) not in known
    ]
    session.add_all(new)
    session.flush()
    return len(new)


def pending_merges(*, session: Session, store_id: int) -> list[MergeProposal]:
    return list(
        session.scalars(
            select(MergeProposal)
            .where(MergeProposal.store_id == store_id, MergeProposal.status == MergeStatus.pending)
            .order_by(MergeProposal.id)
        )
    )


def merges_page(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[MergeProposal]:
    """Pending merge proposals a page at a time; ``search`` matches either customer's name,
    phone or DMS code."""
    keep, dup = aliased(Customer), aliased(Customer)
    stmt = (
        select(MergeProposal)
        .join(keep, keep.id == MergeProposal.keep_id)
        .join(dup, dup.id == MergeProposal.merge_id)
        .where(
            MergeProposal.store_id == store_id,
            MergeProposal.status == MergeStatus.pending,
            matches(search, keep.name, keep.phone, keep.dms_code, dup.name, dup.phone, dup.dms_code),
        )
        .order_by(MergeProposal.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def _proposal(session: Session, proposal_id: int, store_ids: list[int]) -> MergeProposal:
    p = session.get(MergeProposal, proposal_id)
    if p is None or p.store_id not in store_ids:
        raise NotFound("no merge proposal {proposal_id}", proposal_id=proposal_id)
    if p.status != MergeStatus.pending:
        raise Conflict("this merge proposal is already {status}", status=Message(p.status.value))
    return p


def merge_customers(
    *, session: Session, proposal_id: int, store_ids: list[int], actor: Actor
) -> MergeProposal:
    """Merge the proposal's duplicate into the kept customer: vehicles, repair orders and notes
    move over, empty fields are filled from the duplicate, and the duplicate row stays with
    ``merged_into_id`` so the merge can be traced. Recorded on both customers' timelines."""
    p = _proposal(session, proposal_id, store_ids)
    keep, dup = session.get(Customer, p.keep_id), session.get(Customer, p.merge_id)
    if keep.merged_into_id or dup.merged_into_id:
        raise Conflict("one of these customers was merged already")
    vehicles = [v for (v,) in session.execute(select(Vehicle.id).where(Vehicle.customer_id == dup.id))]
    visits = session.execute(
        update(ServiceVisit).where(ServiceVisit.customer_id == dup.id).values(customer_id=keep.id)
    ).rowcount
    session.execute(update(Vehicle).where(Vehicle.customer_id == dup.id).values(customer_id=keep.id))
    session.execute(
        update(CustomerNote).where(CustomerNote.customer_id == dup.id).values(customer_id=keep.id)
    )
    filled = {}
    for field in ("phone", "gender", "birth_date", "occupation", "district", "address"):
        if getattr(keep, field) in (None, "") and getattr(dup, field) not in (None, ""):
            filled[field] = getattr(dup, field)
    if keep.notes or dup.notes:
        joined = "\n".join(n for n in (keep.notes, dup.notes) if n)
        if joined != keep.notes:
            filled["notes"] = joined
    filled_changes = audit_service.diff(keep, filled)
    dup.merged_into_id = keep.id
    p.status, p.decided_by_id, p.decided_at = MergeStatus.merged, actor.staff_id, clock.now()
    changes = {
        "kept": keep.id,
        "merged": dup.id,
        "merged_dms_code": dup.dms_code,
        "rule": p.rule,
        "vehicles_moved": vehicles,
        "visits_moved": visits,
        "filled": filled_changes,
        "proposal": p.id,
    }
    for cid in (keep.id, dup.id):
        audit_service.record(
            session=session,
            actor=actor,
            action="customer.merged",
            entity_type="customer",
            entity_id=cid,
            store_id=p.store_id,
            customer_id=cid,
            changes=changes,
        )
    session.flush()
    return p


def reject_merge(
    *, session: Session, proposal_id: int, store_ids: list[int], actor: Actor, note: str | None = None
) -> MergeProposal:
    """Two different people after all; the pair is not proposed again."""
    p = _proposal(session, proposal_id, store_ids)
    p.status, p.decided_by_id, p.decided_at, p.note = MergeStatus.rejected, actor.staff_id, clock.now(), note
    audit_service.record(
        session=session,
        actor=actor,
        action="merge.rejected",
        entity_type="customer",
        entity_id=p.keep_id,
        store_id=p.store_id,
        customer_id=p.keep_id,
        changes={"kept": p.keep_id, "other": p.merge_id, "rule": p.rule, "note": note},
    )
    session.flush()
    return p
