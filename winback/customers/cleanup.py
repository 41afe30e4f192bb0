"""Archive cleanup (档案整理): phone numbers, VINs and plates checked; duplicate customers found
and proposed as merges; merges done (or rejected) by the admin; the data-quality figures.

Set-based: each step reads the store's rows in one query and writes the changes in one
executemany; running it again changes nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import phonenumbers
from rapidfuzz import fuzz
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import (
    Customer,
    CustomerNote,
    ImportBatch,
    ImportStatus,
    MergeProposal,
    MergeStatus,
    MileageFlag,
    NoteKind,
    ServiceVisit,
    Vehicle,
    VehicleStatus,
)
from winback.errors import Conflict, InvalidInput, NotFound
from winback.i18n import Message
from winback.paging import PAGE_SIZE, Page, matches, paginate, words

# ---- phone numbers -----------------------------------------------------------------------


def normalize_phone(raw: str | None) -> str | None:
    """Mainland numbers in national form: 13812345678 (mobile), 02012345678 (landline with
    area code). Something libphonenumber cannot parse is kept as typed (without spaces)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    try:
        num = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return re.sub(r"\s", "", text) or None
    if num.country_code != 86:
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"\D", "", national) or None


def phone_is_valid(phone: str | None) -> bool:
    """A valid Chinese mobile or landline number (libphonenumber's metadata)."""
    if not phone:
        return False
    try:
        num = phonenumbers.parse(phone, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(num) and num.country_code == 86


# ---- VINs --------------------------------------------------------------------------------

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # 17 characters, never I, O or Q
_TRANSLIT = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_is_valid(vin: str | None) -> bool:
    return bool(_VIN.match(vin or ""))


def vin_check_digit_ok(vin: str | None) -> bool | None:
    """ISO 3779 / GB 16735 check digit (position 9). None when the VIN is not even well formed.
    Many Chinese VINs do not use it, so a False only flags the vehicle."""
    if not vin_is_valid(vin):
        return None
    total = sum(_TRANSLIT[ch] * w for ch, w in zip(vin, _WEIGHTS))
    expected = total % 11
    return vin[8] == ("X" if expected == 10 else str(expected))


# ---- plates ------------------------------------------------------------------------------

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Ordinary plates: province, city letter, 5 characters (no I/O); new-energy plates: 6 characters,
# D/F (small cars, first) or D/F last (large vehicles); special endings 学/警/港/澳/挂/领.
_PLATE = re.compile(
    rf"^[{_PROVINCES}][A-HJ-NP-Z]("
    r"[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳领]"
    r"|[DF][A-HJ-NP-Z0-9][0-9]{4}"
    r"|[0-9]{5}[DF]"
    r")$"
)


def normalize_plate(raw: str | None) -> str | None:
    if raw is None:
        return None
    s = re.sub(r"[\s·•\-.]", "", str(raw)).upper()
    return s or None


def plate_is_valid(plate: str | None) -> bool | None:
    if not plate:
        return None
    return bool(_PLATE.match(plate))


# ---- the cleanup step --------------------------------------------------------------------


def cleanup_archive(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """Normalize and check phones, VINs and plates, propose merges for duplicates."""
    now = clock.now()
    rows = session.execute(
        select(Customer.id, Customer.phone, Customer.phone_valid, Customer.phone_reported_wrong_at).where(
            Customer.store_id == store_id, Customer.merged_into_id.is_(None)
        )
    ).all()
    fixes = []
    for cid, phone, valid, reported_wrong in rows:
        norm = normalize_phone(phone)
        # A number an advisor found wrong stays invalid however well-formed it looks.
        ok = phone_is_valid(norm) and reported_wrong is None
        if norm != phone or ok != valid:
            fixes.append({"id": cid, "phone": norm, "phone_valid": ok})
    if fixes:
        session.execute(update(Customer), fixes)
    vin_rows = session.execute(
        select(
            Vehicle.id,
            Vehicle.vin,
            Vehicle.vin_valid,
            Vehicle.vin_check_digit_ok,
            Vehicle.plate,
            Vehicle.plate_valid,
        ).where(Vehicle.store_id == store_id)
    ).all()
    vfixes = []
    for vid, vin, valid, check, plate, pvalid in vin_rows:
        new = {
            "vin_valid": vin_is_valid(vin),
            "vin_check_digit_ok": vin_check_digit_ok(vin),
            "plate": normalize_plate(plate),
        }
        new["plate_valid"] = plate_is_valid(new["plate"])
        if (new["vin_valid"], new["vin_check_digit_ok"], new["plate"], new["plate_valid"]) != (
            valid,
            check,
            plate,
            pvalid,
        ):
            vfixes.append({"id": vid, **new})
    if vfixes:
        session.execute(update(Vehicle), vfixes)
    proposed = propose_merges(session=session, store_id=store_id, now=now)
    quality = data_quality(session=session, store_id=store_id)
    summary = {
        "customers": len(rows),
        "vehicles": len(vin_rows),
        "phones_changed": len(fixes),
        "vins_changed": len(vfixes),
        "bad_phones": quality["invalid"]["phone"],
        "bad_vins": quality["invalid"]["vin"],
        "vin_check_digit_failed": quality["invalid"]["vin_check_digit"],
        "bad_plates": quality["invalid"]["plate"],
        "merges_proposed": proposed,
        "merges_pending": quality["duplicates_pending"],
        "vehicles_excluded": quality["vehicles_excluded"],
        # repair orders whose mileage the care forecast ignores (lower than before, or a jump)
        "mileage_typos": _mileage_typos(session, store_id),
    }
    if fixes or vfixes or proposed:
        audit_service.record(
            session=session,
            actor=actor,
            action="archive.cleaned",
            entity_type="store",
            entity_id=store_id,
            store_id=store_id,
            changes=summary,
        )
    session.flush()
    return summary


def _mileage_typos(session: Session, store_id: int) -> int:
    return session.scalar(select(func.count(MileageFlag.id)).where(MileageFlag.store_id == store_id)) or 0


# ---- duplicates --------------------------------------------------------------------------

NAME_SIMILARITY = 85  # rapidfuzz ratio (0-100) for "near-identical" names


def _norm_name(name: str | None) -> str:
    return re.sub(r"[\s·.()（）先生女士]", "", name or "").lower()


def find_duplicates(*, session: Session, store_id: int) -> list[tuple[int, int, str, float]]:
    """``(keep_id, merge_id, rule, score)`` pairs: same VIN cannot happen inside a store (the VIN
    is unique), so the rules are same normalized phone, and near-identical names at the same
    phone or address. The older record (lower id) is kept."""
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.phone, Customer.phone_valid, Customer.address)
        .where(Customer.store_id == store_id, Customer.merged_into_id.is_(None))
        .order_by(Customer.id)
    ).all()
    pairs: dict[tuple[int, int], tuple[str, float]] = {}
    by_phone: dict[str, list] = defaultdict(list)
    by_address: dict[str, list] = defaultdict(list)
    for r in rows:
        if r.phone and r.phone_valid:
            by_phone[r.phone].append(r)
        if r.address and len(r.address.strip()) >= 6:
            by_address[re.sub(r"\s", "", r.address)].append(r)
    for group in by_phone.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                score = fuzz.ratio(_norm_name(a.name), _norm_name(b.name))
                rule = "similar_name_phone" if score >= NAME_SIMILARITY else "same_phone"
                pairs.setdefault((a.id, b.id), (rule, float(score)))
    for group in by_address.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                score = fuzz.ratio(_norm_name(a.name), _norm_name(b.name))
                if score >= NAME_SIMILARITY:
                    pairs.setdefault((a.id, b.id), ("similar_name_address", float(score)))
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


# ---- vehicle status ----------------------------------------------------------------------


def set_vehicle_status(
    *,
    session: Session,
    vehicle_id: int,
    status: VehicleStatus,
    note: str | None,
    actor: Actor,
    store_ids: list[int] | None = None,
) -> Vehicle:
    """Flag a vehicle sold / scrapped / moved away / owner deceased (excluded from screening),
    or active again; who and why are kept on the vehicle and in the audit trail."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or (store_ids is not None and vehicle.store_id not in store_ids):
        raise NotFound("no vehicle {vehicle_id}", vehicle_id=vehicle_id)
    status = VehicleStatus(status)
    if status != VehicleStatus.active and not (note or "").strip():
        raise InvalidInput("say why (e.g. who told you the car was sold)", field="note")
    changes = audit_service.diff(vehicle, {"status": status, "status_note": (note or "").strip() or None})
    if changes:
        vehicle.status_by_id, vehicle.status_at = actor.staff_id, clock.now()
        audit_service.record(
            session=session,
            actor=actor,
            action="vehicle.status_changed",
            entity_type="vehicle",
            entity_id=vehicle.id,
            store_id=vehicle.store_id,
            changes=changes,
            customer_id=vehicle.customer_id,
        )
    session.flush()
    return vehicle


# ---- what advisors learn -----------------------------------------------------------------


def add_note(
    *, session: Session, customer_id: int, kind: NoteKind | str, text: str, actor: Actor, store_ids: list[int]
) -> CustomerNote:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.store_id not in store_ids:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the note is empty", field="text")
    if len(text) > 2000:
        raise InvalidInput("the note is longer than 2000 characters", field="text")
    try:
        kind = NoteKind(kind)
    except ValueError:
        raise InvalidInput("unknown kind of note '{kind}'", kind=kind, field="kind") from None
    note = CustomerNote(
        store_id=customer.store_id,
        customer_id=customer.id,
        kind=kind,
        text=text,
        author_id=actor.staff_id,
        created_at=clock.now(),
    )
    session.add(note)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="customer.note_added",
        entity_type="customer",
        entity_id=customer.id,
        store_id=customer.store_id,
        customer_id=customer.id,
        changes={"kind": kind.value, "text": text},
    )
    return note


def notes_of(*, session: Session, customer_id: int) -> list[CustomerNote]:
    return list(
        session.scalars(
            select(CustomerNote)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
        )
    )


# ---- data quality ------------------------------------------------------------------------

CUSTOMER_FIELDS = ("phone", "gender", "birth_date", "occupation", "district", "address")
VEHICLE_FIELDS = ("plate", "purchase_date")


def data_quality(*, session: Session, store_id: int) -> dict[str, Any]:
    """Completeness (percent filled) of each field, invalid counts, duplicates pending."""
    live = (Customer.store_id == store_id) & Customer.merged_into_id.is_(None)
    c_total = session.scalar(select(func.count()).where(live)) or 0
    c_counts = session.execute(
        select(*[func.count(getattr(Customer, f)) for f in CUSTOMER_FIELDS]).where(live)
    ).one()
    v_total = session.scalar(select(func.count()).where(Vehicle.store_id == store_id)) or 0
    v_counts = session.execute(
        select(*[func.count(getattr(Vehicle, f)) for f in VEHICLE_FIELDS]).where(Vehicle.store_id == store_id)
    ).one()

    def pct(n: int, total: int) -> float:
        return round(100.0 * n / total, 1) if total else 0.0

    def count(*where) -> int:
        return int(session.scalar(select(func.count()).where(*where)) or 0)

    return {
        "customers": int(c_total),
        "vehicles": int(v_total),
        "visits": count(ServiceVisit.store_id == store_id),
        "completeness": {
            **{f: pct(n, c_total) for f, n in zip(CUSTOMER_FIELDS, c_counts)},
            **{f: pct(n, v_total) for f, n in zip(VEHICLE_FIELDS, v_counts)},
        },
        "invalid": {
            "phone": count(live, Customer.phone_valid.is_(False)),
            "vin": count(Vehicle.store_id == store_id, Vehicle.vin_valid.is_(False)),
            "vin_check_digit": count(Vehicle.store_id == store_id, Vehicle.vin_check_digit_ok.is_(False)),
            "plate": count(Vehicle.store_id == store_id, Vehicle.plate_valid.is_(False)),
        },
        "duplicates_pending": count(
            MergeProposal.store_id == store_id, MergeProposal.status == MergeStatus.pending
        ),
        "vehicles_excluded": count(Vehicle.store_id == store_id, Vehicle.status != VehicleStatus.active),
    }


def quality_trend(*, session: Session, store_id: int, limit: int = 20) -> list[ImportBatch]:
    """The data-quality snapshot taken after each finished import, oldest first."""
    rows = list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.store_id == store_id, ImportBatch.status == ImportStatus.done)
            .order_by(ImportBatch.id.desc())
            .limit(limit)
        )
    )
    return rows[::-1]
