"""Journal framing: exact round trip, torn tails dropped, damage in the middle skipped."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import make_row

from melious_impact.records import COLUMN_NAMES
from melious_impact.store.codec import decode_segment, encode_row, header_record, to_micros


def _segment(n: int) -> tuple[bytes, list[bytes]]:
    recs = [encode_row(make_row(i)) for i in range(n)]
    return header_record() + b"".join(recs), recs


def test_round_trip_values() -> None:
    data, _ = _segment(3)
    d = decode_segment(data)
    assert d.names == COLUMN_NAMES and len(d.rows) == 3 and d.damaged_records == 0
    row = dict(zip(d.names, d.rows[1], strict=True))
    assert row["request_id"] == "t-1"
    assert row["billing_energy"] == "1.234567890123456789"  # exact text, never a float
    assert row["captured_at"] == to_micros(make_row(1)["captured_at"])


def test_torn_tail_is_dropped() -> None:
    data, recs = _segment(5)
    for cut in range(1, len(recs[-1])):
        d = decode_segment(data[:-cut])
        assert len(d.rows) == 4 and d.damaged_records == 1


def test_damage_in_the_middle_skips_only_that_record() -> None:
    data, recs = _segment(5)
    head = len(header_record())
    start = head + sum(map(len, recs[:2]))
    broken = bytearray(data)
    broken[start + 20] ^= 0xFF  # a payload byte of record 2: crc mismatch
    d = decode_segment(bytes(broken))
    assert [r[COLUMN_NAMES.index("request_id")] for r in d.rows] == ["t-0", "t-1", "t-3", "t-4"]
    assert d.damaged_records >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=2000))
def test_decoder_never_raises_on_garbage(garbage: bytes, pos: int) -> None:
    data, _ = _segment(3)
    pos = min(pos, len(data))
    d = decode_segment(data[:pos] + garbage + data[pos:])
    assert len(d.rows) <= 3 + garbage.count(b"\xa5M")
    for r in d.rows:
        assert len(r) == len(d.names)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(COLUMN_NAMES),
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(allow_nan=True),
            st.text(),
            st.booleans(),
            st.decimals(allow_nan=False, allow_infinity=False),
            st.binary(max_size=10),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_any_row_encodes_and_decodes(row: dict[str, object]) -> None:
    d = decode_segment(header_record() + encode_row(row))
    assert len(d.rows) == 1
    for v in d.rows[0]:
        assert v is None or type(v) in (str, int, float, bool)
    if isinstance(row.get("billing_credits"), Decimal):
        assert d.rows[0][COLUMN_NAMES.index("billing_credits")] == str(row["billing_credits"])


_ANY = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=8),
    st.booleans(),
    st.decimals(allow_nan=True),
    st.datetimes(),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_ANY, st.dictionaries(st.sampled_from(COLUMN_NAMES), _ANY)), min_size=1, max_size=5)
)
def test_conversion_never_raises_and_keeps_every_row(rows: list[tuple[object, dict[str, object]]]) -> None:
    """Whatever capture hands over, the background conversion yields one valid row per write."""
    from melious_impact.store.convert import schema, split_by_day, table_from_tuples

    data = header_record() + b"".join(encode_row({**r, "captured_at": ts}) for ts, r in rows)
    d = decode_segment(data)
    table = table_from_tuples(d.names, d.rows, record_id_seed="seed")
    assert table.num_rows == len(rows) and table.schema.equals(schema())
    assert sum(t.num_rows for t in split_by_day(table).values()) == len(rows)
    assert table.column("record_id").null_count == 0
    assert table.column("captured_at").null_count == 0  # every row has a partition
