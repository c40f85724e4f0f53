"""DSPy through integrations.dspy.lm (its LiteLLM engine), against the emulator's loopback
server: a sync call, an async call, a streamed program, tags; and the native engine's trap."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest
from integration_support import LITELLM_WARNING_FILTERS, rows, tags_of, warnings_of

from melious_impact.capture.instrument import InstrumentWarning
from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.integrations import dspy as mi_dspy
from melious_impact.store.impact_store import ImpactStore

dspy = pytest.importorskip("dspy")

pytestmark = LITELLM_WARNING_FILTERS


def make(rec: Recorder, url: str) -> Any:
    return mi_dspy.lm(rec, "openai/glm-4.7:eco", api_base=url + "/v1", api_key="k", cache=False)


def test_sync_async_and_streamed_program(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    lm = make(rec, base_url)
    assert mi_dspy.check(lm)
    with tags(feature="dspy"):
        out = lm("say hello")
        assert out and isinstance(out[0], str)

    async def main() -> None:
        with tags(feature="dspy-async"):
            await lm.acall("say hello")
            program = dspy.streamify(dspy.Predict("question -> answer"))
            # The emulator's filler text has none of DSPy's field markers, so the program
            # cannot parse an answer; the streamed requests are made all the same.
            with dspy.context(lm=lm), pytest.raises(dspy.utils.exceptions.AdapterParseError):
                async for _ in program(question="why?"):
                    pass

    asyncio.run(main())
    df = rows(store)
    assert len(df) == len(lm.history) >= 3
    assert df["impact_reported"].all() and (df["flavor"] == "eco").all()
    assert list(df["stream"])[:3] == [False, False, True]
    # DSPy's streams do not ask for usage: tokens null, and the row says why
    # (Recorder(include_usage=True) asks for it; see the integrations page).
    assert df.loc[:1, "output_tokens"].notna().all() and pd.isna(df.loc[2, "output_tokens"])
    assert "stream_no_usage" in warnings_of(df.loc[2])
    assert [tags_of(r)["feature"] for _, r in df.iterrows()] == ["dspy"] + ["dspy-async"] * (len(df) - 1)
    usage = lm.history[0]["usage"]
    assert df.loc[0, "output_tokens"] == usage["completion_tokens"]


def test_the_native_engine_is_not_captured_and_check_says_so(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    mi_dspy.lm(rec, "openai/glm-4.7", api_base=base_url + "/v1", api_key="k")  # installs capture
    native = dspy.LM("openai/glm-4.7", api_base=base_url + "/v1", api_key="k", cache=False)
    with pytest.warns(InstrumentWarning, match="native engine"):
        assert not mi_dspy.check(native)
    native("say hello")
    assert len(rows(store)) == 0  # DSPy's own HTTP code: what the check warns about
    with pytest.raises(ValueError, match="LiteLLM engine"):
        mi_dspy.lm(rec, "openai/glm-4.7", engine="auto")
