"""Synthetic teams: who sends what. Shared by :func:`simulate_requests` and the demo.

Each team has a daily request volume (at the start of the period), a model mix, token
size distributions (lognormal medians) and routing habits. The figures are invented but
shaped like real workloads: RAG prompts dwarf outputs, support streams, research reasons
long, ads make images.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Usage:
    """One slice of a team's traffic: a model called through one endpoint."""

    model: str  # catalogue id
    share: float  # of the team's requests
    input_median: int  # tokens (lognormal median)
    output_median: int  # tokens (0 for input-only endpoints)
    requested_as: str | None = None  # e.g. a claude-* name sent to /v1/messages
    api: str = "openai"  # openai or anthropic (messages)
    stream_share: float = 0.0


@dataclass(frozen=True)
class TeamSpec:
    name: str
    project: str
    daily_requests: float  # at the start of the period, on a weekday
    usages: tuple[Usage, ...]
    flavors: dict[str, float] = field(default_factory=lambda: {"balanced": 1.0})


DEFAULT_TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "search",
        "rag",
        420,
        (
            Usage("bge-m3", 0.45, 60, 0),
            Usage("bge-reranker-v2-m3", 0.15, 900, 0),
            Usage("glm-4.7", 0.25, 3200, 220, stream_share=0.3),
            Usage("qwen3-235b-a22b-instruct", 0.15, 2800, 260),
        ),
        {"balanced": 0.7, "price": 0.3},
    ),
    TeamSpec(
        "support",
        "helpdesk",
        300,
        (
            Usage("mistral-small-3.2-24b-instruct", 0.5, 1200, 280, stream_share=0.7),
            Usage("gpt-oss-20b", 0.35, 800, 350, stream_share=0.5),
            Usage("qwen3-embedding-8b", 0.15, 200, 0),
        ),
        {"balanced": 0.8, "speed": 0.2},
    ),
    TeamSpec(
        "ads",
        "banners",
        110,
        (
            Usage("gpt-oss-120b", 0.6, 400, 160),
            Usage("flux-schnell", 0.4, 40, 4096),
        ),
        {"price": 0.6, "balanced": 0.4},
    ),
    TeamSpec(
        "research",
        "agents",
        70,
        (
            Usage(
                "deepseek-v3.2",
                0.45,
                5000,
                900,
                requested_as="claude-sonnet-4-6",
                api="anthropic",
                stream_share=0.5,
            ),
            Usage("kimi-k2-thinking", 0.25, 4000, 1400, stream_share=0.4),
            Usage("glm-4.7", 0.30, 6000, 700, requested_as="claude-opus-4-7", api="anthropic"),
        ),
        {"eco": 0.6, "balanced": 0.4},
    ),
    TeamSpec(
        "platform",
        "internal-tools",
        140,
        (
            Usage("whisper-large-v3", 0.20, 1500, 150),
            Usage("llama-3.3-70b-instruct", 0.45, 1500, 300, stream_share=0.2),
            Usage("qwen3-embedding-8b", 0.25, 300, 0),
            Usage("tts-1", 0.10, 120, 0),  # speech: binary body, so never an impact
        ),
        {"balanced": 0.5, "eco": 0.5},
    ),
)

KIND_ENDPOINT = {
    "chat": "/v1/chat/completions",
    "embeddings": "/v1/embeddings",
    "rerank": "/v1/rerank",
    "image": "/v1/images/generations",
    "audio": "/v1/audio/transcriptions",
    "speech": "/v1/audio/speech",
}
