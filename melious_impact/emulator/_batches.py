"""Files and batches. A batch completes instantly in simulated time: its lines are served
at creation through the same handlers (routed with the ``batch`` flavor) and the output
file holds one OpenAI-shaped line per request, each with the full response body
(``environment_impact`` and ``billing_cost`` included). Failed lines go to the error file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from melious_impact.emulator._api import ApiError, Call, Reply, bad_request, file_form
from melious_impact.emulator._wire import dumps

if TYPE_CHECKING:
    from melious_impact.emulator.core import Emulator

BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/images/generations", "/v1/audio/speech")


def _file_id(call: Call) -> str:
    return call.new_id("file_", 12)


def _store_file(emu: Emulator, call: Call, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
    fid = _file_id(call)
    meta = {
        "id": fid,
        "object": "file",
        "bytes": len(data),
        "created_at": call.created,
        "filename": filename,
        "purpose": purpose,
    }
    emu.files[fid] = meta
    emu.file_data[fid] = data
    return meta


def upload_file(emu: Emulator, call: Call) -> Reply:
    form = file_form(call, "Field 'file' is required")
    purpose = form.get("purpose", (None, b""))[1].decode()
    if purpose != "batch":
        raise bad_request("Only purpose 'batch' is supported", {"purpose": purpose})
    filename, data = form["file"]
    return Reply(body=dumps(_store_file(emu, call, data, filename or "upload.jsonl", purpose)))


def _page(items: list[dict[str, Any]], call: Call) -> Reply:
    order = call.query.get("order", "desc")
    # Stable sort on time; equal times (a frozen simulated clock) keep the insertion order.
    desc = order != "asc"
    items = sorted(items[::-1] if desc else items, key=lambda f: f["created_at"], reverse=desc)
    after = call.query.get("after")
    if after:
        ids = [f["id"] for f in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = max(1, min(100, int(call.query.get("limit", "20") or 20)))
    page = items[:limit]
    return Reply(
        body=dumps(
            {
                "object": "list",
                "data": page,
                "has_more": len(items) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )
    )


def list_files(emu: Emulator, call: Call) -> Reply:
    purpose = call.query.get("purpose")
    return _page([f for f in emu.files.values() if purpose in (None, f["purpose"])], call)


def _file_or_404(emu: Emulator, fid: str) -> dict[str, Any]:
    if fid not in emu.files:
        raise ApiError("RESOURCE_5001", 404, f"File '{fid}' not found")
    return emu.files[fid]


def get_file(emu: Emulator, call: Call) -> Reply:
    return Reply(body=dumps(_file_or_404(emu, call.path.rsplit("/", 1)[1])))


def file_content(emu: Emulator, call: Call) -> Reply:
    fid = call.path.split("/")[-2]
    _file_or_404(emu, fid)
    return Reply(body=emu.file_data[fid], content_type="application/jsonl")


def delete_file(emu: Emulator, call: Call) -> Reply:
    fid = call.path.rsplit("/", 1)[1]
    _file_or_404(emu, fid)
    del emu.files[fid], emu.file_data[fid]
    return Reply(body=dumps({"id": fid, "object": "file", "deleted": True}))


def create_batch(emu: Emulator, call: Call) -> Reply:
    req = call.json()
    endpoint = req.get("endpoint")
    if endpoint not in BATCH_ENDPOINTS:
        raise bad_request(f"endpoint must be one of {list(BATCH_ENDPOINTS)}")
    fid = req.get("input_file_id")
    if not isinstance(fid, str):
        raise bad_request("Field 'input_file_id' is required")
    _file_or_404(emu, fid)
    lines = [ln for ln in emu.file_data[fid].decode("utf-8", "replace").splitlines() if ln.strip()]
    bid = call.new_id("batch_")
    window = req.get("completion_window", "24h")
    outputs: list[str] = []
    errors: list[str] = []
    for i, line in enumerate(lines):
        out, ok = _run_line(emu, call, line, endpoint, i)
        (outputs if ok else errors).append(out)
    batch: dict[str, Any] = {
        "id": bid,
        "object": "batch",
        "endpoint": endpoint,
        "errors": None,
        "input_file_id": fid,
        "completion_window": window,
        "status": "queued",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": call.created,
        "in_progress_at": None,
        "expires_at": call.created + 86_400,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"processing": len(lines), "succeeded": 0, "errored": 0},
        "metadata": req.get("metadata") or {},
    }
    emu.batches[bid] = {"object": batch, "outputs": outputs, "errors": errors, "created": call.now}
    return Reply(body=dumps(batch))


def _run_line(emu: Emulator, call: Call, line: str, endpoint: str, index: int) -> tuple[str, bool]:
    try:
        item = json.loads(line)
        custom_id, body = item.get("custom_id"), item.get("body")
        url = item.get("url", endpoint)
    except (ValueError, AttributeError):
        item, custom_id, body, url = None, None, None, endpoint
    rng = np.random.default_rng([emu.config.seed, call.seq, 1000 + index])
    line_id = "batch_req_" + rng.bytes(12).hex()
    if not isinstance(body, dict) or url != endpoint:
        err = {"code": "VALIDATION_4001", "message": "Malformed batch line"}
        return json.dumps({"id": line_id, "custom_id": custom_id, "response": None, "error": err}), False
    sub = Call(
        "POST",
        url,
        {},
        {
            "content-type": "application/json",
            **{k: v for k, v in call.headers.items() if k.startswith("x-emulator")},
        },
        dumps({**body, "stream": False}),
        rng,
        call.now,
        call.seq,
        default_flavor="batch",
    )
    reply = emu.run_inline(sub)
    if reply.content_type.startswith("application/json"):
        response_body: Any = json.loads(reply.body or b"null")
    else:  # speech: the audio itself is not inlined; a placeholder keeps the line JSON
        response_body = {"content_type": reply.content_type, "bytes": len(reply.body or b"")}
    out = {
        "id": line_id,
        "custom_id": custom_id,
        "response": {
            "status_code": reply.status,
            "request_id": "req_" + rng.bytes(12).hex(),
            "body": response_body,
        },
        "error": None,
    }
    return json.dumps(out, separators=(",", ":")), reply.status < 400


def _batch_or_404(emu: Emulator, bid: str) -> dict[str, Any]:
    if bid not in emu.batches:
        raise ApiError("RESOURCE_5002", 404, f"Batch '{bid}' not found")
    return emu.batches[bid]


def _complete(emu: Emulator, call: Call, state: dict[str, Any]) -> None:
    """First look after creation: the batch has finished (simulated time is instant)."""
    batch = state["object"]
    if batch["status"] != "queued":
        return
    t = int(state["created"].timestamp())
    for lines, field_name, suffix in (
        ("outputs", "output_file_id", "output"),
        ("errors", "error_file_id", "errors"),
    ):
        if state[lines]:
            text = "\n".join(state[lines]) + "\n"
            name = f"{batch['id']}_{suffix}.jsonl"
            batch[field_name] = _store_file(emu, call, text.encode(), name, "batch_output")["id"]
    batch.update(
        status=emu.config.batch_terminal_status,
        in_progress_at=t,
        finalizing_at=t,
        completed_at=int((state["created"] + timedelta(seconds=1)).timestamp()),
        request_counts={"processing": 0, "succeeded": len(state["outputs"]), "errored": len(state["errors"])},
    )


def get_batch(emu: Emulator, call: Call) -> Reply:
    state = _batch_or_404(emu, call.path.rsplit("/", 1)[1])
    _complete(emu, call, state)
    return Reply(body=dumps(state["object"]))


def list_batches(emu: Emulator, call: Call) -> Reply:
    for state in emu.batches.values():
        _complete(emu, call, state)
    return _page([s["object"] for s in emu.batches.values()], call)


def cancel_batch(emu: Emulator, call: Call) -> Reply:
    """Cancelling a batch nobody has looked at yet cancels it (no output); later, it is done."""
    state = _batch_or_404(emu, call.path.split("/")[-2])
    batch = state["object"]
    if batch["status"] == "queued":
        batch.update(
            status="cancelled",
            cancelling_at=call.created,
            cancelled_at=call.created,
            request_counts={"processing": 0, "succeeded": 0, "errored": 0},
        )
        state["outputs"], state["errors"] = [], []
        return Reply(body=dumps(batch))
    raise ApiError("VALIDATION_4005", 400, f"Batch '{batch['id']}' is already {batch['status']}")
