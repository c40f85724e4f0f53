"""``melious-impact emulate``: run the Melious emulator as an HTTP server on loopback."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "emulate",
        help="Run a local Melious-compatible emulator (HTTP on 127.0.0.1).",
        description="Serve every Melious endpoint from a seeded emulator, for tests and demos. "
        "Point the OpenAI SDK at http://127.0.0.1:PORT/v1 and the Anthropic SDK at http://127.0.0.1:PORT.",
    )
    p.add_argument("--port", type=int, default=8089, help="TCP port (0 picks a free one; default 8089).")
    p.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1: loopback only).")
    p.add_argument("--seed", type=int, default=0, help="Random seed: same seed and requests, same responses.")
    p.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="Share of inference requests answered with an injected error (0-1).",
    )
    p.add_argument(
        "--unreported-rate",
        type=float,
        default=0.0,
        help="Share of successful responses without environment_impact/billing_cost (0-1).",
    )
    p.add_argument(
        "--stream-impact",
        default="final",
        choices=["final", "usage", "finish", "trailing", "none"],
        help="Which chat SSE chunk carries the impact and billing objects.",
    )
    p.add_argument(
        "--anthropic-impact",
        default="message_delta",
        choices=["message_delta", "message_stop", "none"],
        help="Which Anthropic SSE event carries the impact and billing objects.",
    )
    p.add_argument(
        "--paid-with",
        default="credits",
        choices=["credits", "energy"],
        help="Which balance billing_cost says was charged.",
    )
    p.add_argument(
        "--both-nonzero",
        action="store_true",
        help="Send both billing_cost.energy and .credits non-zero (as some real fixtures show).",
    )
    p.add_argument("--no-compression", action="store_true", help="Never compress response bodies.")
    p.add_argument(
        "--noise-sigma",
        type=float,
        default=0.02,
        help="Lognormal sigma of the per-request energy noise (0 for exact physics).",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from melious_impact.emulator import Emulator
    from melious_impact.emulator.server import make_server

    emu = Emulator(
        seed=args.seed,
        error_rate=args.error_rate,
        unreported_rate=args.unreported_rate,
        stream_impact=args.stream_impact,
        anthropic_impact=args.anthropic_impact,
        paid_with=args.paid_with,
        both_nonzero=args.both_nonzero,
        compression=not args.no_compression,
        noise_sigma=args.noise_sigma,
    )
    server = make_server(emu, args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(
        f"Melious emulator (seed {args.seed}) on http://{host}:{port}  (OpenAI base_url: http://{host}:{port}/v1)"
    )
    print("Simulated clock starts at", emu.clock.now().isoformat(), "- press Ctrl-C to stop.", flush=True)
    started = time.monotonic()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        print(f"stopped after {time.monotonic() - started:.0f} s")
    return 0
