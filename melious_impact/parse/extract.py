"""Decoded JSON objects -> row fields (usage, environment_impact, billing_cost, errors).

Every ``apply_*`` function takes the partial row ``out`` (a plain dict keyed by column
names), the object that arrived, and a :class:`~melious_impact.parse.fields.Warnings`
list. They never raise: a value that is present but unusable becomes ``None`` plus a
warning code. The same functions serve JSON bodies, SSE events and batch lines, so a
field means the same thing wherever it came from.
"""

from __future__ import annotations

import sys
from typing import Any

from melious_impact.parse.fields import (
    INT64_MAX,
    Warnings,
    to_decimal,
    to_float,
    to_int,
    to_str,
)
from melious_impact.parse.verbatim import Source, keep_verbatim
from melious_impact.records import PHYSICAL_BOUNDS

IMPACT_FLOAT_FIELDS = ("energy_kwh", "carbon_g_co2", "water_liters", "renewable_percent", "pue")
IMPACT_STR_FIELDS = ("provider_id", "location")
_FLOAT_MAX = sys.float_info.max
_PUE_MIN = float(PHYSICAL_BOUNDS["pue"][0])
_SHARE_MAX = float(PHYSICAL_BOUNDS["renewable_percent"][1] or _FLOAT_MAX)


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def _sub(d: dict[str, Any], key: str, inner: str) -> Any:
    sub = d.get(key)
    return sub.get(inner) if isinstance(sub, dict) else None


def apply_impact(out: dict[str, Any], obj: Any, w: Warnings) -> bool:
    """Set the seven impact columns from an ``environment_impact`` object.

    The object replaces any earlier one as a whole (last one wins), but only when it is
    usable: an empty or nonsensical block never erases a good one seen before.
    """
    if obj is None:
        return False
    if not isinstance(obj, dict):
        w.add("invalid_environment_impact")
        return False
    vals: dict[str, Any] = {}
    for f in IMPACT_FLOAT_FIELDS:
        v = obj.get(f)
        # Inline fast path (this runs on the caller's path): a numeric lexeme or int
        # that is finite and non-negative; anything else goes through to_float.
        if type(v) is str or type(v) is int:
            try:
                x = float(v)
            except (ValueError, OverflowError):
                x = -1.0
            if 0.0 <= x <= _FLOAT_MAX:  # also false for NaN
                vals[f] = x
                continue
        vals[f] = to_float(v, f, w)
    # Bounds that hold by definition: a PUE below 1 or a renewable share above 100 %
    # is not a measurement, whatever sent it.
    pue, share = vals["pue"], vals["renewable_percent"]
    if pue is not None and pue < _PUE_MIN:
        vals["pue"] = None
        w.add("invalid_pue")
    if share is not None and share > _SHARE_MAX:
        vals["renewable_percent"] = None
        w.add("invalid_renewable_percent")
    if vals["energy_kwh"] is None and vals["carbon_g_co2"] is None and vals["water_liters"] is None:
        # A block with no usable quantity is malformed as a whole and stored as missing
        # (the row contract), its provider and location included.
        w.add("unusable_environment_impact")
        return False
    for f in IMPACT_STR_FIELDS:
        vals[f] = to_str(obj.get(f), f, w)
    out.update(vals)
    out["impact_reported"] = True
    return True


def apply_billing(out: dict[str, Any], obj: Any, w: Warnings) -> bool:
    """Set billing_energy / billing_credits (exact decimals) and billing_paid_with."""
    if obj is None:
        return False
    if not isinstance(obj, dict):
        w.add("invalid_billing_cost")
        return False
    energy = to_decimal(obj.get("energy"), "billing_energy", w)
    credits = to_decimal(obj.get("credits"), "billing_credits", w)
    paid_with = to_str(obj.get("paid_with"), "billing_paid_with", w, max_len=64)
    if energy is None and credits is None and paid_with is None:
        w.add("unusable_billing_cost")
        return False
    if (
        energy is None
        and credits is None
        and (out.get("billing_energy") is not None or out.get("billing_credits") is not None)
    ):
        # a later block with no amounts (e.g. only paid_with) must not erase amounts seen
        # earlier in the stream; it can still say which balance paid
        if out.get("billing_paid_with") is None:
            out["billing_paid_with"] = paid_with
        return True
    out["billing_energy"] = energy
    out["billing_credits"] = credits
    out["billing_paid_with"] = paid_with
    return True


def apply_usage(out: dict[str, Any], usage: Any, w: Warnings, *, input_only: bool = False) -> None:
    """Token counts from any usage shape; a field already set is overwritten only by a value.

    - OpenAI: ``prompt_tokens`` / ``completion_tokens``, ``*_tokens_details``.
    - Responses/Anthropic: ``input_tokens`` / ``output_tokens``. Anthropic counts cache
      reads and cache writes *outside* ``input_tokens``; they are added back so that
      ``input_tokens`` is the whole prompt in every shape (as OpenAI's ``prompt_tokens``).
    - Input-only endpoints (embeddings, rerank) with only ``total_tokens``: that total is
      the input, and the output is zero.
    """
    if usage is None:
        return
    if not isinstance(usage, dict):
        w.add("invalid_usage")
        return
    get = usage.get
    raw_in = get("prompt_tokens")
    from_prompt = raw_in is not None
    if raw_in is None:
        raw_in = get("input_tokens")
    raw_out = get("completion_tokens")
    if raw_out is None:
        raw_out = get("output_tokens")
    inp = _tokens(raw_in, "input_tokens", w)
    outp = _tokens(raw_out, "output_tokens", w)
    cache_read = _tokens(get("cache_read_input_tokens"), "cached_tokens", w)
    if inp is not None and not from_prompt:
        cache_write = _tokens(get("cache_creation_input_tokens"), "cache_creation_input_tokens", w)
        inp += (cache_read or 0) + (cache_write or 0)
    cached = reasoning = None
    if "prompt_tokens_details" in usage or "input_tokens_details" in usage:
        sub = get("prompt_tokens_details")
        value = sub.get("cached_tokens") if isinstance(sub, dict) else None
        if value is None:
            value = _sub(usage, "input_tokens_details", "cached_tokens")
        cached = _tokens(value, "cached_tokens", w)
    if cached is None:
        cached = cache_read
    if "completion_tokens_details" in usage or "output_tokens_details" in usage:
        reasoning = _tokens(
            _first(
                _sub(usage, "completion_tokens_details", "reasoning_tokens"),
                _sub(usage, "output_tokens_details", "reasoning_tokens"),
            ),
            "reasoning_tokens",
            w,
        )
    if input_only:
        if inp is None:
            inp = _tokens(get("total_tokens"), "total_tokens", w)
        if outp is None and inp is not None:
            outp = 0
    if inp is not None:
        out["input_tokens"] = inp
    if outp is not None:
        out["output_tokens"] = outp
    if cached is not None:
        out["cached_tokens"] = cached
    if reasoning is not None:
        out["reasoning_tokens"] = reasoning


def _tokens(value: Any, name: str, w: Warnings) -> int | None:
    # Inline fast path for the usual plain int; the helper handles everything else.
    if type(value) is int and 0 <= value <= INT64_MAX:
        return value
    return None if value is None else to_int(value, name, w)


def apply_cohere_meta(out: dict[str, Any], meta: Any, w: Warnings) -> None:
    """Rerank bodies in the Cohere shape report tokens under ``meta.tokens`` / ``meta.billed_units``."""
    if not isinstance(meta, dict):
        return
    for key in ("tokens", "billed_units"):
        sub = meta.get(key)
        if isinstance(sub, dict) and ("input_tokens" in sub or "output_tokens" in sub):
            apply_usage(out, sub, w, input_only=True)
            return


def apply_error(out: dict[str, Any], obj: dict[str, Any], w: Warnings) -> bool:
    """Error code/type from a Melious, OpenAI-style or Anthropic-style envelope.

    Only codes and types are kept: error *messages* may echo the prompt, so they are
    never stored. Where an OpenAI-style error has ``code: null`` its ``type`` is the code.
    """
    err = obj.get("error")
    if err is None:
        return False
    if isinstance(err, dict):
        code = err.get("code")
        etype = err.get("type")
        out["error_type"] = to_str(etype, "error_type", w, max_len=128)
        code_s = to_str(code, "error_code", w, max_len=128) if code is not None else None
        out["error_code"] = code_s or out["error_type"]
        if out["error_code"] is None:
            w.add("error_without_code")
        return True
    # ``{"error": "some text"}``: a message only; keep nothing of it.
    w.add("error_without_code")
    out.setdefault("error_code", None)
    return True


def find_key(obj: Any, key: str, max_depth: int = 3) -> Any:
    """The value of ``key`` at the top level of ``obj`` or in nested objects (not lists).

    Breadth first, so a top-level value is preferred. Lists are skipped: the objects
    looked for are small siblings of the response fields, never array items, and
    walking large arrays (embeddings) would cost time for nothing.
    """
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    level = [v for v in obj.values() if isinstance(v, dict)]
    for _ in range(max_depth - 1):
        nxt: list[dict[str, Any]] = []
        for d in level:
            if key in d:
                return d[key]
            nxt.extend(v for v in d.values() if isinstance(v, dict))
        if not nxt:
            break
        level = nxt
    return None


def apply_melious(out: dict[str, Any], obj: Any, w: Warnings, source: Source | None = None) -> None:
    """environment_impact and billing_cost wherever they sit in ``obj``.

    ``source``: the bytes or text ``obj`` was decoded from; each object's text is then
    kept verbatim in the row (:mod:`melious_impact.parse.verbatim`).
    """
    for key, apply in _MELIOUS_OBJECTS:
        # Top level first (the documented place) without the nested search.
        top = key in obj
        value = obj[key] if top else find_key(obj, key)
        if value is not None:
            apply(out, value, w)
            if source is not None:
                keep_verbatim(out, w, key, value, source, top_level=top)


_MELIOUS_OBJECTS = (("environment_impact", apply_impact), ("billing_cost", apply_billing))


def shape_of(obj: dict[str, Any]) -> str:
    """openai, anthropic or other: the response family of a decoded body."""
    typ = obj.get("type")
    if typ in ("message", "error") and "object" not in obj:
        return "anthropic"
    if "object" in obj or "choices" in obj:
        return "openai"
    usage = obj.get("usage")
    if isinstance(usage, dict):
        if "prompt_tokens" in usage or ("total_tokens" in usage and "input_tokens" not in usage):
            return "openai"
        if "input_tokens" in usage:
            return "anthropic" if "cache_read_input_tokens" in usage or typ else "openai"
    if isinstance(obj.get("error"), dict):
        return "openai"
    return "other"


def apply_response(
    out: dict[str, Any], obj: Any, w: Warnings, *, input_only: bool = False, source: Source | None = None
) -> None:
    """Every field a complete (non-streamed) response body can give (``source``: see
    :func:`apply_melious`)."""
    if not isinstance(obj, dict):
        w.add("body_not_object")
        return
    out["api_shape"] = shape_of(obj)
    rid = obj.get("id")
    if rid is not None:
        out["request_id"] = to_str(rid, "request_id", w)
    model = obj.get("model")
    if model is not None:
        out["model"] = to_str(model, "model", w)
    usage = obj.get("usage")
    if usage is not None:
        apply_usage(out, usage, w, input_only=input_only)
    elif "meta" in obj:
        apply_cohere_meta(out, obj["meta"], w)
    if "error" in obj:
        apply_error(out, obj, w)
    apply_melious(out, obj, w, source)
