"""The emulator core: (method, path, headers, body) in, (status, headers, body chunks) out.

Every adapter (the in-process httpx/httpx2 transports and the loopback HTTP server) is a
thin shell around :meth:`Emulator.handle`. The core is seeded and deterministic: request
number ``k`` draws from ``numpy.random.default_rng([seed, k])``; time comes from a
:class:`~melious_impact.emulator.clock.SimClock` the caller advances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from melious_impact.emulator import _batches, _chat, _inference, _messages, _models, physics
from melious_impact.emulator._api import ApiError, Call, Reply, Served
from melious_impact.emulator._wire import choose_encoding, compress_body, compress_stream, dumps
from melious_impact.emulator.catalogue import MODELS, model, resolve_claude
from melious_impact.emulator.clock import SimClock
from melious_impact.emulator.config import MELIOUS_ERRORS, OPENAI_STYLE, EmulatorConfig
from melious_impact.records import split_flavor

log = logging.getLogger("melious_impact.emulator")

Handler = Callable[["Emulator", Call], Reply]

#: (method, path) -> handler for fixed paths; inference endpoints are marked for error injection.
_ROUTES: dict[tuple[str, str], tuple[Handler, bool]] = {
    ("POST", "/v1/chat/completions"): (_chat.chat_completions, True),
    ("POST", "/v1/messages"): (_messages.messages, True),
    ("POST", "/v1/messages/count_tokens"): (_messages.count_tokens, False),
    ("POST", "/v1/embeddings"): (_inference.embeddings, True),
    ("POST", "/v1/rerank"): (_inference.rerank, True),
    ("POST", "/v1/images/generations"): (_inference.images, True),
    ("POST", "/v1/audio/speech"): (_inference.speech, True),
    ("POST", "/v1/audio/transcriptions"): (_inference.transcriptions, True),
    ("GET", "/v1/models"): (_models.list_models, False),
    ("POST", "/v1/files"): (_batches.upload_file, False),
    ("GET", "/v1/files"): (_batches.list_files, False),
    ("POST", "/v1/batches"): (_batches.create_batch, False),
    ("GET", "/v1/batches"): (_batches.list_batches, False),
}


def _dynamic_route(method: str, path: str) -> Handler | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "v1":
        kind, rest = parts[1], parts[2:]
        if kind == "models" and method == "GET":
            return _models.get_model
        if kind == "files" and len(rest) == 1 and method in ("GET", "DELETE"):
            return _batches.get_file if method == "GET" else _batches.delete_file
        if kind == "files" and len(rest) == 2 and rest[1] == "content" and method == "GET":
            return _batches.file_content
        if kind == "batches" and len(rest) == 1 and method == "GET":
            return _batches.get_batch
        if kind == "batches" and len(rest) == 2 and rest[1] == "cancel" and method == "POST":
            return _batches.cancel_batch
    return None


@dataclass
class EmulatedResponse:
    status: int
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes]
    stream: bool


class Emulator:
    """A seeded, in-memory Melious: serves every documented endpoint and shape.

    >>> emu = Emulator(seed=0)
    >>> resp = emu.handle("GET", "/v1/models", {}, b"")
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        seed: int | None = None,
        clock: SimClock | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = EmulatorConfig(seed=0 if seed is None else seed, **options)
        elif seed is not None or options:
            raise TypeError("pass either config= or seed=/options, not both")
        self.config = config
        self.clock = clock or SimClock()
        self._seq = 0
        self._lock = threading.Lock()
        self._minute: tuple[int, int] = (-1, 0)  # (simulated minute, requests in it)
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    # ---- adapters call this -------------------------------------------------------------
    def handle(
        self, method: str, url: str, headers: Mapping[str, str] | list[tuple[str, str]], body: bytes
    ) -> EmulatedResponse:
        """Serve one request. ``url`` may be a path with query or a full URL."""
        split = urlsplit(url)
        path = split.path
        # The OpenAI SDK is pointed at .../v1 and the Anthropic SDK at the root: both end up
        # at /v1/...; tolerate a doubled prefix from a base URL that already had /v1.
        if path.startswith("/v1/v1/"):
            path = path[3:]
        items = headers.items() if isinstance(headers, Mapping) else headers
        hdrs = {k.lower(): v for k, v in items}
        with self._lock:
            seq = self._seq
            self._seq += 1
            remaining, reset = self._count_minute()
        call = Call(
            method.upper(),
            path,
            dict(parse_qsl(split.query)),
            hdrs,
            body,
            np.random.default_rng([self.config.seed, seq]),
            self.clock.now(),
            seq,
        )
        request_id = "req_" + np.random.default_rng([self.config.seed, seq, 7]).bytes(12).hex()
        try:
            reply = self._dispatch(call, remaining)
        except ApiError as err:
            reply = self.error_reply(err, call)
        except Exception:  # a bug in the emulator: answer like a server would, and log it
            log.exception("emulator: internal error on %s %s", method, path)
            reply = self.error_reply(ApiError("SYSTEM_9001", 500, "Internal emulator error"), call)
        extra = [("x-request-id", request_id), *self._ratelimit_headers(remaining, reset)]
        return self._encode(reply, call, extra)

    # ---- dispatch -------------------------------------------------------------------------
    def _dispatch(self, call: Call, remaining: int) -> Reply:
        entry = _ROUTES.get((call.method, call.path))
        handler: Handler | None
        if entry is not None:
            handler, inference = entry
        else:
            handler, inference = _dynamic_route(call.method, call.path), False
        if handler is None:
            raise ApiError("RESOURCE_5004", 404, f"No route for {call.method} {call.path}")
        self._authenticate(call)
        if inference:
            self._maybe_inject(call, remaining)
        return handler(self, call)

    def run_inline(self, call: Call) -> Reply:
        """Serve a batch line: same handlers, errors rendered as replies."""
        entry = _ROUTES.get(("POST", call.path))
        if entry is None or not entry[1]:
            return self.error_reply(
                ApiError("VALIDATION_4001", 400, f"Unsupported batch url {call.path}"), call
            )
        try:
            self._maybe_inject(call, remaining=1)
            return entry[0](self, call)
        except ApiError as err:
            return self.error_reply(err, call)

    def _authenticate(self, call: Call) -> None:
        if not self.config.require_auth:
            return
        auth = call.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else call.headers.get("x-api-key", "")
        if not key:
            raise ApiError("AUTH_1007", 401, MELIOUS_ERRORS["AUTH_1007"][1])
        if key.startswith("invalid") or key.startswith("sk-invalid"):
            raise ApiError("AUTH_1008", 401, MELIOUS_ERRORS["AUTH_1008"][1])

    def _maybe_inject(self, call: Call, remaining: int) -> None:
        forced = call.headers.get("x-emulator-error")
        code = None
        if forced:
            code = forced if forced in MELIOUS_ERRORS else "INFERENCE_3103"
        elif self.config.enforce_rate_limit and remaining <= 0:
            code = "AUTH_1028"
        elif self.config.error_rate > 0 and call.rng.random() < self.config.error_rate:
            codes = list(self.config.error_weights)
            w = np.array([self.config.error_weights[c] for c in codes], dtype=float)
            code = codes[int(call.rng.choice(len(codes), p=w / w.sum()))]
        if code is None:
            return
        status, message = MELIOUS_ERRORS[code]
        details: dict[str, Any] | None = None
        headers: list[tuple[str, str]] = []
        if code == "AUTH_1028":
            headers.append(("retry-after", str(self.config.retry_after_seconds)))
        if code == "INFERENCE_3207":
            details = {"context_length": 131072, "input_tokens": 131072 + int(call.rng.integers(1, 40000))}
        raise ApiError(code, status, message, details, headers=headers)

    # ---- helpers for handlers ---------------------------------------------------------------
    def serve(
        self,
        call: Call,
        requested: Any,
        default_flavor: str = "balanced",
        kinds: tuple[str, ...] | None = None,
    ) -> Served:
        """Resolve the requested model name (flavor suffix, claude-* mapping) and route it."""
        if not isinstance(requested, str) or not requested:
            raise ApiError("VALIDATION_4002", 400, "Field 'model' is required")
        base, flavor = split_flavor(requested)
        mapped = resolve_claude(base)
        model_id = mapped or base
        if model_id not in MODELS or (kinds is not None and MODELS[model_id].kind not in kinds):
            raise ApiError("INFERENCE_3001", 404, f"Model '{requested}' not found", {"model": requested})
        chosen = flavor or call.default_flavor or default_flavor
        provider = physics.route(model_id, chosen, call.now, call.rng)
        # The response echoes a claude-* name as requested (as the Melious API documents); other names
        # come back without the flavor suffix.
        return Served(model(model_id), provider, chosen, base if mapped else model_id)

    def impact_fields(
        self, call: Call, served: Served, input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        """environment_impact + billing_cost for a successful response ({} when unreported)."""
        cfg = self.config
        if call.headers.get("x-emulator-impact") == "omit" or (
            cfg.unreported_rate > 0 and call.rng.random() < cfg.unreported_rate
        ):
            return {}
        noise = physics.noise_factor(call.rng, cfg.noise_sigma)
        imp = physics.impact(input_tokens, output_tokens, served.model, served.provider, call.now, noise)
        bill = physics.billing(input_tokens, output_tokens, served.model, served.provider, cfg.paid_with)
        return {
            "environment_impact": imp.to_json(),
            "billing_cost": bill.to_json(both_nonzero=cfg.both_nonzero),
        }

    def error_reply(self, err: ApiError, call: Call) -> Reply:
        """Render an error in the Melious envelope, or (a seeded share) an OpenAI/Anthropic one."""
        style = call.headers.get("x-emulator-error-style")
        if style is None and err.code in OPENAI_STYLE and self.config.openai_style_error_share > 0:
            draw = np.random.default_rng([self.config.seed, call.seq, 11]).random()
            style = "openai" if draw < self.config.openai_style_error_share else "melious"
        body: dict[str, Any]
        if style == "openai" and err.code in OPENAI_STYLE:
            etype, ecode = OPENAI_STYLE[err.code]
            if call.path.startswith("/v1/messages"):
                body = {"type": "error", "error": {"type": etype, "message": err.message}}
            else:
                body = {"error": {"message": err.message, "type": etype, "param": None, "code": ecode}}
        else:
            inner: dict[str, Any] = {"code": err.code, "message": err.message}
            if err.details:
                inner["details"] = err.details
            body = {"error": inner}
        return Reply(status=err.status, body=dumps(body), headers=list(err.headers))

    # ---- rate limits and encodings --------------------------------------------------------
    def _count_minute(self) -> tuple[int, int]:
        now = self.clock.now()
        minute = int(now.timestamp() // 60)
        current, count = self._minute
        count = count + 1 if current == minute else 1
        self._minute = (minute, count)
        reset = 60 - int(now.timestamp()) % 60
        return self.config.rate_limit_requests - count, reset

    def _ratelimit_headers(self, remaining: int, reset: int) -> list[tuple[str, str]]:
        limit = str(self.config.rate_limit_requests)
        rem = str(max(0, remaining))
        out: list[tuple[str, str]] = []
        if self.config.ratelimit_headers in ("documented", "both"):
            out += [
                ("X-RateLimit-Limit-Requests", limit),
                ("X-RateLimit-Remaining-Requests", rem),
                ("X-RateLimit-Reset-Requests", str(reset)),
            ]
        if self.config.ratelimit_headers in ("lowercase", "both"):
            epoch = int(self.clock.now().timestamp()) + reset  # agentix saw an epoch here
            out += [
                ("x-ratelimit-limit", limit),
                ("x-ratelimit-remaining", rem),
                ("x-ratelimit-reset", str(epoch)),
            ]
        return out

    def _encode(self, reply: Reply, call: Call, extra: list[tuple[str, str]]) -> EmulatedResponse:
        headers = [("content-type", reply.content_type), *reply.headers, *extra]
        encoding = None
        if self.config.compression:
            encoding = choose_encoding(call.headers.get("accept-encoding"), self.config.encodings)
        if reply.events is not None:
            headers += [("cache-control", "no-cache")]
            events = iter(reply.events)
            if encoding:
                headers.append(("content-encoding", encoding))
                events = compress_stream(events, encoding)
            return EmulatedResponse(reply.status, headers, events, True)
        body = reply.body or b""
        if encoding and len(body) >= self.config.compress_min_bytes:
            body = compress_body(body, encoding)
            headers.append(("content-encoding", encoding))
        headers.append(("content-length", str(len(body))))
        return EmulatedResponse(reply.status, headers, iter((body,)), False)
