"""Emulator settings: everything that changes what the emulator sends, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The errors the emulator can inject: code -> (HTTP status, message), as the Melious API
#: documentation lists them.
MELIOUS_ERRORS: dict[str, tuple[int, str]] = {
    "AUTH_1007": (401, "No API key provided"),
    "AUTH_1008": (401, "Invalid API key"),
    "BILLING_2003": (402, "Insufficient credits"),
    "INFERENCE_3001": (404, "Model not found"),
    "INFERENCE_3207": (400, "Input exceeds the model's context window"),
    "AUTH_1028": (429, "Rate limit exceeded"),
    "INFERENCE_3103": (502, "All providers failed"),
}

#: OpenAI-style equivalents used for a share of injected errors: code -> (type, code string).
OPENAI_STYLE: dict[str, tuple[str, str]] = {
    "AUTH_1007": ("authentication_error", "missing_api_key"),
    "AUTH_1008": ("authentication_error", "invalid_api_key"),
    "BILLING_2003": ("insufficient_quota", "insufficient_quota"),
    "INFERENCE_3001": ("invalid_request_error", "model_not_found"),
    "INFERENCE_3207": ("invalid_request_error", "context_length_exceeded"),
    "AUTH_1028": ("rate_limit_error", "rate_limit_exceeded"),
    "INFERENCE_3103": ("provider_error", "provider_error"),
}

STREAM_PLACEMENTS = ("final", "usage", "finish", "trailing", "none")
ANTHROPIC_PLACEMENTS = ("message_delta", "message_stop", "none")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves. Defaults follow the documented API.

    error_rate: probability that an inference request fails with an injected error, the
        code drawn with ``error_weights``; ``openai_style_error_share`` of those use the
        OpenAI-style envelope instead of the Melious one.
    unreported_rate: probability that a successful response omits environment_impact and
        billing_cost (what some clients observe).
    stream_impact: where a chat SSE stream carries the objects: ``final`` (the last data
        chunk: the usage chunk when include_usage, else the finish chunk), ``usage``,
        ``finish``, ``trailing`` (an extra chunk with empty choices) or ``none``.
    anthropic_impact: ``message_delta`` (default), ``message_stop`` or ``none``.
    paid_with / both_nonzero: the billing_cost shape (docs: the unpaid field is "0";
        agentix fixtures: both non-zero at 1:10,000).
    """

    seed: int = 0
    noise_sigma: float = 0.02
    error_rate: float = 0.0
    error_weights: dict[str, float] = field(
        default_factory=lambda: {
            "AUTH_1028": 0.35,
            "INFERENCE_3103": 0.3,
            "BILLING_2003": 0.1,
            "INFERENCE_3207": 0.15,
            "AUTH_1008": 0.05,
            "INFERENCE_3001": 0.05,
        }
    )
    openai_style_error_share: float = 0.2
    unreported_rate: float = 0.0
    stream_impact: str = "final"
    anthropic_impact: str = "message_delta"
    paid_with: str = "credits"
    both_nonzero: bool = False
    compression: bool = True
    encodings: tuple[str, ...] = ("br", "gzip", "deflate")  # server preference order
    compress_min_bytes: int = 512
    rate_limit_requests: int = 600  # per simulated minute (headers only unless enforce_rate_limit)
    enforce_rate_limit: bool = False
    ratelimit_headers: str = "documented"  # documented | lowercase | both
    retry_after_seconds: int = 1
    words_per_event: int = 3  # output tokens per SSE delta
    mean_output_tokens: int = 180  # when max_tokens does not bind
    batch_terminal_status: str = "succeeded"  # Melious guide; "completed" for OpenAI's word
    require_auth: bool = True

    def __post_init__(self) -> None:
        if self.stream_impact not in STREAM_PLACEMENTS:
            raise ValueError(f"stream_impact must be one of {STREAM_PLACEMENTS}")
        if self.anthropic_impact not in ANTHROPIC_PLACEMENTS:
            raise ValueError(f"anthropic_impact must be one of {ANTHROPIC_PLACEMENTS}")
        if self.paid_with not in ("energy", "credits"):
            raise ValueError("paid_with must be 'energy' or 'credits'")
        if not 0 <= self.error_rate <= 1 or not 0 <= self.unreported_rate <= 1:
            raise ValueError("error_rate and unreported_rate are probabilities in [0, 1]")
        unknown = set(self.error_weights) - set(MELIOUS_ERRORS)
        if unknown:
            raise ValueError(f"unknown error codes {sorted(unknown)}; known: {sorted(MELIOUS_ERRORS)}")
