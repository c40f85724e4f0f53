"""LangChain: ``instrument(rec, model)`` for ``ChatOpenAI``, ``OpenAIEmbeddings`` and ``ChatAnthropic``.

::

    from melious_impact.integrations.langchain import instrument
    llm = instrument(rec, ChatOpenAI(model="glm-4.7", base_url=MELIOUS_V1, api_key=KEY))

Sync, async, streaming and batch calls of the model are then captured. What it does:

- A model built with your own ``http_client=`` / ``http_async_client=`` (langchain-openai)
  gets that client instrumented in place (it is yours).
- Otherwise the model's SDK clients are replaced by copies over HTTP clients of their own
  made by the recorder. Both packages cache one default HTTP client per base URL and timeout,
  shared by every model instance with those settings: instrumenting it would make every
  other instance capture too (into this recorder, with its tags). ``ChatAnthropic`` takes no
  HTTP client at all (an ``http_client`` argument breaks its calls); its SDK clients are the
  ``_client``/``_async_client`` cached properties, which this sets on the instance.
- ``ChatOpenAI`` streams carry token counts only with ``stream_usage=True``, which
  langchain-openai turns on by itself only for OpenAI's own URL: ``instrument`` sets it
  when you left it unset (``stream_usage=False`` to keep it off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from melious_impact.integrations._clients import own_copy

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.recorder import Recorder

_M = TypeVar("_M")


def instrument(rec: Recorder, model: _M, *, stream_usage: bool = True) -> _M:
    """Capture every call of a LangChain OpenAI or Anthropic model; returns ``model``."""
    m: Any = model
    if hasattr(m, "root_client") and hasattr(m, "root_async_client"):
        _chat_openai(rec, m, stream_usage)
    elif hasattr(m, "check_embedding_ctx_length") and hasattr(m, "client"):
        _openai_embeddings(rec, m)
    elif (
        hasattr(type(m), "_client") and hasattr(type(m), "_async_client") and hasattr(m, "anthropic_api_url")
    ):
        proxy = getattr(m, "anthropic_proxy", None)
        vars(m)["_client"] = own_copy(rec, m._client, proxy=proxy)
        vars(m)["_async_client"] = own_copy(rec, m._async_client, proxy=proxy)
    else:
        raise TypeError(
            "melious_impact.integrations.langchain.instrument takes ChatOpenAI, OpenAIEmbeddings or "
            f"ChatAnthropic, got {type(model).__name__}"
        )
    return model


def _chat_openai(rec: Recorder, m: Any, stream_usage: bool) -> None:
    # (SDK client, the http client the user gave it, the chat resource the model calls): sync, async
    for root, http, resource in (
        ("root_client", "http_client", "client"),
        ("root_async_client", "http_async_client", "async_client"),
    ):
        client = getattr(m, root)
        if client is None:
            continue
        if getattr(m, http) is not None:
            rec.instrument(client)
        else:
            client = own_copy(rec, client, proxy=m.openai_proxy)
            setattr(m, root, client)
            setattr(m, resource, client.chat.completions)
    if stream_usage and m.stream_usage is None:
        m.stream_usage = True


def _openai_embeddings(rec: Recorder, m: Any) -> None:
    # The model keeps the SDK's embeddings resources; their ``_client`` is the SDK client.
    for resource, http in (("client", "http_client"), ("async_client", "http_async_client")):
        embeddings = getattr(m, resource)
        if embeddings is None:
            continue
        if getattr(m, http) is not None:
            rec.instrument(embeddings._client)
        else:
            setattr(m, resource, own_copy(rec, embeddings._client, proxy=m.openai_proxy).embeddings)
