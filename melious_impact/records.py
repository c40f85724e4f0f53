"""The row: one captured inference response, as stored in the ``requests`` table.

This module is the data contract shared by every other part of the package.
Capture produces rows (plain ``dict``s keyed by :data:`COLUMN_NAMES`), the store
writes them with :func:`arrow_schema`, and model, forecast, charts and reports
read frames with these columns.

Units live in the names (``energy_kwh``, ``carbon_g_co2``, ``water_liters``),
keeping the Melious API's own field names for what it reports. Money is kept as
exact decimals (``decimal.Decimal`` in Python, ``decimal128(38, 18)`` in Arrow and
``DECIMAL(38,18)`` in DuckDB), never floats.

Nothing here imports an HTTP library or does I/O; ``pyarrow`` is imported only
when a schema is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: Bumped whenever a column is added, removed or changes meaning. Stored on every row.
#: Version 2 added ``environment_impact_json`` and ``billing_cost_json``; files written
#: before read them as null (readers cast every file onto the current schema).
SCHEMA_VERSION = 2

#: Exact decimal type used for billing amounts: 38 digits, 18 after the point.
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18
_MONEY_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)


@dataclass(frozen=True)
class Column:
    """One column of the ``requests`` table.

    ``default``: its value in a fresh row (:func:`empty_row`). ``never_null``: a stored
    row that leaves it out is given ``default``. ``bounds``: the physical range
    (inclusive; ``None`` for no upper bound) outside which a value is no measurement
    and is stored as null with ``invalid_<name>`` in ``parse_warnings``.
    """

    name: str
    kind: str  # one of: timestamp, string, bool, int, float, decimal
    unit: str  # "" where the column has no unit
    doc: str
    contract: bool = True  # False for columns beyond the original public contract
    default: Any = None
    never_null: bool = False
    bounds: tuple[float, float | None] | None = None


_NON_NEGATIVE: tuple[float, float | None] = (0, None)


COLUMNS: tuple[Column, ...] = (
    Column("captured_at", "timestamp", "UTC", "When the response finished (UTC, microseconds)."),
    Column("endpoint", "string", "", "Request path, e.g. /v1/chat/completions."),
    Column("status_code", "int", "", "HTTP status code of the response."),
    Column("request_id", "string", "", "The response's own id (body `id`, or a request-id header)."),
    Column("model", "string", "", "Model as reported by the response, else as requested."),
    Column("stream", "bool", "", "True when the response was a server-sent event stream.", default=False),
    Column(
        "input_tokens",
        "int",
        "tokens",
        "Prompt / input tokens reported by the usage block.",
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "output_tokens",
        "int",
        "tokens",
        "Completion / output tokens reported by the usage block.",
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "energy_kwh",
        "float",
        "kWh",
        "environment_impact.energy_kwh as reported (PUE included).",
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "carbon_g_co2",
        "float",
        "g CO2e",
        "environment_impact.carbon_g_co2 as reported.",
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "water_liters", "float", "L", "environment_impact.water_liters as reported.", bounds=_NON_NEGATIVE
    ),
    Column(
        "renewable_percent", "float", "%", "environment_impact.renewable_percent (0-100).", bounds=(0, 100)
    ),
    Column("pue", "float", "ratio", "environment_impact.pue (>= 1).", bounds=(1, None)),
    Column("provider_id", "string", "", "environment_impact.provider_id, e.g. ovhcloud."),
    Column("location", "string", "", "environment_impact.location, ISO-3166 country (as sent)."),
    Column(
        "impact_reported",
        "bool",
        "",
        "False where the response carried no usable environment_impact.",
        default=False,
    ),
    Column(
        "billing_energy",
        "decimal",
        "energy units",
        "billing_cost.energy, exact decimal as sent.",
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "billing_credits",
        "decimal",
        "EUR",
        "billing_cost.credits, exact decimal as sent (credits are euros).",
        bounds=_NON_NEGATIVE,
    ),
    Column("billing_paid_with", "string", "", "billing_cost.paid_with: energy or credits."),
    Column("error_code", "string", "", "Melious code (e.g. INFERENCE_3207) or OpenAI/Anthropic-style code."),
    Column(
        "latency_ms",
        "float",
        "ms",
        "From request sent to the last body byte (or stream close).",
        bounds=_NON_NEGATIVE,
    ),
    Column("team", "string", "", "Tag `team`."),
    Column("project", "string", "", "Tag `project`."),
    Column(
        "tags",
        "string",
        "",
        "The remaining tags as a JSON object with sorted keys (never null: '{}').",
        default="{}",
        never_null=True,
    ),
    Column(
        "source",
        "string",
        "",
        "live (captured from a response), batch (a batch output line) or import.",
        default="live",
        never_null=True,
    ),
    Column("custom_id", "string", "", "custom_id of a batch line."),
    # Beyond the original contract: welcome extras.
    Column(
        "record_id", "string", "", "Unique id of this row (uuid4 hex); live rows are unique by it.", False
    ),
    Column(
        "dedup_key",
        "string",
        "",
        "Stable key for batch/imported lines: the same line seen twice counts once.",
        False,
    ),
    Column(
        "requested_model", "string", "", "Model string sent in the request, flavor suffix included.", False
    ),
    Column(
        "flavor",
        "string",
        "",
        "Routing flavor from the model suffix (balanced, speed, price, eco, batch).",
        False,
    ),
    Column("method", "string", "", "HTTP method.", False),
    Column("api_shape", "string", "", "openai, anthropic or other: which response family was parsed.", False),
    Column(
        "cached_tokens",
        "int",
        "tokens",
        "Prompt tokens served from cache, where reported.",
        False,
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "reasoning_tokens",
        "int",
        "tokens",
        "Reasoning tokens inside output_tokens, where reported.",
        False,
        bounds=_NON_NEGATIVE,
    ),
    Column("error_type", "string", "", "error.type where the envelope has one.", False),
    Column("ttft_ms", "float", "ms", "Time to the first body byte.", False, bounds=_NON_NEGATIVE),
    Column(
        "attempt", "int", "", "Retry number the SDK sent (x-stainless-retry-count), 0 for a first try.", False
    ),
    Column(
        "ratelimit_limit_requests",
        "int",
        "requests",
        "Rate-limit ceiling header, either header family.",
        False,
    ),
    Column("ratelimit_remaining_requests", "int", "requests", "Rate-limit remaining header.", False),
    Column(
        "response_bytes",
        "int",
        "bytes",
        "Body bytes received (as sent on the wire, before decoding).",
        False,
        bounds=_NON_NEGATIVE,
    ),
    Column(
        "stream_completed", "bool", "", "False where a stream was abandoned or cut before its end.", False
    ),
    Column(
        "parse_warnings",
        "string",
        "",
        "Comma-separated codes of what could not be parsed (never null: '').",
        False,
        default="",
        never_null=True,
    ),
    Column("batch_id", "string", "", "Batch or output-file id a batch line came from.", False),
    Column(
        "schema_version",
        "int",
        "",
        "SCHEMA_VERSION of the writer.",
        False,
        default=SCHEMA_VERSION,
        never_null=True,
    ),
    Column(
        "environment_impact_json",
        "string",
        "",
        "The environment_impact object as the response sent it (JSON text, verbatim), usable or not; "
        "null where none came in the body. The impact columns are parsed from it, and "
        "`melious-impact rebuild` parses them again.",
        False,
    ),
    Column(
        "billing_cost_json",
        "string",
        "",
        "The billing_cost object as the response sent it (JSON text, verbatim); null where none came "
        "in the body. The billing columns are parsed from it.",
        False,
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
CONTRACT_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.contract)
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: The columns parsed from the ``environment_impact`` object (``impact_reported`` says whether it was usable).
IMPACT_COLUMNS: tuple[str, ...] = (
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "renewable_percent",
    "pue",
    "provider_id",
    "location",
    "impact_reported",
)
#: The columns parsed from the ``billing_cost`` object.
BILLING_COLUMNS: tuple[str, ...] = ("billing_energy", "billing_credits", "billing_paid_with")
DECIMAL_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "decimal")

#: Each column's value in a fresh row (``Column.default``).
ROW_DEFAULTS: dict[str, Any] = {c.name: c.default for c in COLUMNS}
#: Values given to never-null columns a stored row leaves out (``Column.never_null``).
NEVER_NULL: dict[str, Any] = {c.name: c.default for c in COLUMNS if c.never_null}
#: Physical bounds of the numeric columns (``Column.bounds``).
PHYSICAL_BOUNDS: dict[str, tuple[float, float | None]] = {c.name: c.bounds for c in COLUMNS if c.bounds}


#: The routing flavors a model id may carry as its last ``:segment``.
FLAVORS = frozenset({"balanced", "speed", "price", "eco", "batch"})


@overload
def split_flavor(model: str) -> tuple[str, str | None]: ...
@overload
def split_flavor(model: None) -> tuple[None, None]: ...
def split_flavor(model: str | None) -> tuple[str | None, str | None]:
    """``"glm-4.7:eco"`` -> ``("glm-4.7", "eco")``; only the five documented flavors count.

    Only the last ``:segment`` is considered, as the Melious router does; any other
    colon stays part of the model id.
    """
    if not model:
        return model, None
    base, sep, suffix = model.rpartition(":")
    if sep and base and suffix.lower() in FLAVORS:
        return base, suffix.lower()
    return model, None


def empty_row() -> dict[str, Any]:
    """A row with every column present, each at its default (``None`` for most)."""
    return ROW_DEFAULTS.copy()


def arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "timestamp": pa.timestamp("us", tz="UTC"),
        "string": pa.string(),
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
    }[kind]


def arrow_schema() -> pa.Schema:
    """The Arrow schema of the ``requests`` table, with units in field metadata."""
    import pyarrow as pa

    fields = [
        pa.field(c.name, arrow_type(c.kind), nullable=True, metadata={"unit": c.unit, "doc": c.doc})
        for c in COLUMNS
    ]
    return pa.schema(fields, metadata={"melious_impact.schema_version": str(SCHEMA_VERSION)})


def quantize_money(value: Decimal) -> Decimal:
    """Round a decimal to the stored scale (18 places); ``ValueError`` if it cannot fit 38 digits."""
    if not value.is_finite():
        raise ValueError(f"billing amount {value!r} is not a finite decimal")
    # The default context holds 28 digits: quantizing a 20-integer-digit amount to 18 places
    # needs 38, and would raise InvalidOperation instead of the ValueError callers expect.
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PRECISION + 2
        try:
            q = value.quantize(_MONEY_QUANTUM)
        except InvalidOperation as exc:
            raise ValueError(f"billing amount {value!r} is not a finite decimal") from exc
    if len(q.as_tuple().digits) > DECIMAL_PRECISION:
        raise ValueError(f"billing amount {value} does not fit DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})")
    return q
