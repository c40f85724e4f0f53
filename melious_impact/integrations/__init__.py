"""Capture through the libraries people call Melious with: one line each.

Each submodule imports its library only when used; none is imported here.

| library | one line |
|---|---|
| OpenAI / Anthropic SDK client | ``rec.instrument(client)`` |
| LangChain (ChatOpenAI, OpenAIEmbeddings, ChatAnthropic) | ``langchain.instrument(rec, model)`` |
| LiteLLM (``openai/`` and ``anthropic/`` routes) | ``litellm.install(rec)`` |
| DSPy | ``dspy.install(rec)`` (LiteLLM engine) |
| pydantic-ai, instructor, OpenAI Agents SDK, LlamaIndex | ``rec.instrument(client)`` on the client they take |
| requests | ``session.mount(url, requests.RecordingAdapter(rec))`` |
| a callback carrying the response | ``rec.record_response(obj)`` |

See the integrations page of the documentation for each library's traps.
"""

from __future__ import annotations

from melious_impact.capture.instrument import InstrumentWarning, is_instrumented

__all__ = ["InstrumentWarning", "is_instrumented"]
