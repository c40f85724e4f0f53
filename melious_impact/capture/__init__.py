"""Capture: transports for httpx and httpx2 that record every Melious response as a row.

- :mod:`.recorder`: :class:`Recorder` (clients, ``transport()``, ``flush``, ``close``, ``stats``).
- :mod:`.tags`: :func:`tags` / :func:`current_tags` on contextvars.
- :mod:`.exchange`: the library-agnostic core of one request/response.
- :mod:`.adapters`: thin per-library recording streams and transport wrappers.
- :mod:`.wire`: what is read from httpx/httpx2 request and response objects.
"""

from melious_impact.capture.recorder import Recorder, RecorderStats
from melious_impact.capture.tags import current_tags, tags

__all__ = ["Recorder", "RecorderStats", "current_tags", "tags"]
