"""`model` names the model, not the route: a flavor suffix goes to its own column.

Endpoints whose responses carry no `model` (images, transcriptions, speech) fall back to the
requested name; the suffix must not leak into `model`, or the intensity fit and every
per-model breakdown would split one model into several."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pandas as pd
from openai import OpenAI

import melious_impact as mi
from melious_impact.emulator import Emulator, make_transport


def test_flavor_suffix_is_split_off_for_every_endpoint(tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "store")
    rec = mi.Recorder(store, tags={"team": "t"})
    http = httpx2.Client(transport=rec.transport(make_transport(Emulator(seed=1), "httpx2")))
    oa = OpenAI(base_url="http://emulator.local/v1", api_key="sk-test", http_client=http, max_retries=0)

    oa.images.generate(model="flux-schnell:price", prompt="a lighthouse", n=1, size="1024x1024")
    oa.chat.completions.create(model="glm-4.7:eco", messages=[{"role": "user", "content": "hello"}])
    oa.embeddings.create(model="bge-m3", input=["plain, no flavor"])
    rec.flush()

    rows = store.to_pandas().set_index("endpoint")
    image = rows.loc["/v1/images/generations"]
    assert (image["model"], image["flavor"], image["requested_model"]) == (
        "flux-schnell",
        "price",
        "flux-schnell:price",
    )
    chat = rows.loc["/v1/chat/completions"]
    assert (chat["model"], chat["flavor"]) == ("glm-4.7", "eco")
    emb = rows.loc["/v1/embeddings"]
    assert emb["model"] == "bge-m3" and pd.isna(emb["flavor"])
    rec.close()


def test_calls_after_close_pass_through_and_count_as_dropped(tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "store")
    rec = mi.Recorder(store)
    http = httpx2.Client(transport=rec.transport(make_transport(Emulator(seed=1), "httpx2")))
    oa = OpenAI(base_url="http://emulator.local/v1", api_key="sk-test", http_client=http, max_retries=0)
    msgs = [{"role": "user", "content": "x"}]
    oa.chat.completions.create(model="glm-4.7", messages=msgs)  # type: ignore[arg-type]
    rec.close()
    reply = oa.chat.completions.create(model="glm-4.7", messages=msgs)  # type: ignore[arg-type]
    assert reply.choices  # the caller is served as before
    oa.models.list()  # not an inference call: nothing lost
    assert (rec.stats.captured, rec.stats.dropped) == (1, 1)
    assert len(mi.ImpactStore(tmp_path / "store")) == 1
