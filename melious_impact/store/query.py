"""DuckDB over the store: the ``requests`` view, and Arrow -> pandas with exact types.

The view reads a *snapshot* (one consistent listing, see :mod:`.catalog`) of the Parquet
files. Local files are scanned by DuckDB's own reader (parallel, with projection and
filter pushdown); object-store files through a ``pyarrow.dataset`` over the store's
file system, so no DuckDB extension has to be downloaded.

Rows sharing a non-null ``dedup_key`` (a batch line or an imported row seen twice) appear
once; rows without one (live captures, unique by ``record_id``) are not windowed at all, so
the deduplication costs nothing on a store of live captures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from melious_impact.records import COLUMNS, DECIMAL_PRECISION, DECIMAL_SCALE
from melious_impact.store.backend import Backend, DataFile
from melious_impact.store.convert import empty_table, schema

_DUCK_TYPES = {
    "timestamp": "TIMESTAMPTZ",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": f"DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def new_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # Timestamps come back in UTC whatever the machine's zone.
    con.execute("SET TimeZone='UTC'")
    # A library prints nothing: no progress bar on the caller's terminal during long queries.
    # In Jupyter without ipywidgets DuckDB refuses to change the setting (it renders no bar
    # there either), so a refusal is left alone.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar=false")
    return con


def _raw_relation(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[DataFile],
    backend: Backend,
    signature: Callable[[DataFile], str | None] | None = None,
) -> None:
    """Define ``_requests_raw`` over the files (or an empty table with the schema)."""
    if not files:
        con.register("_requests_raw", empty_table())
        return
    if backend.is_local:
        # Files with one schema are scanned as one group without union_by_name (which reads
        # every footer on every query); groups of different schemas (older versions) are
        # then unioned by name. Unknown schemas go in a union_by_name group of their own.
        groups: dict[str | None, list[str]] = {}
        for f in files:
            groups.setdefault(signature(f) if signature else None, []).append(backend.full_path(f.relpath))
        present: set[str] = set()
        names = []
        for n, (sig, group) in enumerate(groups.items()):
            rel = con.read_parquet(group, union_by_name=sig is None or len(group) == 1)
            present |= set(rel.columns)
            rel.create_view(f"_requests_files_{n}")
            names.append(f"_requests_files_{n}")
        con.execute(
            "CREATE OR REPLACE VIEW _requests_files AS "
            + " UNION ALL BY NAME ".join(f"SELECT * FROM {v}" for v in names)
        )
        source = "_requests_files"
    else:
        # An explicit schema makes older files (fewer columns) read with nulls.
        dataset = pads.dataset(
            [backend.full_path(f.relpath) for f in files],
            schema=schema(),
            format="parquet",
            filesystem=backend.filesystem,
        )
        con.register("_requests_files", dataset)
        present = set(schema().names)
        source = "_requests_files"
    cols = ", ".join(
        f"CAST({quote_ident(c.name)} AS {_DUCK_TYPES[c.kind]}) AS {quote_ident(c.name)}"
        if c.name in present
        else f"CAST(NULL AS {_DUCK_TYPES[c.kind]}) AS {quote_ident(c.name)}"
        for c in COLUMNS
    )
    con.execute(f"CREATE OR REPLACE VIEW _requests_raw AS SELECT {cols} FROM {source}")


def define_requests(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[DataFile],
    backend: Backend,
    signature: Callable[[DataFile], str | None] | None = None,
    may_have_keys: Callable[[DataFile], bool] | None = None,
    where: Sequence[str] = (),
) -> None:
    """(Re)define the ``requests`` view on ``con`` over ``files``.

    ``where``: SQL conditions (with their values written in: a view takes no parameters)
    that every row of the view meets, applied after deduplication, as a query over the
    unfiltered view would apply them (``Period.sql_literal`` gives a period's).
    """
    _raw_relation(con, files, backend, signature)
    view = "_requests_all" if where else "requests"
    if may_have_keys is not None and not any(may_have_keys(f) for f in files):
        # No file has a dedup_key (known from footer statistics): nothing to deduplicate.
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM _requests_raw")
    else:
        con.execute(
            f"""
            CREATE OR REPLACE VIEW {view} AS
            SELECT * FROM _requests_raw WHERE dedup_key IS NULL
            UNION ALL
            SELECT * FROM _requests_raw WHERE dedup_key IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY dedup_key ORDER BY captured_at, record_id) = 1
            """
        )
    if where:
        con.execute(f"CREATE OR REPLACE VIEW requests AS SELECT * FROM {view} WHERE {' AND '.join(where)}")


def _types_mapper(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    # Nullable integers and booleans stay integers and booleans (not float/object) in
    # pandas; decimals stay exact Decimal objects (pyarrow's default for decimal128).
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_types_mapper)
