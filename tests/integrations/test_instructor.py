"""instructor over an instrumented OpenAI client, against the emulator's loopback server.

instructor 1.17 pins jiter below what the OpenAI 3.x SDK of our ``sdk`` extra needs, so this
runs in the separate compat environment that ``.ci/run`` builds (OpenAI SDK 2.x); elsewhere
it is skipped.
"""

from __future__ import annotations

import asyncio

import openai
import pydantic
import pytest
from integration_support import rows, tags_of

from melious_impact.capture.instrument import is_instrumented
from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

instructor = pytest.importorskip("instructor")
from instructor.v2.core.errors import InstructorRetryException  # noqa: E402

M = [{"role": "user", "content": "name a city"}]


class City(pydantic.BaseModel):
    name: str


def test_openai_sdk_2_keeps_its_httpx_client_in_client_attribute(rec: Recorder, base_url: str) -> None:
    # The compat environment's OpenAI SDK major version: what instrument() reaches there.
    import httpx

    assert openai.__version__.split(".")[0] == "2"
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k")
    assert isinstance(client._client, httpx.Client)
    assert not is_instrumented(client)
    assert is_instrumented(rec.instrument(client), rec)
    client.close()


def test_structured_calls_and_their_retries_are_rows(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    client = instructor.from_openai(rec.instrument(openai.OpenAI(base_url=base_url + "/v1", api_key="k")))
    with tags(feature="instructor"):
        raw = client.chat.completions.create(model="glm-4.7", messages=M, response_model=None)
        # The emulator answers in prose, so validation fails and instructor retries: every
        # attempt is a billed request, and a row.
        with pytest.raises(InstructorRetryException):
            client.chat.completions.create(model="glm-4.7", messages=M, response_model=City, max_retries=2)
        for _ in client.chat.completions.create(
            model="glm-4.7", messages=M, response_model=None, stream=True
        ):
            pass
    df = rows(store)
    # One plain call, three attempts (the first and max_retries=2 more), one stream.
    assert df.loc[0, "request_id"] == raw.id and len(df) == 5
    assert list(df["stream"]) == [False] * 4 + [True] and df["impact_reported"].all()
    assert all(tags_of(r) == {"feature": "instructor"} for _, r in df.iterrows())


def test_async(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    async def main() -> None:
        aclient = rec.instrument(openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="k"))
        client = instructor.from_openai(aclient)
        await client.chat.completions.create(model="glm-4.7", messages=M, response_model=None)
        await aclient.close()

    asyncio.run(main())
    assert len(rows(store)) == 1
