"""Where the small-chat capture overhead goes: the wrapped client with parts taken away.

Each variant runs in a fresh process against a bare client, interleaved, exactly like
``capture_overhead.py``'s small-chat case (same canned transport, same medians of
per-round ratios), so the rows of the table can be compared with one another:

- ``passthrough``: the recorder's transport passes every request through (no capture);
- ``no_row``: requests and response heads are read and the recording stream is in
  place, but nothing happens at the end of the body;
- ``no_record``: everything but the journal record (pruning and the facts tuple included);
- ``shipped``: the recorder as it ships, writing into a real ImpactStore;
- ``python_min``: the least a capturing stream can do (join, prune, facts tuple, marshal,
  CRC, one ``write(2)``; no tags, retry count or headers), in Python;
- ``c_min``: the same steps in C (``capture_floor.c``, compiled here with the system
  compiler when one and Python's headers are available);
- ``c_stream``: that C stream alone, doing nothing at the end.

    python benchmarks/capture_breakdown.py            # about two minutes
    python benchmarks/capture_breakdown.py --quick    # a few seconds per variant, noisier
"""

from __future__ import annotations

import argparse
import marshal
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from struct import Struct
from time import perf_counter
from typing import Any

HERE = Path(__file__).resolve().parent
VARIANTS = ("passthrough", "no_row", "no_record", "shipped", "python_min", "c_min", "c_stream")
_FRAME = Struct("<2sII")


def _build_c(tmp: Path) -> Path | None:
    """Compile capture_floor.c into ``tmp``; None when no compiler or headers are here."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    include = sysconfig.get_paths()["include"]
    if cc is None or not (Path(include) / "Python.h").exists():
        return None
    out = tmp / f"capture_floor{sysconfig.get_config_var('EXT_SUFFIX')}"
    cmd = [
        cc,
        "-O2",
        "-shared",
        "-fPIC",
        f"-I{include}",
        str(HERE / "capture_floor.c"),
        "-o",
        str(out),
        "-lz",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    return out if done.returncode == 0 else None


def _run_variant(variant: str, rounds: int, c_dir: str | None) -> float:
    sys.path.insert(0, str(HERE))
    import capture_overhead as co
    import httpx2
    from openai import OpenAI

    from melious_impact.capture.exchange import Exchange
    from melious_impact.capture.recorder import Recorder
    from melious_impact.parse.prune import prune_json
    from melious_impact.parse.request import model_and_stream
    from melious_impact.store.impact_store import ImpactStore

    canned = co.CannedTransport()
    common: dict[str, Any] = {"base_url": "http://bench.local/v1", "api_key": "sk-bench", "max_retries": 0}
    tmp = tempfile.mkdtemp(prefix="melious-breakdown-")
    fd = os.open(Path(tmp) / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    transport: Any
    if variant in ("python_min", "c_min", "c_stream"):
        stream_cls: Any
        if variant == "python_min":

            class MinimalStream(httpx2.SyncByteStream):
                def __init__(self, inner: Any, request: Any, response: Any, t0: float, fd: int) -> None:
                    self.inner, self.request, self.response = inner, request, response
                    self.t0, self.fd = t0, fd

                def __iter__(self) -> Iterator[bytes]:
                    parts, t_first = [], None
                    for chunk in self.inner:
                        if t_first is None:
                            t_first = perf_counter()
                        parts.append(chunk)
                        yield chunk
                    body = parts[0] if len(parts) == 1 else b"".join(parts)
                    model, stream = model_and_stream(self.request._content)
                    t_end = perf_counter()
                    facts = ("__facts__", 1, True, "", prune_json(body), time.time_ns() // 1000, 0,
                             "/v1/chat/completions", "POST", self.response.status_code, "chat", model, stream,
                             (t_end - self.t0) * 1e3, ((t_first or t_end) - self.t0) * 1e3, None, len(body),
                             None, None, "{}", False, None, None)  # fmt: skip
                    payload = marshal.dumps(facts, 2)
                    os.write(self.fd, _FRAME.pack(b"\xa5M", len(payload), zlib.crc32(payload)) + payload)

            stream_cls = MinimalStream
        else:
            sys.path.insert(0, str(c_dir))
            import capture_floor

            capture_floor.setup(prune_json, model_and_stream, variant == "c_min")
            stream_cls = type("FloorStream", (capture_floor.FloorStream, httpx2.SyncByteStream), {})

        class MinimalTransport(httpx2.BaseTransport):
            def handle_request(self, request: Any) -> Any:
                t0 = perf_counter()
                response = canned.handle_request(request)
                response.stream = stream_cls(response.stream, request, response, t0, fd)
                return response

        transport = MinimalTransport()
    else:
        if variant == "passthrough":
            Recorder._begin = lambda self, request: None  # type: ignore[method-assign]
        elif variant == "no_row":
            Exchange.finish = lambda self, eof: setattr(self, "finished", True)  # type: ignore[method-assign]
        elif variant == "no_record":
            Recorder._emit_facts = lambda self, writer, facts: None  # type: ignore[method-assign]
        rec = Recorder(ImpactStore(Path(tmp) / "store"))
        transport = rec.http_client(transport=canned)._transport
    bare = co.make_cases(OpenAI(http_client=httpx2.Client(transport=canned), **common))["chat"]
    wrapped = co.make_cases(OpenAI(http_client=httpx2.Client(transport=transport), **common))["chat"]
    return float(co.compare(bare, wrapped, 40, rounds)["ratio_cpu"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    ap.add_argument("--runs", type=int, default=2, help="fresh processes per variant (default 2)")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--c-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    rounds = 9 if args.quick else 31
    if args.variant:
        print(f"{_run_variant(args.variant, rounds, args.c_dir):.4f}")
        return 0
    with tempfile.TemporaryDirectory(prefix="melious-floor-") as tmp:
        built = _build_c(Path(tmp))
        print(
            f"small chat, wrapped/bare process-CPU ratio, {rounds} interleaved rounds, {args.runs} processes each"
        )
        print(f"{'variant':<14}{'ratios':>24}")
        for variant in VARIANTS:
            if variant.startswith("c_") and built is None:
                print(f"{variant:<14}{'skipped (no C compiler or Python headers)':>24}")
                continue
            ratios = []
            for _ in range(args.runs):
                cmd = [sys.executable, __file__, "--variant", variant, "--c-dir", tmp]
                cmd += ["--quick"] if args.quick else []
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                ratios.append(out.strip().splitlines()[-1])
            print(f"{variant:<14}{'  '.join(ratios):>24}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
