"""GET /v1/models and /v1/models/{id}, with ``include_meta=true`` adding ``_meta``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from melious_impact.emulator._api import ApiError, Call, Reply
from melious_impact.emulator._wire import dumps
from melious_impact.emulator.catalogue import MODELS, ModelSpec

if TYPE_CHECKING:
    from melious_impact.emulator.core import Emulator

CREATED = 1_735_689_600  # 2025-01-01: a fixed catalogue date keeps responses deterministic

_META_TYPE = {
    "chat": "chat",
    "embeddings": "embeddings",
    "rerank": "rerank",
    "image": "image",
    "audio": "audio",
    "speech": "audio",
}
_MODALITIES = {
    "chat": (["text"], ["text"]),
    "embeddings": (["text"], ["embedding"]),
    "rerank": (["text"], ["score"]),
    "image": (["text"], ["image"]),
    "audio": (["audio"], ["text"]),
    "speech": (["text"], ["audio"]),
}


def _meta(m: ModelSpec) -> dict[str, Any]:
    ins, outs = _MODALITIES[m.kind]
    caps: dict[str, bool] = {}
    if m.kind == "chat":
        caps = {
            "streaming": True,
            "function_calling": True,
            "structured_output": True,
            "json_schema": True,
            "vision": m.id.startswith("mistral-small"),
            "reasoning": m.reasoning,
        }
    elif m.kind == "audio":
        caps = {"audio_input": True}
    meta: dict[str, Any] = {
        "type": _META_TYPE[m.kind],
        "display_name": m.id,
        "input_modalities": ins,
        "output_modalities": outs,
        "capabilities": caps,
        "max_output_tokens": None,
        "pricing": {
            "input_cost_per_million_eur": float(m.eur_per_million_input),
            "output_cost_per_million_eur": float(m.eur_per_million_output),
            "cache_read_cost_per_million_eur": float(m.eur_per_million_input) / 2,
        },
    }
    if m.context_length is not None and m.kind in ("chat", "embeddings"):
        meta["context_length"] = m.context_length
    return meta


def _entry(m: ModelSpec, include_meta: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "object": "model", "created": CREATED, "owned_by": m.owned_by}
    if include_meta:
        out["_meta"] = _meta(m)
    return out


def _include_meta(call: Call) -> bool:
    return call.query.get("include_meta", "").lower() in ("1", "true", "yes")


def list_models(emu: Emulator, call: Call) -> Reply:
    meta = _include_meta(call)
    return Reply(body=dumps({"object": "list", "data": [_entry(m, meta) for m in MODELS.values()]}))


def get_model(emu: Emulator, call: Call) -> Reply:
    model_id = call.path.split("/v1/models/", 1)[1]
    if model_id not in MODELS:
        raise ApiError("INFERENCE_3001", 404, f"Model '{model_id}' not found", {"model": model_id})
    return Reply(body=dumps(_entry(MODELS[model_id], _include_meta(call))))
