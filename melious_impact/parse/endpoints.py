"""Which requests are inference calls (one row each) and which are not.

Paths are matched on their tail so that a base URL with a prefix (a gateway mounting
the API under ``/melious/v1``, or the Anthropic SDK's bare root) classifies the same.
Non-inference calls (model lists, files and batches CRUD, ``count_tokens``) produce no
row. ``GET .../files/{id}/content`` is a batch output download: its JSONL lines become
rows when the file turns out to be batch *output* (an input file does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    MESSAGES = "messages"
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"
    IMAGES = "images"
    SPEECH = "speech"
    TRANSCRIPTIONS = "transcriptions"
    BATCH_OUTPUT = "batch_output"
    #: An unrecognised POST: recorded only if its body turns out to carry
    #: environment_impact or billing_cost (e.g. priced kit endpoints).
    OTHER = "other"
    NONE = "none"


#: Kinds whose usage has no output side: a lone total_tokens is the input.
INPUT_ONLY = frozenset({Kind.EMBEDDINGS, Kind.RERANK})


@dataclass(frozen=True)
class Endpoint:
    kind: Kind
    #: For BATCH_OUTPUT, the file id in the path.
    file_id: str | None = None

    @property
    def records(self) -> bool:
        return self.kind is not Kind.NONE

    @property
    def input_only(self) -> bool:
        return self.kind in INPUT_ONLY


_POST_TAILS: tuple[tuple[str, Kind], ...] = (
    ("/chat/completions", Kind.CHAT),
    ("/messages", Kind.MESSAGES),
    ("/embeddings", Kind.EMBEDDINGS),
    ("/rerank", Kind.RERANK),
    ("/images/generations", Kind.IMAGES),
    ("/images/edits", Kind.IMAGES),
    ("/images/variations", Kind.IMAGES),
    ("/audio/speech", Kind.SPEECH),
    ("/audio/transcriptions", Kind.TRANSCRIPTIONS),
    ("/audio/translations", Kind.TRANSCRIPTIONS),
    ("/completions", Kind.COMPLETIONS),
)

# Known non-inference paths; any method on them produces no row.
_NON_INFERENCE = re.compile(
    r"/(models|files|batches|vector_stores|uploads|fine_tuning|assistants|threads|tools|mcp)(/|$)"
    r"|/messages/count_tokens$|/messages/batches(/|$)|/chat/completions/[^/]+"
)
_FILE_CONTENT = re.compile(r"/files/([^/]+)/content$")

_NONE = Endpoint(Kind.NONE)
_cache: dict[tuple[str, str], Endpoint] = {}
_CACHE_MAX = 4096


def classify(method: str, path: str) -> Endpoint:
    """The endpoint kind of a request (``path`` without query string)."""
    key = (method, path)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    result = _classify(method.upper(), path.rstrip("/") or "/")
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()  # paths with ids (files/{id}/content) would grow it forever
    _cache[key] = result
    return result


def _classify(method: str, path: str) -> Endpoint:
    if method == "GET":
        m = _FILE_CONTENT.search(path)
        if m:
            return Endpoint(Kind.BATCH_OUTPUT, m.group(1))
        return _NONE
    if method != "POST":
        return _NONE
    if _NON_INFERENCE.search(path):
        return _NONE
    for tail, kind in _POST_TAILS:
        if path.endswith(tail):
            return Endpoint(kind)
    return Endpoint(Kind.OTHER)
