"""Archive cleanup (档案整理): phone numbers, VINs and plates checked, duplicate customers proposed
as merges (``merges.py``), and the data-quality figures.

Set-based: each step reads the store's rows in one query and writes the changes in one
executemany; running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from db.bulk import read_rows
from winback import clock, collector
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.identifiers import (
    normalize_phone,
    normalize_plate,
    phone_is_valid,
    plate_is_valid,
    vin_check_digit_ok,
    vin_is_valid,
)
from winback.customers.merges import propose_merges
from winback.customers.models import (
    Customer,
    ImportBatch,
    ImportStatus,
    MergeProposal,
    MergeStatus,
    MileageFlag,
    ServiceVisit,
    Vehicle,
    VehicleStatus,
)

# ---- the cleanup step --------------------------------------------------------------------


@collector.young_collections_only()  # a set-based pass: winback/collector.py
def cleanup_archive(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """Normalize and check phones, VINs and plates, propose merges for duplicates."""
    now = clock.now()
    phones_checked, phones_changed = _recheck_phones(session, store_id)
    vehicles_checked, vins_changed = _recheck_vehicles(session, store_id)
    proposed = propose_merges(session=session, store_id=store_id, now=now)
    customers, vehicles = _customer_figures(session, store_id), _vehicle_figures(session, store_id)
    summary = {
        "customers": customers["total"],
        "phones_checked": phones_checked,
        "vehicles": vehicles["total"],
        "vehicles_checked": vehicles_checked,
        "phones_changed": phones_changed,
        "vins_changed": vins_changed,
        "bad_phones": customers["bad_phone"],
        "bad_vins": vehicles["bad_vin"],
        "vin_check_digit_failed": vehicles["bad_check_digit"],
        "bad_plates": vehicles["bad_plate"],
        "merges_proposed": proposed,
        "merges_pending": _merges_pending(session, store_id),
        "vehicles_excluded": vehicles["excluded"],
        # repair orders whose mileage the care forecast ignores (lower than before, or a jump)
        "mileage_typos": _mileage_typos(session, store_id),
    }
    if phones_changed or vins_changed or proposed:
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


def _recheck_phones(session: Session, store_id: int) -> tuple[int, int]:
    """Normalize and validate the phones that need it; returns (checked, changed)."""
    # Only what changed since the last run goes through libphonenumber (104 s at group scale when
    # every number was checked every month): a phone unlike the one last checked, or a number an
    # advisor has since reported wrong.
    rows = read_rows(
        session,
        select(Customer.id, Customer.phone, Customer.phone_valid, Customer.phone_reported_wrong_at).where(
            Customer.store_id == store_id,
            Customer.merged_into_id.is_(None),
            or_(
                Customer.phone_checked.is_(None),
                Customer.phone.is_(None),
                Customer.phone != Customer.phone_checked,
                and_(Customer.phone_reported_wrong_at.is_not(None), Customer.phone_valid.is_(True)),
            ),
        ),
    )
    fixes = []
    for cid, phone, valid, reported_wrong in rows:
        norm = normalize_phone(phone)
        # A number an advisor found wrong stays invalid however well-formed it looks.
        ok = phone_is_valid(norm) and reported_wrong is None
        if norm != phone or ok != valid:
            fixes.append({"_id": cid, "phone": norm, "phone_valid": ok})
    if not rows:
        return 0, 0  # nothing changed since the last run (the statement below would match nothing)
    _update_by_id(session, Customer, fixes)
    # Every other number read above was found as it stands: remember it as checked, in one
    # statement (the fixed ones now equal their normalized form too).
    session.execute(
        update(Customer)
        .where(
            Customer.store_id == store_id,
            Customer.merged_into_id.is_(None),
            Customer.phone.is_not(None),
            or_(Customer.phone_checked.is_(None), Customer.phone_checked != Customer.phone),
        )
        .values(phone_checked=Customer.phone)
        .execution_options(synchronize_session=False)
    )
    return len(rows), len(fixes)


def _update_by_id(session: Session, model, rows: list[dict[str, Any]]) -> None:
    """One Core executemany of ``UPDATE ... WHERE id = :_id`` (the ORM's bulk update by primary
    key spent a second per 30,000 rows collecting its per-row commands)."""
    if rows:
        table = model.__table__
        columns = {k: bindparam(k) for k in rows[0] if k != "_id"}
        session.connection().execute(
            update(table).where(table.c.id == bindparam("_id")).values(columns), rows
        )


def _recheck_vehicles(session: Session, store_id: int) -> tuple[int, int]:
    """Check the VINs (and check digits) and normalize the plates of the vehicles whose
    identifiers changed since they were last checked; returns (vehicles checked, changed)."""
    # What was checked is remembered per vehicle (``identifiers_checked``, as the phones'
    # ``phone_checked``): a store's vehicles went through the checks on every run before.
    unchecked = or_(Vehicle.identifiers_checked.is_(None), Vehicle.identifiers_checked != _marker())
    vin_rows = read_rows(
        session,
        select(
            Vehicle.id,
            Vehicle.vin,
            Vehicle.vin_valid,
            Vehicle.vin_check_digit_ok,
            Vehicle.plate,
            Vehicle.plate_valid,
        ).where(Vehicle.store_id == store_id, unchecked),
    )
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
            vfixes.append({"_id": vid, **new})
    if not vin_rows:
        return 0, 0  # nothing changed since the last run
    _update_by_id(session, Vehicle, vfixes)
    # Every vehicle read above is now checked as it stands (the fixed ones with their new plate).
    session.execute(
        update(Vehicle)
        .where(Vehicle.store_id == store_id, unchecked)
        .values(identifiers_checked=_marker())
        .execution_options(synchronize_session=False)
    )
    return len(vin_rows), len(vfixes)


def _marker():
    """``identifiers.identifiers_marker`` in SQL: "VIN|plate"."""
    return Vehicle.vin + "|" + func.coalesce(Vehicle.plate, "")


def _mileage_typos(session: Session, store_id: int) -> int:
    return session.scalar(select(func.count(MileageFlag.id)).where(MileageFlag.store_id == store_id)) or 0


# ---- data quality ------------------------------------------------------------------------

CUSTOMER_FIELDS = ("phone", "gender", "birth_date", "occupation", "district", "address")
VEHICLE_FIELDS = ("plate", "purchase_date")


def data_quality(*, session: Session, store_id: int) -> dict[str, Any]:
    """Completeness (percent filled) of each field, invalid counts, duplicates pending."""
    customers, vehicles = _customer_figures(session, store_id), _vehicle_figures(session, store_id)
    c_total, v_total = customers["total"], vehicles["total"]

    def pct(n: int, total: int) -> float:
        return round(100.0 * n / total, 1) if total else 0.0

    return {
        "customers": c_total,
        "vehicles": v_total,
        "visits": int(session.scalar(select(func.count()).where(ServiceVisit.store_id == store_id)) or 0),
        "completeness": {
            **{f: pct(customers[f], c_total) for f in CUSTOMER_FIELDS},
            **{f: pct(vehicles[f], v_total) for f in VEHICLE_FIELDS},
        },
        "invalid": {
            "phone": customers["bad_phone"],
            "vin": vehicles["bad_vin"],
            "vin_check_digit": vehicles["bad_check_digit"],
            "plate": vehicles["bad_plate"],
        },
        "duplicates_pending": _merges_pending(session, store_id),
        "vehicles_excluded": vehicles["excluded"],
    }


def _counted(session: Session, where, **figures) -> dict[str, int]:
    """Each of ``figures`` (a name and an aggregate) over the rows ``where`` holds, and
    ``total``: one statement (the cleanup's figures were a dozen scans of the store's rows)."""
    row = session.execute(
        select(func.count().label("total"), *(f.label(n) for n, f in figures.items())).where(where)
    ).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


def _customer_figures(session: Session, store_id: int) -> dict[str, int]:
    """The store's live customers: ``total``, each field's filled count, ``bad_phone``."""
    return _counted(
        session,
        (Customer.store_id == store_id) & Customer.merged_into_id.is_(None),
        **{f: func.count(getattr(Customer, f)) for f in CUSTOMER_FIELDS},
        bad_phone=func.count().filter(Customer.phone_valid.is_(False)),
    )


def _vehicle_figures(session: Session, store_id: int) -> dict[str, int]:
    """The store's vehicles: ``total``, each field's filled count, the invalid identifiers and
    ``excluded`` (sold, scrapped, moved away)."""
    return _counted(
        session,
        Vehicle.store_id == store_id,
        **{f: func.count(getattr(Vehicle, f)) for f in VEHICLE_FIELDS},
        bad_vin=func.count().filter(Vehicle.vin_valid.is_(False)),
        bad_check_digit=func.count().filter(Vehicle.vin_check_digit_ok.is_(False)),
        bad_plate=func.count().filter(Vehicle.plate_valid.is_(False)),
        excluded=func.count().filter(Vehicle.status != VehicleStatus.active),
    )


def _merges_pending(session: Session, store_id: int) -> int:
    where = (MergeProposal.store_id == store_id) & (MergeProposal.status == MergeStatus.pending)
    return int(session.scalar(select(func.count()).where(where)) or 0)


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
