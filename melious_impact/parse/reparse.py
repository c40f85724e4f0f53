"""Rows parsed again from their verbatim ``environment_impact`` and ``billing_cost`` texts.

When parsing improves, the columns of stored rows can be brought up to date from the
objects capture kept (:mod:`melious_impact.parse.verbatim`): :func:`reparse` gives, for
one row, the columns that change. ``melious-impact rebuild`` runs it over a store. With
an unchanged parser it changes nothing (the rows were parsed the same way), so running
it twice is running it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from melious_impact.parse.extract import apply_billing, apply_impact
from melious_impact.parse.fields import Warnings, loads
from melious_impact.parse.verbatim import VERBATIM_COLUMNS
from melious_impact.records import BILLING_COLUMNS, IMPACT_COLUMNS

#: Every column :func:`reparse` reads or sets.
REPARSED_COLUMNS = (*IMPACT_COLUMNS, *BILLING_COLUMNS, "parse_warnings", *VERBATIM_COLUMNS.values())


def _codes_of(columns: Iterable[str], extra: Iterable[str]) -> frozenset[str]:
    return frozenset({f"{p}_{c}" for c in columns for p in ("invalid", "rounded")} | set(extra))


#: Warning codes that parsing each object (or the store's bounds check of its columns) gives.
_IMPACT_CODES = _codes_of(
    IMPACT_COLUMNS, ("invalid_environment_impact", "unusable_environment_impact", "impact_from_headers")
)
_BILLING_CODES = _codes_of(BILLING_COLUMNS, ("invalid_billing_cost", "unusable_billing_cost"))


def reparse(row: dict[str, Any]) -> dict[str, Any]:
    """The impact and billing columns and ``parse_warnings`` of ``row`` parsed again from
    its verbatim objects; only what changes is returned (an empty dict: nothing to do).

    A column group is parsed again only when its text is there and the row does not say
    ``repeated_<key>``; impact a row took from headers stays when its text is unusable
    (capture lets a usable body block replace header values, nothing else).
    """
    old_codes = [c for c in (row.get("parse_warnings") or "").split(",") if c]
    drop: set[str] = set()
    new: dict[str, Any] = {}
    w = Warnings()
    groups = (
        ("environment_impact", IMPACT_COLUMNS, _IMPACT_CODES, apply_impact),
        ("billing_cost", BILLING_COLUMNS, _BILLING_CODES, apply_billing),
    )
    for key, columns, codes, apply in groups:
        text = row.get(VERBATIM_COLUMNS[key])
        if text is None or f"repeated_{key}" in old_codes:
            continue
        try:
            obj = loads(text)
        except (ValueError, RecursionError):
            continue  # not what capture kept: leave the row as it is
        out: dict[str, Any] = dict.fromkeys(columns)
        if key == "environment_impact":
            out["impact_reported"] = False
        if "impact_from_headers" in old_codes:
            # Values from headers stand unless the body block replaces them (as at capture).
            out.update({c: row.get(c) for c in columns})
            w.add("impact_from_headers")
        apply(out, obj, w)
        new.update(out)
        drop |= codes
    if not new:
        return {}
    warnings = Warnings(c for c in old_codes if c not in drop)
    for code in w:
        warnings.add(code)
    if set(warnings) != set(old_codes):  # the same codes keep their order
        new["parse_warnings"] = warnings.text()
    return {k: v for k, v in new.items() if not _same(row.get(k), v)}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if type(a) is not type(b) and isinstance(a, float | int) and isinstance(b, float | int):
        return bool(a == b)
    return bool(a == b) and str(a) == str(b)
