"""Archive cleanup: phone, VIN and plate checks, duplicates proposed and merged or rejected,
vehicles flagged out of screening, advisors' notes in the archive, data quality figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from winback import clock, stores
from winback.accounts import service as accounts
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import cleanup, findings, identifiers, imports, merges
from winback.customers.models import (
    Customer,
    CustomerNote,
    MergeStatus,
    ServiceVisit,
    Vehicle,
    VehicleStatus,
)
from winback.errors import Conflict, InvalidInput

CORPUS = Path(__file__).parent / "data" / "imports"
SYSTEM = Actor.system(label="test")


@pytest.mark.parametrize(
    "raw, normalized, valid",
    [
        ("138 0013 8000", "13800138000", True),
        ("+86 139-1234-5678", "13912345678", True),
        ("8613912345678", "13912345678", True),
        ("020-12345678", "02012345678", True),
        ("(0755) 8888 6666", "075588886666", True),
        ("12345", "12345", False),
        ("1381234567", "1381234567", False),  # ten digits
        ("10012345678", "10012345678", False),  # no 100 mobile prefix
        (None, None, False),
    ],
)
def test_phone_numbers(raw, normalized, valid):
    assert identifiers.normalize_phone(raw) == normalized
    assert identifiers.phone_is_valid(normalized) is valid


@pytest.mark.parametrize(
    "vin, valid, check",
    [
        ("1M8GDM9AXKP042788", True, True),  # the textbook example
        ("LGBH52E01HY000005", True, False),  # well formed, check digit not used (common in China)
        ("LGBH52EO5HY000001", False, None),  # letter O
        ("LGBH52E05HY00000", False, None),  # 16 characters
    ],
)
def test_vins(vin, valid, check):
    assert identifiers.vin_is_valid(vin) is valid
    assert identifiers.vin_check_digit_ok(vin) is check


@pytest.mark.parametrize(
    "plate, valid",
    [
        ("粤B12345", True),
        ("京A8K3Z9", True),
        ("粤BD12345", True),
        ("沪AF12345", True),
        ("粤B12345D", True),
        ("粤B1234学", True),
        ("粤B1234", False),
        ("XXB12345", False),
        ("粤BO1234", False),
    ],
)
def test_plates(plate, valid):
    assert identifiers.plate_is_valid(identifiers.normalize_plate(plate)) is valid


@pytest.fixture
def archive(session) -> int:
    clock.set_now("2026-11-02T09:00")
    s = stores.create_store(session=session, code="T01", name="测试店", actor=SYSTEM)
    session.flush()
    for kind, name in (
        ("customers", "customers_utf8.csv"),
        ("vehicles", "vehicles.xlsx"),
        ("visits", "visits.csv"),
    ):
        imports.import_file(session=session, store_id=s.id, kind=kind, source=CORPUS / name, actor=SYSTEM)
    return s.id


def _cust(session, code):
    return session.scalar(select(Customer).where(Customer.dms_code == code))


def test_cleanup_flags_and_proposes_duplicates_once(session, archive):
    c5 = _cust(session, "C005")
    c5.phone = " 138-0013-8000 "  # someone typed it by hand; cleanup normalizes it
    session.flush()
    summary = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert summary["phones_changed"] == 1 and summary["bad_plates"] == 1
    assert summary["bad_vins"] == 1 and summary["vin_check_digit_failed"] == 1
    proposals = merges.pending_merges(session=session, store_id=archive)
    pairs = {(p.keep.dms_code, p.merge.dms_code, p.rule) for p in proposals}
    # C004 "张伟 " at the same phone and address as C001: near-identical name; C005 only shares the phone.
    assert ("C001", "C004", "similar_name_phone") in pairs
    assert ("C001", "C005", "same_phone") in pairs
    assert summary["merges_proposed"] == len(proposals) == summary["merges_pending"]
    again = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert again["merges_proposed"] == 0 and again["phones_changed"] == 0 and again["vins_changed"] == 0


def test_merge_keeps_all_visits_and_is_traceable(session, archive, staff_admin):
    cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    c1, c4 = _cust(session, "C001"), _cust(session, "C004")
    visits_before = session.scalar(select(func.count()).select_from(ServiceVisit))
    dup_vehicle = session.scalar(select(Vehicle).where(Vehicle.customer_id == c4.id))
    assert dup_vehicle is not None
    session.add(
        ServiceVisit(
            store_id=archive,
            ro_number="RO-DUP",
            vehicle_id=dup_vehicle.id,
            customer_id=c4.id,
            visit_date=clock.today(),
            category="保养",
            amount=0,
            created_at=clock.now(),
        )
    )
    session.flush()
    proposal = next(
        p for p in merges.pending_merges(session=session, store_id=archive) if p.merge_id == c4.id
    )
    merges.merge_customers(session=session, proposal_id=proposal.id, store_ids=[archive], actor=staff_admin)
    assert proposal.status == MergeStatus.merged and proposal.decided_by_id == staff_admin.staff_id
    assert c4.merged_into_id == c1.id
    assert session.scalar(select(func.count()).select_from(ServiceVisit)) == visits_before + 1
    assert session.scalar(select(func.count()).where(ServiceVisit.customer_id == c4.id)) == 0
    assert session.get(Vehicle, dup_vehicle.id).customer_id == c1.id
    for cid in (c1.id, c4.id):
        ev = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "customer.merged", AuditEvent.customer_id == cid)
        )
        assert (
            ev.changes["merged"] == c4.id
            and ev.changes["kept"] == c1.id
            and ev.actor_id == staff_admin.staff_id
        )
    with pytest.raises(Conflict):
        merges.merge_customers(
            session=session, proposal_id=proposal.id, store_ids=[archive], actor=staff_admin
        )
    # The merged duplicate is out of the next duplicate search and out of the quality counts.
    assert cleanup.data_quality(session=session, store_id=archive)["customers"] == 4


def test_rejected_pair_is_not_proposed_again(session, archive, staff_admin):
    cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    p = merges.pending_merges(session=session, store_id=archive)[0]
    merges.reject_merge(
        session=session, proposal_id=p.id, store_ids=[archive], actor=staff_admin, note="父子俩"
    )
    assert cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)["merges_proposed"] == 0
    assert p.id not in {x.id for x in merges.pending_merges(session=session, store_id=archive)}


def test_flagged_vehicle_records_who_and_why(session, archive, staff_admin):
    v = session.scalar(select(Vehicle).where(Vehicle.plate == "粤B12345"))
    with pytest.raises(InvalidInput):
        findings.set_vehicle_status(
            session=session, vehicle_id=v.id, status=VehicleStatus.sold, note=" ", actor=staff_admin
        )
    findings.set_vehicle_status(
        session=session,
        vehicle_id=v.id,
        status=VehicleStatus.deceased,
        note="家属来电告知",
        actor=staff_admin,
        store_ids=[archive],
    )
    assert (v.status, v.status_note, v.status_by_id) == (
        VehicleStatus.deceased,
        "家属来电告知",
        staff_admin.staff_id,
    )
    assert cleanup.data_quality(session=session, store_id=archive)["vehicles_excluded"] == 1


def test_notes_go_into_the_archive(session, archive, staff_admin):
    c = _cust(session, "C002")
    findings.add_note(
        session=session,
        customer_id=c.id,
        kind="best_time",
        text="工作日晚上7点后",
        actor=staff_admin,
        store_ids=[archive],
    )
    with pytest.raises(InvalidInput):
        findings.add_note(
            session=session,
            customer_id=c.id,
            kind="best_time",
            text="",
            actor=staff_admin,
            store_ids=[archive],
        )
    notes = findings.notes_of(session=session, customer_id=c.id)
    assert [(n.kind.value, n.text) for n in notes] == [("best_time", "工作日晚上7点后")]
    assert session.scalar(select(func.count()).select_from(CustomerNote)) == 1


def test_data_quality_and_trend(session, archive):
    q = cleanup.data_quality(session=session, store_id=archive)
    assert q["customers"] == 5 and q["vehicles"] == 5 and q["visits"] == 4
    assert q["completeness"]["phone"] == 100.0 and q["completeness"]["address"] == 80.0
    assert q["invalid"]["phone"] == 1
    trend = cleanup.quality_trend(session=session, store_id=archive)
    assert [b.kind.value for b in trend] == ["customers", "vehicles", "visits"]
    assert trend[0].quality["customers"] == 5 and trend[-1].quality["visits"] == 4


@pytest.fixture
def staff_admin(session, archive):
    from winback.accounts.models import Role

    s = accounts.create_staff(
        session=session,
        store_id=archive,
        username="admin9",
        display_name="行政",
        password="x" * 12,
        roles=[Role.admin],
        actor=SYSTEM,
    )
    session.flush()
    return Actor.person(s)


def test_a_shared_number_pairs_only_the_same_name_and_each_only_once(session, archive):
    """A switchboard or placeholder number held by many customers is no duplicate by itself:
    only the same (normalized) name is proposed there, each later record against the first, so
    the work grows with the group, not with its square; a small group still compares every pair."""
    now = clock.now()
    shared = "13900000000"
    names = [f"客户{i}号" for i in range(1500)] + ["李 娜", "李娜先生", "李娜"]
    session.add_all(
        Customer(
            store_id=archive, dms_code=f"S{i:05d}", name=n, phone=shared, phone_valid=True, created_at=now
        )
        for i, n in enumerate(names)
    )
    session.flush()
    ids = {
        c.dms_code: c.id
        for c in session.scalars(
            select(Customer).where(Customer.store_id == archive, Customer.phone == shared)
        )
    }
    found = [p for p in merges.find_duplicates(session=session, store_id=archive) if p[0] in ids.values()]
    first = ids["S01500"]
    assert sorted((k, m, rule) for k, m, rule, _score in found) == [
        (first, ids["S01501"], "similar_name_phone"),
        (first, ids["S01502"], "similar_name_phone"),
    ]


def test_cleanup_checks_only_the_phones_that_changed_since_the_last_run(session, archive):
    """A run checks every number not checked yet (here: all, the marks cleared as a database
    loaded around the import has them); the next one only a number changed since (here one
    typed over in SQL, as an edit would) or reported wrong by an advisor."""
    session.execute(update(Customer).where(Customer.store_id == archive).values(phone_checked=None))
    first = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert first["phones_checked"] == first["customers"]
    assert cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)["phones_checked"] == (
        _without_phone(session, archive)
    )
    c2, c3 = _cust(session, "C002"), _cust(session, "C003")
    c2.phone = "139 1234 5678"
    c3.phone_reported_wrong_at = clock.now()
    session.flush()
    again = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert again["phones_checked"] == 2 + _without_phone(session, archive)
    session.refresh(c2)
    session.refresh(c3)
    assert (c2.phone, c2.phone_valid, c2.phone_checked) == ("13912345678", True, "13912345678")
    assert c3.phone_valid is False


def test_what_the_import_checked_the_cleanup_does_not_check_again(session, archive):
    """The import checks each new customer's phone and each new vehicle's VIN and plate as it
    writes them: the first cleanup checks none of them again (a customer without a number is
    looked at by every run). A plate typed over afterwards, or a vehicle written without the
    import (the demo, a DMS load in SQL), is checked and normalized by the next run, once."""
    first = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert first["phones_checked"] == _without_phone(session, archive)
    assert first["vehicles_checked"] == 0 and first["vehicles"] > 0
    vehicles = list(session.scalars(select(Vehicle).where(Vehicle.store_id == archive).order_by(Vehicle.id)))
    typed, loaded = vehicles[0], vehicles[1]
    typed.plate = "粤b·12345"
    session.flush()
    session.execute(
        update(Vehicle)
        .where(Vehicle.id == loaded.id)
        .values(identifiers_checked=None, vin_check_digit_ok=None, plate_valid=None)
    )
    again = cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)
    assert again["vehicles_checked"] == 2
    session.refresh(typed)
    session.refresh(loaded)
    assert (typed.plate, typed.plate_valid, typed.identifiers_checked) == (
        "粤B12345",
        True,
        f"{typed.vin}|粤B12345",
    )
    assert loaded.vin_check_digit_ok is not None or not loaded.vin_valid
    assert loaded.identifiers_checked == identifiers.identifiers_marker(loaded.vin, loaded.plate)
    assert cleanup.cleanup_archive(session=session, store_id=archive, actor=SYSTEM)["vehicles_checked"] == 0


def _without_phone(session, store_id) -> int:
    return session.scalar(
        select(func.count(Customer.id)).where(Customer.store_id == store_id, Customer.phone.is_(None))
    )
