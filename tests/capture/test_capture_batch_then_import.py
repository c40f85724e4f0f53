"""Batch lines downloaded through a recorder and then imported from the file count once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx2
from openai import OpenAI

import melious_impact as mi
from melious_impact.emulator import Emulator, make_transport


def test_downloaded_then_imported_lines_count_once(tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "store")
    rec = mi.Recorder(store)
    http = httpx2.Client(transport=rec.transport(make_transport(Emulator(seed=2), "httpx2")))
    oa = OpenAI(base_url="http://emulator.local/v1", api_key="sk-test", http_client=http, max_retries=0)
    lines = "\n".join(
        json.dumps(
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]},
            }
        )
        for i in range(3)
    )
    f = oa.files.create(file=("in.jsonl", io.BytesIO(lines.encode())), purpose="batch")
    batch = oa.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = oa.batches.retrieve(batch.id)
    assert done.output_file_id
    data = oa.files.content(done.output_file_id).content  # captured: 3 rows
    rec.flush()
    assert len(store) == 3
    assert mi.import_batch_output(store, data) == 0
    assert mi.import_batch_output(store, data, batch_id=batch.id) == 0
    assert len(store) == 3
    assert set(store.to_pandas()["custom_id"]) == {"r0", "r1", "r2"}
    rec.close()
