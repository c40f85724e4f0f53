"""Shared request/reply types of the emulator core (no HTTP library involved)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from melious_impact.emulator._wire import parse_multipart
from melious_impact.emulator.catalogue import ModelSpec, ProviderSpec


class ApiError(Exception):
    """An error response: a Melious code (``PREFIX_NNNN``) rendered in the chosen envelope."""

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or []


def bad_request(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError("VALIDATION_4001", 400, message, details)


def file_form(call: Call, missing: str) -> dict[str, tuple[str | None, bytes]]:
    """The multipart form of ``call``, which must hold a ``file`` field (else a 400 saying
    ``missing``); a body that is no multipart form is a 400 too."""
    try:
        form = parse_multipart(call.body, call.headers.get("content-type", ""))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if "file" not in form:
        raise bad_request(missing)
    return form


@dataclass
class Call:
    """One request as the core sees it, with its own seeded RNG and the simulated time."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    rng: np.random.Generator
    now: datetime
    seq: int
    default_flavor: str | None = None  # "batch" for batch lines

    def json(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise bad_request("The request body is not valid JSON") from None
        if not isinstance(obj, dict):
            raise bad_request("The request body must be a JSON object")
        return obj

    def new_id(self, prefix: str, nbytes: int = 12) -> str:
        return prefix + self.rng.bytes(nbytes).hex()

    @property
    def created(self) -> int:
        return int(self.now.timestamp())


@dataclass
class Reply:
    """What a handler returns: a JSON/binary body, or SSE events (already framed)."""

    status: int = 200
    body: bytes | None = None
    events: Iterable[bytes] | None = None
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Served:
    """Which model and provider serve a request, and the name echoed back."""

    model: ModelSpec
    provider: ProviderSpec
    flavor: str
    echo_name: str
