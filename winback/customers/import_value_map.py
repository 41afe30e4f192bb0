"""A store's own words for the closed-list values of its files: customer type, gender, vehicle
grade, repair-order category. Saved per store (``ValueMapping``), edited on the import page and
through the API, audited, and tried before the built-in synonyms of ``import_values``.

A mapping line says which value a cell's text means (公车 = 单位用车); the value is checked
against the field's list when saved, so a mapping never makes an import fail later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.import_errors import RowProblem
from winback.customers.import_values import (
    VALUE_WORDS,
    cell_category,
    parse_customer_type,
    parse_gender,
    parse_grade,
    value_key,
)
from winback.customers.models import ValueMapping
from winback.errors import InvalidInput

# field -> how a mapping's target is read (the same reader as the file's cells).
_TARGET = {
    "gender": parse_gender,
    "customer_type": parse_customer_type,
    "grade": parse_grade,
    "category": cell_category,
}
FIELDS = tuple(VALUE_WORDS)


def get_value_mappings(*, session: Session, store_id: int) -> dict[str, dict[str, str]]:
    """field -> {the store's word: the value it means}, as saved (for the page and the API)."""
    return {
        row.field: dict(row.mapping or {})
        for row in session.scalars(select(ValueMapping).where(ValueMapping.store_id == store_id))
    }


def lookup_table(*, session: Session, store_id: int) -> dict[str, dict[str, str]]:
    """field -> {normalised word: target text}: what an import consults for each cell."""
    return {
        field: {value_key(word): target for word, target in mapping.items()}
        for field, mapping in get_value_mappings(session=session, store_id=store_id).items()
    }


def save_value_mapping(
    *, session: Session, store_id: int, field: str, mapping: dict[str, str], actor: Actor
) -> ValueMapping:
    """Replace the store's words for ``field``; every target must be a value of the field's list."""
    if field not in _TARGET:
        raise InvalidInput(
            "unknown field '{name}'; one of: {fields}", name=field, fields=", ".join(FIELDS), field="field"
        )
    clean: dict[str, str] = {}
    for word, target in mapping.items():
        word, target = str(word).strip(), str(target).strip()
        if not word and not target:
            continue
        if not word or not target:
            raise InvalidInput("write each line as your word = the value it means", field="mapping")
        if len(word) > 80:
            raise InvalidInput(
                "'{word}' is longer than {max} characters", word=word[:40], max=80, field="mapping"
            )
        try:
            _TARGET[field](target)
        except RowProblem:
            raise InvalidInput(
                "'{word}' cannot mean '{value}': not one of {values}",
                word=word,
                value=target,
                values="、".join(str(words[0]) for words in VALUE_WORDS[field].values()),
                field="mapping",
            ) from None
        clean[word] = target
    row = session.scalar(
        select(ValueMapping).where(ValueMapping.store_id == store_id, ValueMapping.field == field)
    )
    if row is None:
        row = ValueMapping(store_id=store_id, field=field, mapping={})
        session.add(row)
    before = dict(row.mapping or {})
    row.mapping = clean
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="import.value_mapping_saved",
        entity_type="store",
        entity_id=store_id,
        store_id=store_id,
        changes={"field": field, "before": before, "after": clean},
    )
    return row


def apply(table: dict[str, dict[str, str]], field: str, raw: Any) -> Any:
    """The store's value for a cell when it has a word for it, else the cell as it is."""
    words = table.get(field)
    if not words or raw is None:
        return raw
    return words.get(value_key(raw), raw)
