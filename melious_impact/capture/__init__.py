"""Capture: transports for httpx and httpx2 that record every Melious response as a row.

One response's way, one module per step::

    adapters (recording transport, stream) -> pipeline (begin, attach, emit)
      -> exchange (body bytes to parse, row finished) -> parse -> RowSink (the store's writer)

- :mod:`.recorder`: :class:`Recorder`, the public face (clients, ``instrument()``,
  ``transport()``, ``flush``, ``close``, ``stats``).
- :mod:`.pipeline`: the parts and the small typed interfaces between them (row sink,
  error callback, clock).
- :mod:`.exchange`: the library-agnostic core of one request/response.
- :mod:`.adapters`: thin per-library recording streams and transport wrappers.
- :mod:`.wire`: what is read from httpx/httpx2 request and response objects.
- :mod:`.tags`: :func:`tags` / :func:`current_tags` on contextvars.
- :mod:`.batch_file`: batch output files (JSONL) into rows, the way that skips the transport.
"""

from melious_impact.capture.recorder import Recorder, RecorderStats
from melious_impact.capture.tags import current_tags, tags

__all__ = ["Recorder", "RecorderStats", "current_tags", "tags"]
