"""DSPy: ``lm(rec, model, **kwargs)`` builds a ``dspy.LM`` whose calls are captured.

::

    from melious_impact.integrations import dspy as mi_dspy
    lm = mi_dspy.lm(rec, "openai/glm-4.7", api_base=MELIOUS_V1, api_key=KEY)
    dspy.configure(lm=lm)

DSPy 3.4's default engine (``engine="auto"``) sends an OpenAI-compatible model with an
``api_base`` through its native engine, which does its own HTTP over sockets: no HTTP
client of ours can be put under it, and a recorder sees nothing (0 rows). Its LiteLLM
engine goes through LiteLLM's clients, which :func:`melious_impact.integrations.litellm.install`
captures. ``lm`` therefore builds the LM with ``engine="litellm"`` and installs the LiteLLM
capture; :func:`check` warns about an LM built otherwise.

Calls answered from DSPy's cache (``cache=True``, its default) make no request: Melious
bills nothing and no row is written, as it should be.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from melious_impact.capture.instrument import InstrumentWarning
from melious_impact.integrations import litellm as _litellm

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.recorder import Recorder


def lm(rec: Recorder, model: str, **kwargs: Any) -> Any:
    """A ``dspy.LM`` on the LiteLLM engine, with LiteLLM captured into ``rec``."""
    import dspy

    engine = kwargs.pop("engine", "litellm")
    if engine != "litellm":
        raise ValueError(
            f"engine={engine!r}: only DSPy's LiteLLM engine makes requests a recorder can capture"
        )
    _litellm.install(rec)
    return dspy.LM(model, engine="litellm", **kwargs)


def check(model: Any) -> bool:
    """True when ``model`` (a ``dspy.LM``) makes its requests through LiteLLM; warns if not."""
    from dspy.clients.backend_selection import select_backend

    try:
        native = bool(select_backend(model).native)
    except TypeError:  # a custom engine object: its own connection
        native = True
    if native:
        warnings.warn(
            f"this dspy.LM ({getattr(model, 'model', model)!r}) uses DSPy's native engine, which makes "
            "its own HTTP requests: nothing of it is captured. Build it with "
            "melious_impact.integrations.dspy.lm(rec, ...) or engine='litellm'.",
            InstrumentWarning,
            stacklevel=2,
        )
    return not native
