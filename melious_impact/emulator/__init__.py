"""A Melious-compatible emulator: seeded, deterministic, with simulated time.

- :class:`Emulator` serves every documented endpoint and shape (JSON and SSE, both API
  families, errors at chosen rates, files and batches, compression, rate-limit headers).
- :func:`transport` / :func:`make_transport` plug it into httpx2 or httpx 0.28 in-process;
  :func:`serve` runs it as a real HTTP server on loopback (``melious-impact emulate``).
- :mod:`.catalogue` and :mod:`.physics` hold the truth tables and the documented physics;
  :func:`simulate_requests` generates rows straight from them (no HTTP) for validation.
"""

from __future__ import annotations

from typing import Any

from melious_impact.emulator.catalogue import CATALOGUE_VERSION
from melious_impact.emulator.clock import SimClock
from melious_impact.emulator.config import EmulatorConfig
from melious_impact.emulator.core import Emulator
from melious_impact.emulator.server import serve
from melious_impact.emulator.transport import make_transport

__all__ = [
    "CATALOGUE_VERSION",
    "Emulator",
    "EmulatorConfig",
    "SimClock",
    "make_transport",
    "serve",
    "simulate_requests",
    "transport",
]


def transport(
    emulator: Emulator | None = None,
    *,
    lib: str = "httpx2",
    asynchronous: bool = False,
    **emulator_options: Any,
) -> Any:
    """An in-process transport for ``lib`` ("httpx2" or "httpx"), sync or async.

    ``emulator_options`` (seed=, clock=, error_rate=, ...) build an Emulator when none is given;
    the emulator is reachable as ``transport.emulator``.
    """
    emu = emulator or Emulator(**emulator_options)
    return make_transport(emu, lib, asynchronous=asynchronous)


def __getattr__(name: str) -> Any:
    if name == "simulate_requests":  # pandas-heavy: imported on first use
        from melious_impact.emulator.simulate import simulate_requests

        return simulate_requests
    raise AttributeError(f"module 'melious_impact.emulator' has no attribute {name!r}")
