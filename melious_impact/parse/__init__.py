"""Sans-I/O parsing of Melious responses: bytes, events and headers in, row fields out.

Nothing in this package imports an HTTP library or touches files or sockets, so it can
be tested (and fuzzed) on plain bytes, and reused by any transport.

- :mod:`.fields`: tolerant numbers, exact decimals, rate-limit headers, model flavors.
- :mod:`.extract`: usage / environment_impact / billing_cost / error objects -> fields.
- :mod:`.body`: complete JSON bodies in bounded memory.
- :mod:`.sse`: incremental SSE parser (OpenAI and Anthropic shapes).
- :mod:`.decoding`: incremental Content-Encoding decoders.
- :mod:`.batch`: batch output JSONL -> rows.
- :mod:`.endpoints`: which requests are inference calls.
- :mod:`.request`: requested model and ``stream`` from a request body.
- :mod:`.headers`: impact/billing in response headers (tolerant fallback).
"""

from melious_impact.parse.batch import BatchParseResult, parse_batch_output, rows_from_batch_output
from melious_impact.parse.body import JsonBody
from melious_impact.parse.endpoints import Endpoint, Kind, classify
from melious_impact.parse.fields import Warnings
from melious_impact.parse.sse import SSEParser
from melious_impact.records import split_flavor

__all__ = [
    "BatchParseResult",
    "Endpoint",
    "JsonBody",
    "Kind",
    "SSEParser",
    "Warnings",
    "classify",
    "parse_batch_output",
    "rows_from_batch_output",
    "split_flavor",
]
