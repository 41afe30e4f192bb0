"""The randomized holdout (对照组): targets drawn at screening and deliberately not contacted.

Drawn per stratum (band x segment) so contacted and holdout look alike, with proportional
allocation by largest remainder so small strata still add up to the overall share. The draw is
reproducible: the random generator is seeded by the store and month, and the candidates are
taken in vehicle-id order, so screening the same archive again draws the same vehicles.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def stratum(row: dict[str, Any], segment_key: str) -> tuple[str, str]:
    band = row["band"]
    band = getattr(band, "value", band)
    return (str(band), str((row.get("profile") or {}).get(segment_key) or "-"))


def draw(
    rows: Iterable[dict[str, Any]], *, share_pct: float, seed: str, segment_key: str = "grade"
) -> set[int]:
    """Vehicle ids of the holdout among ``rows`` (dicts with vehicle_id, band, profile)."""
    rows = sorted(rows, key=lambda r: r["vehicle_id"])
    if share_pct <= 0 or not rows:
        return set()
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in rows:
        strata[stratum(r, segment_key)].append(r["vehicle_id"])
    keys = sorted(strata)
    total = round(len(rows) * share_pct / 100)
    quotas = {k: len(strata[k]) * share_pct / 100 for k in keys}
    alloc = {k: math.floor(q) for k, q in quotas.items()}
    # Largest remainder; ties broken at random (seeded), so no stratum is favoured by its name.
    order = sorted(keys, key=lambda k: (-(quotas[k] - alloc[k]), rng.random()))
    for k in order[: max(0, total - sum(alloc.values()))]:
        alloc[k] += 1
    chosen: set[int] = set()
    for k in keys:
        members = strata[k]
        chosen.update(rng.sample(members, min(alloc[k], len(members))))
    return chosen
