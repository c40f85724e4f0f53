"""Token counts from requests, and deterministic filler text for completions.

Token counts follow the usual rule of thumb (about 4 characters per token) so the
emulator needs no tokenizer. Completion text is drawn from a fixed word list: it never
echoes the prompt, so nothing the user sent can leak into anything but the normal
completion text (and not even there).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

_WORDS = [
    "the",
    "energy",
    "of",
    "inference",
    "depends",
    "on",
    "tokens",
    "model",
    "provider",
    "and",
    "grid",
    "at",
    "that",
    "hour",
    "efficient",
    "routing",
    "lowers",
    "carbon",
    "while",
    "water",
    "follows",
    "the",
    "cooling",
    "of",
    "each",
    "site",
    "results",
    "show",
    "stable",
    "latency",
    "across",
    "regions",
    "with",
    "clean",
    "power",
    "in",
    "the",
    "north",
]

MESSAGE_OVERHEAD_TOKENS = 4  # role and separators per message, as chat templates add


def tokens_for_text(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") in ("image", "image_url"):
                    parts.append("x" * 4 * 765)  # a fixed high-detail image cost
                elif "content" in block:
                    parts.append(_content_text(block["content"]))
            elif isinstance(block, str):
                parts.append(block)
        return " ".join(parts)
    return "" if content is None else json.dumps(content)


def prompt_tokens(messages: Any, system: Any = None, tools: Any = None) -> int:
    """Input tokens of a chat/messages request (system, messages, tool schemas)."""
    total = 0
    if system is not None:
        total += tokens_for_text(_content_text(system)) + MESSAGE_OVERHEAD_TOKENS
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict):
                total += tokens_for_text(_content_text(m.get("content"))) + MESSAGE_OVERHEAD_TOKENS
    if tools:
        total += tokens_for_text(json.dumps(tools))
    return max(total, 1)


def draw_output_tokens(rng: np.random.Generator, mean: int, cap: int | None) -> tuple[int, bool]:
    """(output tokens, truncated): lognormal around ``mean`` (sigma 0.6), capped by max_tokens."""
    sigma = 0.6
    n = max(1, round(float(rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma))))
    if cap is not None and cap >= 1 and n >= cap:
        return int(cap), True
    return n, False


def words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` filler words, one token each (each but the first with a leading space)."""
    idx = rng.integers(0, len(_WORDS), size=n)
    out = [_WORDS[i] for i in idx]
    return [w if i == 0 else " " + w for i, w in enumerate(out)]
