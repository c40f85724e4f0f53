"""A captured response as a compact record, and the row built from it.

Capture turns every response into one :data:`Record`, a tuple of plain values (what
``marshal`` writes): the exchange's context (times, status, tags, the headers a row reads)
and what the body gave. The store journals the record as it is, on the caller's thread,
and builds the row from it with :func:`row_of` when it converts the journal to Parquet,
in the background. A sink that only takes rows gets ``row_of(record)`` at once. Either
way one function builds every row.

What the body gave takes one of two forms:

- :data:`FORM_JSON`: a whole JSON body of an inference endpoint, kept as the compact
  JSON text of the top-level members a row reads (:func:`compact_json`: usage, ids,
  model, error code and type, ``environment_impact``, ``billing_cost``, each member's
  bytes as the server sent them). The body is parsed when the row is built, by the same
  :func:`~melious_impact.parse.body.apply_json` that parses any body. Prompts and
  completions are never in it: ``choices``, ``content``, ``data`` and the error message
  are left out.
- :data:`FORM_FIELDS`: body columns already parsed while the body passed: streams
  (parsed event by event), large bodies (read through windows), bodies that do not
  decode as one plain JSON object, and responses whose row depends on what the body holds
  (an unknown endpoint gives a row only when it carries our objects).

Nothing here does I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from melious_impact.parse.body import apply_json
from melious_impact.parse.endpoints import INPUT_ONLY, Kind
from melious_impact.parse.fields import Warnings
from melious_impact.parse.headers import apply_impact_headers, has_impact_header_names
from melious_impact.parse.row import ROW_TEMPLATE, RowContext, finish_row
from melious_impact.records import DECIMAL_COLUMNS

#: The kind of record this module builds rows from (the store journals it under this name).
RECORD_KIND = "exchange/1"

#: The body was kept as compact JSON, parsed when the row is built.
FORM_JSON = "json"
#: The body's columns were parsed as it passed.
FORM_FIELDS = "fields"

#: (captured_at as µs since the epoch, record_id, endpoint, method, status, kind, requested
#: model, sse, latency_ms, ttft_ms, attempt, response_bytes, team, project, tags, read_error,
#: headers, form, body, warnings, warnings_after, completed). ``headers``: the raw
#: (lowercased name -> value) bytes of the headers a row reads. ``body``: compact JSON bytes
#: (:data:`FORM_JSON`), a dict of columns (:data:`FORM_FIELDS`) or None. ``warnings``: the
#: codes known before the body is applied (every code, for :data:`FORM_FIELDS`);
#: ``warnings_after``: codes that follow the body's own (``body_incomplete``).
Record = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONTEXT_FIELDS = len(RowContext._fields)
assert RowContext._fields[0] == "captured_at" and RowContext._fields[-1] == "headers"
_INPUT_ONLY_VALUES = frozenset(k.value for k in INPUT_ONLY)


def plain_fields(part: dict[str, Any]) -> dict[str, Any]:
    """Body columns as plain values for the journal: exact decimals travel as their text."""
    for name in DECIMAL_COLUMNS:
        value = part.get(name)
        if isinstance(value, Decimal):
            part[name] = str(value)
    return part


def row_of(record: Record, *, plain: bool = False) -> dict[str, Any] | None:
    """The row of a record; None when the response gives no row (an unknown endpoint whose
    body carries none of our objects).

    ``plain``: the row as the journal's codec takes it (``captured_at`` as µs since the
    epoch, decimals parsed on the caller's thread as their exact text), which spares the
    store's conversion a round trip through ``datetime`` and ``Decimal``.
    """
    # The record starts with the row context's fields, in its order (headers raw, the time
    # as µs); then what the body gave.
    ctx = RowContext._make(record[:_CONTEXT_FIELDS])
    form, body, warnings, after, completed = record[_CONTEXT_FIELDS:]
    captured_us: int = record[0]
    raw_headers: dict[bytes, bytes] = record[_CONTEXT_FIELDS - 1]
    w = Warnings(warnings)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers.items()}
    try:
        row = _body_columns(form, body, raw_headers, headers, ctx.kind, w, plain)
    except Exception:  # a parser bug: keep the row, say why it is thin
        row = ROW_TEMPLATE.copy()
        w.add("parse_error")
    for code in after:
        w.add(code)
    ctx = ctx._replace(
        captured_at=captured_us if plain else _EPOCH + timedelta(microseconds=captured_us), headers=headers
    )
    return finish_row(row, ctx, w, completed)


def _body_columns(
    form: str | None,
    body: Any,
    raw_headers: dict[bytes, bytes],
    headers: dict[str, str],
    kind: str,
    w: Warnings,
    plain: bool,
) -> dict[str, Any]:
    row = ROW_TEMPLATE.copy()
    if form == FORM_FIELDS:
        row.update(body)
        if plain:
            return row
        for name in DECIMAL_COLUMNS:
            value = row[name]
            if type(value) is str:
                row[name] = Decimal(value)
        return row
    if raw_headers and has_impact_header_names(raw_headers):
        apply_impact_headers(row, headers, w)
    if form == FORM_JSON:
        apply_json(body, row, w, input_only=kind in _INPUT_ONLY_VALUES, verbatim=True)
    return row


def journal_row_of(record: Record) -> dict[str, Any] | None:
    """:func:`row_of` as the store's journal conversion takes it (``plain``)."""
    return row_of(record, plain=True)


# -- compact JSON ---------------------------------------------------------------------------


class _Error(msgspec.Struct):
    """An error object's code and type, raw; its message (which may echo a prompt) is skipped."""

    code: msgspec.Raw = msgspec.Raw(b"")
    type: msgspec.Raw = msgspec.Raw(b"")


class _Members(msgspec.Struct, rename={"object_": "object", "type_": "type"}):
    """The top-level members a row reads, raw; every other member is skipped undecoded."""

    id: msgspec.Raw = msgspec.Raw(b"")
    model: msgspec.Raw = msgspec.Raw(b"")
    object_: msgspec.Raw = msgspec.Raw(b"")
    type_: msgspec.Raw = msgspec.Raw(b"")
    usage: msgspec.Raw = msgspec.Raw(b"")
    meta: msgspec.Raw = msgspec.Raw(b"")
    error: msgspec.Raw = msgspec.Raw(b"")
    environment_impact: msgspec.Raw = msgspec.Raw(b"")
    billing_cost: msgspec.Raw = msgspec.Raw(b"")
    choices: msgspec.Raw = msgspec.Raw(b"")


_decode_members = msgspec.json.Decoder(_Members).decode
_decode_error = msgspec.json.Decoder(_Error).decode
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
# A member whose value is only tested for presence ("choices" tells the OpenAI shape apart).
_PRESENT = b"0"
_KEYS = (b'"id":', b'"model":', b'"object":', b'"type":', b'"usage":', b'"meta":')
_NESTED_KEYS = (b'"environment_impact"', b'"billing_cost"')


def compact_json(data: bytes) -> bytes | None:
    """The compact JSON of a body (see the module doc), or None when the body is not one
    plain JSON object whose objects sit at the top level: the caller then parses it whole.

    Parsing the compact text gives the row the whole body gives: each member kept is the
    server's own bytes, and the members left out are ones no column reads.
    """
    try:
        m = _decode_members(data)
    except _DECODE_ERRORS:
        return None  # not JSON, not an object, NaN, a byte order mark...: parsed whole
    impact, billing = m.environment_impact, m.billing_cost
    if (not impact and _NESTED_KEYS[0] in data) or (not billing and _NESTED_KEYS[1] in data):
        return None  # an object may sit deeper (the whole-body parse searches nested objects)
    members = (m.id, m.model, m.object_, m.type_, m.usage, m.meta)
    parts = [key + raw for key, raw in zip(_KEYS, members, strict=True) if raw]
    if m.error:
        parts.append(b'"error":' + _error_member(bytes(m.error)))
    if m.choices:
        parts.append(b'"choices":' + _PRESENT)
    if impact:
        parts.append(b'"environment_impact":' + impact)
    if billing:
        parts.append(b'"billing_cost":' + billing)
    return b"{" + b",".join(parts) + b"}"


def _error_member(raw: bytes) -> bytes:
    """An error member without its message: its code and type when it is an object."""
    if raw[:1] != b"{":
        # null stays null; a bare message (a string) is only known to be there.
        return raw if raw == b"null" else _PRESENT
    try:
        err = _decode_error(raw)
    except _DECODE_ERRORS:
        return b"{}"
    members = []
    if err.code:
        members.append(b'"code":' + err.code)
    if err.type:
        members.append(b'"type":' + err.type)
    return b"{" + b",".join(members) + b"}"


def is_compactable(kind: Kind) -> bool:
    """Whether a JSON body of this kind may be kept compact: not an unknown endpoint, whose
    row depends on what its body holds, nor a batch file."""
    return kind is not Kind.OTHER and kind is not Kind.BATCH_OUTPUT
