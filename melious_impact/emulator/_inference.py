"""Embeddings, rerank, images, speech and transcriptions."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from melious_impact.emulator import _text
from melious_impact.emulator._api import ApiError, Call, Reply, bad_request, file_form
from melious_impact.emulator._wire import dumps
from melious_impact.emulator.physics import AUDIO_BYTES_PER_SECOND

if TYPE_CHECKING:
    from melious_impact.emulator.core import Emulator

EMBEDDING_DIMS = {"bge-m3": 1024, "qwen3-embedding-8b": 4096}
IMAGE_UNITS_PER_PIXEL = 1 / 256  # 4096 output units for a 1024x1024 image
AUDIO_TOKENS_PER_SECOND = 25


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):  # one pre-tokenised input
            return ["xxxx" * len(value)]
        return ["xxxx" * len(v) if isinstance(v, list) else str(v) for v in value]
    raise bad_request("Field 'input' must be a string or a non-empty array")


def embeddings(emu: Emulator, call: Call) -> Reply:
    req = call.json()
    served = emu.serve(call, req.get("model"), default_flavor="price", kinds=("embeddings",))
    texts = _texts(req.get("input"))
    if len(texts) > 2048:
        raise bad_request("At most 2048 inputs per request")
    dims = EMBEDDING_DIMS.get(served.model.id, 1024)
    if isinstance(req.get("dimensions"), int):
        dims = max(1, min(dims, req["dimensions"]))
    n_tokens = sum(max(1, _text.tokens_for_text(t)) for t in texts)
    vectors = call.rng.standard_normal((len(texts), dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    fmt = req.get("encoding_format") or "float"
    data = []
    for i, vec in enumerate(vectors):
        emb: Any = (
            base64.b64encode(vec.astype("<f4").tobytes()).decode()
            if fmt == "base64"
            else [round(float(x), 6) for x in vec]
        )
        data.append({"object": "embedding", "index": i, "embedding": emb})
    body = {
        "object": "list",
        "data": data,
        "model": served.echo_name,
        "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens},
        **emu.impact_fields(call, served, n_tokens, 0),
    }
    return Reply(body=dumps(body))


def rerank(emu: Emulator, call: Call) -> Reply:
    req = call.json()
    served = emu.serve(call, req.get("model"), default_flavor="price", kinds=("rerank",))
    query, docs = req.get("query"), req.get("documents")
    if not isinstance(query, str) or not isinstance(docs, list) or not docs:
        raise bad_request("Fields 'query' (string) and 'documents' (non-empty array) are required")
    doc_texts = [d.get("text", "") if isinstance(d, dict) else str(d) for d in docs]
    q_tokens = _text.tokens_for_text(query)
    n_tokens = sum(q_tokens + _text.tokens_for_text(t) for t in doc_texts)  # each pair is scored
    scores = call.rng.random(len(docs))
    order = np.argsort(-scores)
    top_n = req.get("top_n") if isinstance(req.get("top_n"), int) else len(docs)
    results = []
    for idx in order[:top_n]:
        item: dict[str, Any] = {"index": int(idx), "relevance_score": round(float(scores[idx]), 6)}
        if req.get("return_documents", True):
            item["document"] = {"text": doc_texts[idx]}
        results.append(item)
    body = {
        "id": call.new_id("rerank-"),
        "model": served.echo_name,
        "results": results,
        "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens},
        **emu.impact_fields(call, served, n_tokens, 0),
    }
    return Reply(body=dumps(body))


def _png(rng: np.random.Generator, side: int = 64) -> bytes:
    """A small valid RGB PNG of seeded noise (stands in for a generated image)."""
    raw = b"".join(b"\x00" + rng.integers(0, 256, side * 3, dtype=np.uint8).tobytes() for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def images(emu: Emulator, call: Call) -> Reply:
    req = call.json()
    name = req.get("model")
    served = emu.serve(call, "flux-schnell" if name in (None, "dall-e-3") else name, kinds=("image",))
    prompt = req.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise bad_request("Field 'prompt' is required")
    n = req.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 10:
        raise bad_request("Field 'n' must be an integer in [1, 10]")
    size = str(req.get("size") or "1024x1024")
    try:
        w, h = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise bad_request("Field 'size' must look like 1024x1024") from None
    w, h = req.get("width", w), req.get("height", h)
    in_tokens = _text.tokens_for_text(prompt)
    out_units = n * math.ceil(int(w) * int(h) * IMAGE_UNITS_PER_PIXEL)
    data = [{"b64_json": base64.b64encode(_png(call.rng)).decode(), "revised_prompt": None} for _ in range(n)]
    body = {
        "created": call.created,
        "data": data,
        "usage": {
            "input_tokens": in_tokens,
            "output_tokens": out_units,
            "total_tokens": in_tokens + out_units,
        },
        **emu.impact_fields(call, served, in_tokens, out_units),
    }
    return Reply(body=dumps(body))


AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def speech(emu: Emulator, call: Call) -> Reply:
    """Raw audio bytes: no JSON, so no impact (the Melious API documents no channel for it)."""
    req = call.json()
    emu.serve(call, req.get("model") or "tts-1", kinds=("speech",))
    text = req.get("input")
    if not isinstance(text, str) or not text:
        raise bad_request("Field 'input' is required")
    fmt = req.get("response_format") or "mp3"
    if fmt not in AUDIO_TYPES:
        raise bad_request(f"response_format must be one of {sorted(AUDIO_TYPES)}")
    seconds = max(1.0, len(text) / 15)  # ~15 characters spoken per second
    audio = b"ID3\x04\x00\x00" + call.rng.bytes(int(seconds * 2000))
    return Reply(body=audio, content_type=AUDIO_TYPES[fmt])


def transcriptions(emu: Emulator, call: Call) -> Reply:
    form = file_form(call, "Field 'file' is required (multipart/form-data)")
    fields = {k: v[1].decode("utf-8", "replace") for k, v in form.items() if k != "file"}
    served = emu.serve(call, fields.get("model") or "whisper-large-v3", kinds=("audio",))
    audio = form["file"][1]
    duration = max(0.1, len(audio) / AUDIO_BYTES_PER_SECOND)
    in_tokens = max(1, math.ceil(duration * AUDIO_TOKENS_PER_SECOND))
    n_words = max(1, round(duration * 2.5))
    text = "".join(_text.words(call.rng, n_words)).strip()
    out_tokens = n_words
    fmt = fields.get("response_format", "json")
    if fmt in ("text", "srt", "vtt"):
        if fmt == "srt":
            text = f"1\n00:00:00,000 --> {_ts(duration, ',')}\n{text}\n"
        elif fmt == "vtt":
            text = f"WEBVTT\n\n00:00:00.000 --> {_ts(duration, '.')}\n{text}\n"
        return Reply(body=text.encode(), content_type="text/plain; charset=utf-8")
    if fmt not in ("json", "verbose_json"):
        raise ApiError("VALIDATION_4001", 400, "response_format must be json, verbose_json, text, srt or vtt")
    body: dict[str, Any] = {"text": text}
    if fmt == "verbose_json":
        body.update(
            {
                "task": "transcribe",
                "language": fields.get("language", "en"),
                "duration": round(duration, 2),
                "segments": [
                    {
                        "id": 0,
                        "start": 0.0,
                        "end": round(duration, 2),
                        "text": text,
                        "avg_logprob": -0.2,
                        "no_speech_prob": 0.01,
                    }
                ],
            }
        )
    body["usage"] = {
        "type": "tokens",
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "total_tokens": in_tokens + out_tokens,
    }
    body.update(emu.impact_fields(call, served, in_tokens, out_tokens))
    return Reply(body=dumps(body))


def _ts(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
