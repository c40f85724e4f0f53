"""Coverage-guided fuzzing (atheris / libFuzzer) of the sans-I/O parsers.

Run by hand for a long campaign::

    python tests/reliability/fuzz_atheris.py -max_total_time=600 [corpus_dir]

``test_atheris.py`` runs it briefly (fixed seed) when atheris is installed. Each input is
split by the fuzzer into: which parser, chunk boundaries, and the body bytes. A crash is any
exception out of the parser API, or a row value that makes no physical sense.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from melious_impact.parse.body import JsonBody
    from melious_impact.parse.fields import Warnings
    from melious_impact.parse.sse import SSEParser

SEEDS = (
    b'{"id":"c1","model":"glm-4.7","usage":{"prompt_tokens":3,"completion_tokens":2},'
    b'"environment_impact":{"energy_kwh":0.001,"carbon_g_co2":0.2,"pue":1.2,"renewable_percent":40},'
    b'"billing_cost":{"energy":"0.144","credits":"0.0000144","paid_with":"credits"}}',
    b'data: {"id":"c1","choices":[{"delta":{"content":"hi"}}]}\n\n'
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},'
    b'"environment_impact":{"energy_kwh":0.001}}\n\ndata: [DONE]\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":5}}\n\n',
)


def check(out: dict[str, Any]) -> None:
    for name in ("energy_kwh", "carbon_g_co2", "water_liters"):
        v = out.get(name)
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise AssertionError(f"{name}={v!r}")
    for name in ("input_tokens", "output_tokens"):
        v = out.get(name)
        if v is not None and not (type(v) is int and v >= 0):
            raise AssertionError(f"{name}={v!r}")
    for name in ("billing_energy", "billing_credits"):
        v = out.get(name)
        if v is not None and not (isinstance(v, Decimal) and v.is_finite() and v >= 0):
            raise AssertionError(f"{name}={v!r}")


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    use_sse = fdp.ConsumeBool()
    cuts = sorted(fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 8), 0, 4096))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    pieces, start = [], 0
    for cut in cuts:
        if cut <= len(body):
            pieces.append(body[start:cut])
            start = cut
    pieces.append(body[start:])
    if use_sse:
        parser = SSEParser()
        for piece in pieces:
            parser.feed(piece)
        parser.close()
        if "sse_parser_error" in parser.warnings:
            raise AssertionError("SSE parser hit an internal error")
        check(parser.out)
    else:
        jb = JsonBody()
        for piece in pieces:
            jb.feed(piece)
        out: dict[str, Any] = {}
        jb.fields(out, Warnings())
        check(out)


def main(argv: list[str]) -> None:
    # An empty corpus folder gets the seeds: valid shapes to mutate from.
    folders = [Path(a) for a in argv[1:] if not a.startswith("-") and Path(a).is_dir()]
    for folder in folders:
        if not any(folder.iterdir()):
            for i, seed in enumerate(SEEDS):
                (folder / f"seed{i}").write_bytes(b"\x00\x00" + seed)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
