"""Which requests are inference calls."""

from __future__ import annotations

import pytest

from melious_impact.parse.endpoints import Kind, classify


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/v1/chat/completions", Kind.CHAT),
        ("POST", "/gateway/melious/v1/chat/completions/", Kind.CHAT),
        ("POST", "/v1/messages", Kind.MESSAGES),
        ("POST", "/v1/embeddings", Kind.EMBEDDINGS),
        ("POST", "/v1/rerank", Kind.RERANK),
        ("POST", "/v1/images/generations", Kind.IMAGES),
        ("POST", "/v1/audio/speech", Kind.SPEECH),
        ("POST", "/v1/audio/transcriptions", Kind.TRANSCRIPTIONS),
        ("POST", "/v1/completions", Kind.COMPLETIONS),
        ("POST", "/v1/documents/convert", Kind.OTHER),
        ("GET", "/v1/files/file-abc/content", Kind.BATCH_OUTPUT),
        ("POST", "/v1/messages/count_tokens", Kind.NONE),
        ("GET", "/v1/models", Kind.NONE),
        ("GET", "/v1/models/glm-4.7", Kind.NONE),
        ("POST", "/v1/files", Kind.NONE),
        ("GET", "/v1/files", Kind.NONE),
        ("GET", "/v1/files/file-abc", Kind.NONE),
        ("DELETE", "/v1/files/file-abc", Kind.NONE),
        ("POST", "/v1/batches", Kind.NONE),
        ("GET", "/v1/batches/batch_1", Kind.NONE),
        ("POST", "/v1/batches/batch_1/cancel", Kind.NONE),
        ("GET", "/v1/chat/completions", Kind.NONE),
        ("POST", "/v1/chat/completions/chatcmpl-1", Kind.NONE),
        ("POST", "/v1/vector_stores", Kind.NONE),
        ("POST", "/v1/tools/web-search/execute", Kind.NONE),
        ("POST", "/v1/messages/batches", Kind.NONE),
    ],
)
def test_classify(method: str, path: str, kind: Kind) -> None:
    ep = classify(method, path)
    assert ep.kind is kind
    assert ep.records is (kind is not Kind.NONE)


def test_batch_output_file_id_and_input_only() -> None:
    assert classify("GET", "/v1/files/file-xyz/content").file_id == "file-xyz"
    assert classify("POST", "/v1/embeddings").input_only
    assert classify("POST", "/v1/rerank").input_only
    assert not classify("POST", "/v1/chat/completions").input_only
