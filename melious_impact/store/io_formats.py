"""Import and export of the ``requests`` rows as Parquet, CSV or JSONL.

Imported rows without a ``dedup_key`` get one from a hash of their content (every column
but ``record_id`` and ``dedup_key``), so importing the same file twice stores it once.
Billing amounts stay exact on the way in and out: CSV and JSONL carry them as decimal text
(JSON numbers are parsed as ``Decimal``, never through float).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from melious_impact.errors import ParseError
from melious_impact.records import COLUMN_NAMES
from melious_impact.store.convert import conform, fill_record_ids, table_from_dicts
from melious_impact.store.query import quote_ident

FORMATS = ("parquet", "csv", "jsonl")
_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def detect_format(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
        return fmt
    fmt2 = _SUFFIXES.get(path.suffix.lower())
    if fmt2 is None:
        raise ValueError(
            f"cannot tell the format of {path.name!r} from its suffix; pass format= one of {FORMATS}"
        )
    return fmt2


def _read_jsonl(path: Path) -> pa.Table:
    rows = []
    with path.open("r", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise ParseError(f"{path.name}: line {n} is not JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise ParseError(f"{path.name}: line {n} is not a JSON object")
            rows.append(obj)
    has_ids = any(r.get("record_id") for r in rows)
    table = table_from_dicts(rows)
    if not has_ids:  # table_from_dicts filled them; make that visible to the caller
        return table.set_column(
            table.schema.get_field_index("record_id"), "record_id", pa.nulls(table.num_rows, pa.string())
        )
    return table


def _content_keys(table: pa.Table) -> pa.Table:
    """Fill missing dedup keys with 'import:' + md5 of the row's content (DuckDB, vectorised)."""
    if table.num_rows == 0 or table.column("dedup_key").null_count == 0:
        return table
    # Timestamps hashed as integers (cheaper than formatting them), the rest as text.
    parts = ", ".join(
        f"coalesce(CAST({'epoch_us(' + quote_ident(c) + ')' if c == 'captured_at' else quote_ident(c)}"
        " AS VARCHAR), '\\N')"
        for c in COLUMN_NAMES
        if c not in ("record_id", "dedup_key")
    )
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone='UTC'")
        con.register("_import", table)
        keys = (
            con.sql(
                f"SELECT coalesce(dedup_key, 'import:' || md5(concat_ws(chr(31), {parts}))) AS k FROM _import"
            )
            .to_arrow_table()
            .column(0)
        )
    finally:
        con.close()
    return table.set_column(table.schema.get_field_index("dedup_key"), "dedup_key", keys.cast(pa.string()))


def read_rows_file(path: Path, format: str | None = None) -> tuple[pa.Table, bool]:
    """(table on the requests schema, whether rows carried their own record ids)."""
    fmt = detect_format(path, format)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        if fmt == "parquet":
            raw = pq.read_table(path)
        elif fmt == "csv":
            # Every known column read as text, then converted exactly (decimals!) by conform().
            raw = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(COLUMN_NAMES, pa.string()), strings_can_be_null=True
                ),
            )
        else:
            raw = _read_jsonl(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read {path.name} as {fmt}: {exc}") from exc
    unknown = [c for c in raw.column_names if c not in COLUMN_NAMES and c != "date"]
    if raw.num_columns and len(unknown) == raw.num_columns:
        raise ParseError(f"{path.name} has none of the requests columns (found {unknown[:5]}...)")
    has_ids = "record_id" in raw.column_names and raw.column("record_id").null_count < raw.num_rows
    table = conform(raw)
    ids = table.column("record_id")
    if ids.null_count:
        table = table.set_column(
            table.schema.get_field_index("record_id"), "record_id", fill_record_ids(ids, None)
        )
    keyed = _content_keys(table)
    return pa.Table.from_arrays(keyed.columns, schema=table.schema), has_ids


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def write_rows_file(table: pa.Table, path: Path, format: str | None = None) -> None:
    fmt = detect_format(path, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        with path.open("w", encoding="utf-8") as fh:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in batch.to_pylist():
                    fh.write(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n")
